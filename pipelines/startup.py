"""Start-up imports without the cyclic garbage collector.

A Dagster process's imports (Dagster's storage, Polars, Arrow, DuckDB, sqlglot, our assets)
build a few hundred thousand objects that live as long as the process, and the collector
walks them again and again while they are being built: 0.2 s of the 0.8 s of imports behind
the instance of a `dagster job execute` (3 full collections; bench/README.md, "Round 8").
Paused while those imports run, and what they built frozen after (out of every later
collection's reach: it is never garbage). The price: the few thousand cyclic objects the
imports dropped (~8,000, 1-2 MB) are frozen too instead of freed.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block (a module's imports) with the collector off, then freeze what exists and
    restore the collector as it was (nested blocks leave it off until the outermost ends)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()
