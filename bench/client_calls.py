"""Client CPU per API call: this tree's `pipelines/soracom` against a git revision's, in one run.

The other revision's `pipelines/soracom` is unpacked (`git archive`) into a temporary folder as
the package `soracom_ref` (the client imports only its own modules), so both clients run in
this one process against one sandbox child process, in alternating rounds. CPU is this
process's (`time.process_time`): the client's request path, rate limiter and JSON decoding,
not the server's.

    .venv/bin/python -m bench.client_calls --ref HEAD~1 --calls 2000 --rounds 5
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from types import ModuleType
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def load_revision(ref: str, into: Path) -> ModuleType:
    """`pipelines/soracom` as it was at `ref`, importable as `soracom_ref`."""
    archive = subprocess.run(
        ["git", "archive", ref, "pipelines/soracom"], cwd=REPO, check=True, capture_output=True
    ).stdout
    tar_path = into / "ref.tar"
    tar_path.write_bytes(archive)
    with tarfile.open(tar_path) as tar:
        tar.extractall(into, filter="data")
    (into / "pipelines" / "soracom").rename(into / "soracom_ref")
    sys.path.insert(0, str(into))
    return importlib.import_module("soracom_ref")


async def _calls(package: ModuleType, url: str, credentials: dict[str, str], calls: int, conc: int) -> float:
    """CPU seconds of `calls` listGroups calls, `conc` at a time, after a warm-up."""
    creds = package.Credentials.auth_key_pair(credentials["authKeyId"], credentials["authKey"])
    settings = package.ClientSettings(max_concurrency=conc)
    async with package.SoracomClient(creds, endpoint=url, settings=settings) as client:

        async def one(_: int) -> Any:
            return await client.request_json("GET", "/groups", operation="listGroups")

        await client.map_concurrent(one, range(conc * 4))  # warm-up: connections, limiter probe
        started = time.process_time()
        await client.map_concurrent(one, range(calls))
        return time.process_time() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--ref", default="HEAD", help="git revision to compare this tree with")
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args(argv)

    import pipelines.soracom as current
    from sandbox.process import start_sandbox_process

    with (
        tempfile.TemporaryDirectory() as tmp,
        start_sandbox_process(sims=20, rate_limit_per_minute=10_000_000) as box,
    ):
        reference = load_revision(args.ref, Path(tmp))
        cpu: dict[str, list[float]] = {"ref": [], "this": []}
        for _ in range(args.rounds):
            for name, package in (("ref", reference), ("this", current)):
                seconds = asyncio.run(_calls(package, box.url, box.credentials, args.calls, args.concurrency))
                cpu[name].append(seconds / args.calls)
    print(f"{args.calls} listGroups calls x {args.rounds} rounds, concurrency {args.concurrency}")
    for label, pick in (("median", statistics.median), ("min", min)):
        ref_us, this_us = pick(cpu["ref"]) * 1e6, pick(cpu["this"]) * 1e6
        print(
            f"CPU per call, {label} of rounds: {args.ref}: {ref_us:.1f} us, this tree: {this_us:.1f} us, "
            f"ratio this/{args.ref} {this_us / ref_us:.3f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
