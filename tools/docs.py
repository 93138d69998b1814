"""Write the generated tables of README.md from their single definitions.

    python -m tools.docs          # rewrite the tables in README.md
    python -m tools.docs --check  # exit 1 if README.md is out of step (tests/test_docs.py)

Settings come from `pipelines/settings.py` (`SETTINGS`), source tables from the registry
(`assets/tables.py`). Each table sits between `<!-- NAME:begin -->` and `<!-- NAME:end -->`.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

README = Path(__file__).resolve().parent.parent / "README.md"


def _settings() -> str:
    from pipelines import settings

    return settings.markdown_table()


def _sources() -> str:
    from assets.tables import markdown_table

    return markdown_table()


TABLES: dict[str, Callable[[], str]] = {"settings": _settings, "sources": _sources}


def render(text: str) -> str:
    """`text` with every generated table replaced by its current content."""
    for name, make in TABLES.items():
        pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"README.md has no <!-- {name}:begin --> ... <!-- {name}:end --> block")
        text = pattern.sub(lambda m, make=make: m.group(1) + make() + "\n" + m.group(2), text)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that README.md is in step")
    args = parser.parse_args(argv)
    old = README.read_text()
    new = render(old)
    if args.check:
        if new != old:
            print("README.md is out of step with its definitions: run python -m tools.docs")
            return 1
        print("README.md tables are in step")
        return 0
    README.write_text(new)
    print("README.md tables " + ("rewritten" if new != old else "already in step"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
