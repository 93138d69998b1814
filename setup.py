"""Build hook only (the metadata is in pyproject.toml): the wheel carries the SQL models.

`sql/` sits at the top of the repository, outside any package; `build_py` copies it into the
wheel as `pipelines/_sql`, where `pipelines.packaged.sql_dir()` finds it once installed.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py


class BuildWithSql(build_py):
    def run(self) -> None:
        super().run()
        source = Path(__file__).resolve().parent / "sql"
        target = Path(self.build_lib) / "pipelines" / "_sql"
        shutil.copytree(source, target, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))


setup(cmdclass={"build_py": BuildWithSql})
