"""Files the package reads at run time, found the same way in a source checkout and in a wheel.

The SQL models live in `sql/` at the top of the repository (where analysts edit them); a wheel
carries a copy as `pipelines/_sql` (setup.py copies it at build time), so an installed package
never looks for a folder next to site-packages.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
PACKAGED_SQL = PACKAGE / "_sql"
CHECKOUT_SQL = PACKAGE.parent / "sql"


def sql_dir() -> Path:
    """The SQL models folder: the checkout's `sql/` (editable installs, tests) or the wheel's copy."""
    for candidate in (CHECKOUT_SQL, PACKAGED_SQL):
        if (candidate / "marts").is_dir():
            return candidate
    raise FileNotFoundError(
        f"no SQL models folder: neither {CHECKOUT_SQL} (a source checkout) nor {PACKAGED_SQL} (an "
        "installed wheel) exists; reinstall the package (`pip install soracom-lake`)"
    )
