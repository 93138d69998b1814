"""The installable package (issue 11): a wheel built from this source carries the SQL models, the
Dagster instance template and everything else it reads, and works from a folder outside the
repository: `soracom-lake demo`, `soracom-lake report`, `dagster definitions validate`.

The wheel goes into a fresh venv with `--no-deps`; its dependencies come from this test run's
environment through a `.pth` line (installing dagster and friends again would take minutes and
prove nothing about the wheel). That path holds no copy of this project: the dev install is
editable and its finder is not loaded from a `.pth`-added folder, which the test checks by
asserting where `pipelines` is imported from.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(
    ".venv", ".git", "data", "build", "dist", "*.egg-info", "__pycache__", ".pytest_cache", ".ruff_cache"
)


def run(command: list[str], cwd: Path, env: dict[str, str], timeout: float = 600) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, (
        f"{command} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    )
    return result.stdout + result.stderr


def test_the_wheel_carries_its_files_and_runs_outside_the_repository(tmp_path):
    source = tmp_path / "source"
    shutil.copytree(REPO, source, ignore=SKIP)  # a clean tree: no stale build/ can leak into the wheel
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SORACOM_", "DAGSTER_"))}
    env.pop("PYTHONPATH", None)
    wheels = tmp_path / "wheels"
    run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(source)],
        tmp_path,
        env,
    )
    (wheel,) = wheels.glob("soracom_lake-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    repo_sql = sorted(p.relative_to(REPO / "sql").as_posix() for p in (REPO / "sql").rglob("*.sql"))
    assert sorted(n.removeprefix("pipelines/_sql/") for n in names if n.endswith(".sql")) == repo_sql
    assert "pipelines/dagster_instance.yaml" in names
    seeds = sorted(p.name for p in (REPO / "sql" / "seeds").glob("*.csv"))
    assert seeds and all(f"pipelines/_sql/seeds/{name}" in names for name in seeds)

    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", str(venv)], tmp_path, env)
    python = venv / "bin" / "python"
    site = Path(
        run(
            [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], tmp_path, env
        ).strip()
    )
    (site / "_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    run([str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)], tmp_path, env)

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    where = run([str(python), "-c", "import pipelines; print(pipelines.__file__)"], elsewhere, env)
    assert where.strip().startswith(str(site)), where
    demo = run([str(venv / "bin" / "soracom-lake"), "demo", "--sims", "50", "--days", "1"], elsewhere, env)
    print(demo[-1500:])
    assert (elsewhere / "data" / "soracom.duckdb").exists()
    assert "FAILED" not in demo
    report = run([str(venv / "bin" / "soracom-lake"), "report"], elsewhere, env)
    print(report[:600])
    assert "Soracom usage and cost report" in report
    validate = run(
        [str(python), "-m", "dagster", "definitions", "validate", "-m", "pipelines.definitions"],
        elsewhere,
        env,
    )
    print(validate[-400:])
    assert "Validation successful" in validate
