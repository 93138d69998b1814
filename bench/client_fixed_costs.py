"""The client's fixed costs, this tree against a git revision's `pipelines/soracom`, in one run:
the seconds of `open()` (connection pools and their TLS contexts, one `/auth`) and of one
small async export (start, polls until the file is ready, download), against a sandbox child
process whose exports stay `processing` for `--export-delay-s` (0.5 s by default, as the
sandbox's). Rounds alternate between the two clients; medians are printed.

    .venv/bin/python -m bench.client_fixed_costs --ref 6d08619 --rounds 5

Each client opens once before the rounds, as a run's first client does: this tree builds its
one TLS context then (per process), so the rounds show what every further client costs.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import ModuleType

from bench.client_calls import load_revision

NOW = datetime(2026, 11, 30, tzinfo=UTC)


async def _round(
    package: ModuleType, url: str, credentials: dict[str, str], exports: int
) -> tuple[float, float]:
    """Seconds of one `open()` and the median seconds of `exports` one-day usage exports."""
    creds = package.Credentials.auth_key_pair(credentials["authKeyId"], credentials["authKey"])
    client = package.SoracomClient(creds, endpoint=url, settings=package.ClientSettings())
    started = time.perf_counter()
    await client.open()
    opened = time.perf_counter() - started
    try:
        end = NOW - timedelta(seconds=1)
        seconds = []
        for _ in range(exports):
            started = time.perf_counter()
            await client.export_air_usage(end - timedelta(days=1), end, "day")
            seconds.append(time.perf_counter() - started)
    finally:
        await client.aclose()
    return opened, statistics.median(seconds)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ref", default="HEAD", help="git revision to compare this tree with")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--exports", type=int, default=3, help="exports per round")
    parser.add_argument("--export-delay-s", type=float, default=0.5)
    args = parser.parse_args(argv)

    import pipelines.soracom as current
    from sandbox.process import start_sandbox_process

    with (
        tempfile.TemporaryDirectory() as tmp,
        start_sandbox_process(
            sims=50, now=NOW, rate_limit_per_minute=10_000_000, export_delay_s=args.export_delay_s
        ) as box,
    ):
        packages = {args.ref: load_revision(args.ref, Path(tmp)), "this tree": current}
        for package in packages.values():  # a run's first client: one-off costs
            asyncio.run(_round(package, box.url, box.credentials, 1))
        figures: dict[str, list[tuple[float, float]]] = {name: [] for name in packages}
        for _ in range(args.rounds):
            for name, package in packages.items():
                figures[name].append(asyncio.run(_round(package, box.url, box.credentials, args.exports)))
    delay = args.export_delay_s
    print(f"{args.rounds} rounds, {args.exports} exports each, sandbox export_delay_s={delay:g}")
    for name, rounds in figures.items():
        opened = statistics.median(o for o, _ in rounds)
        exported = statistics.median(e for _, e in rounds)
        print(f"{name}: open() {opened:.3f} s, one export {exported:.3f} s (medians)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
