"""Peak RSS of a sandbox process while it serves its largest answer: the operator-wide
5-minute Air usage export of one day (issue: the sandbox serves 100k SIMs within 1 GB).

    .venv/bin/python -m bench.sandbox_memory --sims 100000
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from datetime import UTC, datetime, timedelta

import psutil

from pipelines.soracom import Credentials, SoracomClient
from sandbox.process import start_sandbox_process

NOW = "2026-11-30T00:00:00Z"


async def _export_while_watching(url: str, pid: int) -> tuple[int, float, int]:
    proc = psutil.Process(pid)
    peak = 0
    done = asyncio.Event()

    async def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, proc.memory_info().rss)
            await asyncio.sleep(0.1)

    watcher = asyncio.create_task(watch())
    start = time.perf_counter()
    end = datetime(2026, 11, 30, tzinfo=UTC)
    creds = Credentials.auth_key_pair("keyId-sandbox", "secret-sandbox")
    with tempfile.TemporaryDirectory() as tmp:
        async with SoracomClient(creds, endpoint=url, coverage="jp") as client:
            size = await client.export_air_usage_to_file(
                end - timedelta(days=1), end, os.path.join(tmp, "usage.csv"), "minutes"
            )
    seconds = time.perf_counter() - start
    done.set()
    await watcher
    return size, seconds, peak


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sims", type=int, default=100_000)
    args = parser.parse_args()
    with start_sandbox_process(sims=args.sims, seed=42, now=NOW) as sandbox:
        sandbox.update_settings(record_calls=False)
        size, seconds, peak = asyncio.run(_export_while_watching(sandbox.url, sandbox.process.pid))
    print(f"sandbox {args.sims:,} SIMs: 5-minute export of one day {size / 1e6:,.0f} MB in {seconds:.1f} s")
    print(f"sandbox peak RSS while serving it: {peak / 1e6:,.0f} MB")


if __name__ == "__main__":
    main()
