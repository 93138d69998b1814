"""Write the generated tables of the docs from their single definitions.

    python -m tools.docs          # rewrite the tables in README.md and docs/ingestion.md
    python -m tools.docs --check  # exit 1 if one is out of step (tests/test_settings.py)

Settings come from `pipelines/settings.py` (`SETTINGS`), source tables from the registry
(`assets/tables.py`), the model tables of sql/README.md from the SQL files' first lines.
Each table sits between `<!-- NAME:begin -->` and `<!-- NAME:end -->`.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"


def _settings() -> str:
    from pipelines import settings

    return settings.markdown_table()


def _sources() -> str:
    from assets.tables import markdown_table

    return markdown_table()


def _models(layer: str) -> Callable[[], str]:
    def table() -> str:
        from assets.models import MODELS

        models = sorted((m for m in MODELS if m.layer == layer), key=lambda m: m.name)
        return "\n".join(
            ["| model | description |", "|---|---|", *(f"| `{m.name}` | {m.description} |" for m in models)]
        )

    return table


TABLES: dict[str, Callable[[], str]] = {
    "settings": _settings,
    "sources": _sources,
    "staging": _models("staging"),
    "marts": _models("marts"),
}
# file -> the tables it holds
FILES: dict[Path, tuple[str, ...]] = {
    README: ("settings", "sources"),
    ROOT / "docs" / "ingestion.md": ("sources",),
    ROOT / "sql" / "README.md": ("staging", "marts"),
}


def render(text: str, names: Sequence[str] = ("settings", "sources")) -> str:
    """`text` with each of the generated tables `names` replaced by its current content."""
    for name in names:
        make = TABLES[name]
        pattern = re.compile(rf"(<!-- {name}:begin -->\n).*?(<!-- {name}:end -->)", re.S)
        if not pattern.search(text):
            raise ValueError(f"no <!-- {name}:begin --> ... <!-- {name}:end --> block to fill")
        text = pattern.sub(lambda m, make=make: m.group(1) + make() + "\n" + m.group(2), text)
    return text


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.docs", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only check that README.md is in step")
    args = parser.parse_args(argv)
    stale = []
    for path, names in FILES.items():
        old = path.read_text()
        new = render(old, names)
        if new != old:
            stale.append(path.relative_to(ROOT))
            if not args.check:
                path.write_text(new)
    if args.check and stale:
        print(f"out of step with their definitions: {', '.join(map(str, stale))}: run python -m tools.docs")
        return 1
    print(f"rewrote {', '.join(map(str, stale))}" if stale and not args.check else "generated tables in step")
    return 0


if __name__ == "__main__":
    sys.exit(main())
