"""The `soracom-lake` command: one entry point, one subcommand per job.

Each subcommand lives in its own module and exposes `add_arguments(parser)` and
`run(args) -> int`; modules are imported only when their subcommand runs, so
`soracom-lake sandbox` does not pay for importing Dagster.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

# subcommand -> (module, one-line help)
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "sandbox": ("sandbox.cli", "serve the local Soracom API sandbox"),
    "demo": ("pipelines.demo", "run the whole pipeline against a fresh sandbox and print a summary"),
    "report": ("pipelines.report", "print a usage and cost report from the DuckDB catalog"),
    "models": (
        "pipelines.models_cli",
        "build the SQL models over the lake (only changed partitions; --full-refresh: all)",
    ),
    "catalog": (
        "pipelines.catalog_cli",
        "rebuild the DuckDB catalog over a lake, or print Trino/Athena/Spark DDL",
    ),
}


def _available() -> dict[str, tuple[str, str]]:
    found = {}
    for name, (module, help_text) in SUBCOMMANDS.items():
        if importlib.util.find_spec(module) is not None:
            found[name] = (module, help_text)
    return found


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = _available()
    parser = argparse.ArgumentParser(prog="soracom-lake", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Build only the parser of the chosen subcommand, so help stays cheap.
    chosen = argv[0] if argv and argv[0] in commands else None
    modules = {}
    for name, (module_name, help_text) in commands.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == chosen:
            modules[name] = importlib.import_module(module_name)
            modules[name].add_arguments(p)
    args = parser.parse_args(argv)
    return int(modules[args.command].run(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
