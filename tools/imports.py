"""Cross-package imports of the project, and the ones that go the wrong way.

    python -m tools.imports            # table of imports between layers, then the backward ones
    python -m tools.imports --check    # exit 1 if any import goes back up (CI: tests/test_imports.py)

Layers, top to bottom: the Dagster definitions (`pipelines.*`: jobs, schedules, sensors,
definitions, demo, CLI, report) > the assets (`assets.*`) > the settings (`pipelines.settings`,
and `pipelines.packaged`, which finds the files the package reads)
> the client (`pipelines.soracom`) and the lake (`pipelines.lake`), which know nothing of each
other. Production code imports neither tests, benchmarks, test helpers (`testkit`, which tests
and benchmarks share) nor `sandbox.testing`; benchmarks do not import tests.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("pipelines", "assets", "sandbox", "tests", "bench", "testkit", "tools")
# Production layers, top first: a module may import its own layer or lower ones only.
RANK = {"definitions": 4, "assets": 3, "settings": 2, "client": 1, "lake": 1}


def layer_of(module: str) -> str | None:
    """The layer of a dotted module name, or None when it is not the project's."""
    parts = module.split(".")
    top = parts[0]
    if top not in PACKAGES:
        return None
    if top == "pipelines":
        second = parts[1] if len(parts) > 1 else ""
        base = {"soracom": "client", "lake": "lake", "settings": "settings", "packaged": "settings"}
        return base.get(second, "definitions")
    if top == "sandbox" and len(parts) > 1 and parts[1] == "testing":
        return "sandbox.testing"
    return top


@dataclass(frozen=True)
class Import:
    path: str
    line: int
    source: str  # layer of the importing module
    target: str  # layer of the imported module
    module: str

    @property
    def backward(self) -> bool:
        if self.source in RANK and self.target in RANK:
            same_rank_other = RANK[self.source] == RANK[self.target] and self.source != self.target
            return RANK[self.target] > RANK[self.source] or same_rank_other
        if self.source in RANK:
            return self.target in {"tests", "bench", "testkit", "tools", "sandbox.testing"}
        if self.source == "sandbox":  # the sandbox is a product too (`soracom-lake sandbox`)
            return self.target in {"tests", "bench", "testkit", "tools"}
        return self.source == "bench" and self.target == "tests"


def _module_of(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imported(tree: ast.AST, module: str, is_package: bool) -> Iterator[tuple[int, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing module's package
                parts = module.split(".")
                base = parts[: len(parts) - node.level + (1 if is_package else 0)]
                name = ".".join([*base, node.module] if node.module else base)
            else:
                name = node.module or ""
            if name in PACKAGES:  # `from pipelines import settings` imports pipelines.settings
                for alias in node.names:
                    yield node.lineno, f"{name}.{alias.name}"
            else:
                yield node.lineno, name


def cross_imports(root: Path = ROOT) -> list[Import]:
    """Every import from one layer into another, anywhere in the project's packages."""
    found: dict[tuple[str, int, str], Import] = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")) if (root / package).is_dir() else []:
            if ".venv" in path.parts:
                continue
            module = _module_of(path, root)
            source = layer_of(module)
            tree = ast.parse(path.read_text(), str(path))
            for line, name in _imported(tree, module, path.name == "__init__.py"):
                target = layer_of(name)
                if source is None or target is None or target == source:
                    continue
                rel = str(path.relative_to(root))
                key = (rel, line, target)
                found.setdefault(key, Import(rel, line, source, target, name))
    return sorted(found.values(), key=lambda i: (i.path, i.line))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.imports", description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if any import goes the wrong way")
    parser.add_argument("--root", type=Path, default=ROOT, help="project root to scan (default: this one)")
    args = parser.parse_args(argv)
    imports = cross_imports(args.root)
    counts = Counter((i.source, i.target) for i in imports)
    print("imports between layers (importing -> imported: statements)")
    for (source, target), n in sorted(counts.items()):
        mark = (
            "  BACKWARD"
            if any(i.backward for i in imports if (i.source, i.target) == (source, target))
            else ""
        )
        print(f"  {source:>16} -> {target:<16} {n:4}{mark}")
    backward = [i for i in imports if i.backward]
    print(f"\n{len(backward)} backward import(s)")
    for i in backward:
        print(f"  {i.path}:{i.line}: {i.source} imports {i.module} ({i.target})")
    return 1 if args.check and backward else 0


if __name__ == "__main__":
    sys.exit(main())
