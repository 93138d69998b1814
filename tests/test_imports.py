"""Imports go one way: definitions > assets > settings > client | lake; production code never
imports tests, benchmarks, `testkit` or `sandbox.testing`; benchmarks never import tests.
The full table: `python -m tools.imports`."""

from __future__ import annotations

from pathlib import Path

from tools.imports import cross_imports, layer_of


def test_no_import_goes_back_up() -> None:
    backward = [f"{i.path}:{i.line} {i.module}" for i in cross_imports() if i.backward]
    assert backward == [], "imports against the layering (see python -m tools.imports)"


def test_the_checker_sees_a_backward_import(tmp_path: Path) -> None:
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "bad.py").write_text(
        "from pipelines.jobs import JOBS\nfrom pipelines import settings\n"
    )
    (tmp_path / "pipelines" / "lake").mkdir(parents=True)
    (tmp_path / "pipelines" / "lake" / "__init__.py").write_text(
        "from .views import x\nfrom pipelines.soracom import y\n"
    )
    found = {(i.path, i.module, i.backward) for i in cross_imports(tmp_path)}
    assert ("assets/bad.py", "pipelines.jobs", True) in found
    assert ("assets/bad.py", "pipelines.settings", False) in found
    assert ("pipelines/lake/__init__.py", "pipelines.soracom", True) in found  # the lake knows no Soracom
    assert layer_of("pipelines.lake.views") == "lake" and layer_of("sandbox.testing") == "sandbox.testing"
