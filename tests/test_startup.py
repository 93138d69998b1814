"""Start-up imports run with the garbage collector paused (pipelines/startup.py)."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

from pipelines.startup import collector_paused

REPO = Path(__file__).resolve().parent.parent

# Counts the collections made while the project's instance module is imported, in a fresh
# process: Dagster's CLI imported first, as `dagster job execute` does before the instance.
_COUNT_COLLECTIONS = """
import gc
import dagster._cli
collections = []
gc.callbacks.append(lambda phase, info: phase == "stop" and collections.append(info["generation"]))
import pipelines.slots
print(collections.count(2), len(collections), gc.isenabled())
"""


def test_a_paused_block_restores_the_collector_and_freezes_what_it_built() -> None:
    assert gc.isenabled()
    frozen = gc.get_freeze_count()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # an inner block leaves it off until the outermost ends
        kept = [object() for _ in range(1_000)]
    assert gc.isenabled()
    assert gc.get_freeze_count() > frozen and kept  # the block's objects are frozen


def test_the_instance_imports_draw_no_collection_and_leave_the_collector_on() -> None:
    """Fails without the pause: 2 full collections and ~270 younger ones (0.2 s in all) while
    the instance module imports."""
    done = subprocess.run(
        [sys.executable, "-c", _COUNT_COLLECTIONS], cwd=REPO, capture_output=True, text=True, check=True
    )
    full, _, enabled = done.stdout.split()
    assert (int(full), enabled) == (0, "True"), done.stdout
