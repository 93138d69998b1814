"""The OpenAPI contract ships with the repository, so no test depends on a machine's files."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from sandbox.openapi import SPEC_PATH, load_spec

ROOT = Path(__file__).resolve().parents[2]
TESTS = ROOT / "tests"
# an absolute path of a developer's machine, or a test skipped because something is missing
# (a platform skipif, e.g. POSIX permissions on Windows, is not about a missing file)
_MACHINE_PATH = re.compile(r"""["'](/work/|/home/|/Users/|/root/)""")
_SKIP = re.compile(r"pytest\.skip\(|pytest\.importorskip\(|skipif\(.*exists|mark\.skip\(")


def test_the_spec_and_its_licence_are_vendored_as_package_data() -> None:
    spec = load_spec()
    assert spec["openapi"].startswith("3.")
    assert "/sims" in spec["paths"]
    assert "MIT" in SPEC_PATH.with_name("LICENSE").read_text(encoding="utf-8")
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert {"soracom-api.en.yaml", "LICENSE"} <= set(package_data["sandbox.openapi"])


def test_no_test_skips_or_reads_a_path_of_one_machine() -> None:
    offenders = []
    for path in sorted(TESTS.rglob("*.py")):
        if path == Path(__file__).resolve():
            continue
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if _MACHINE_PATH.search(line) or _SKIP.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "tests must not skip or read a machine path:\n" + "\n".join(offenders)
