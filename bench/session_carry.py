"""The carry that bounds `sim_daily_usage`'s session reach, measured in isolation, through the
build's own code: `apply_carry` (pipelines/lake/carry.py) running the carry query the mart
declares (`carried by carry/session_events.sql`); no second copy of its rule here.

Boundary = the start of the second-last loaded session day (a recomputation of the last day: the
mart's reach is `-1..end`). The carry keeps, of the older session files, what the production
query keeps; the sessions' segments computed from the carry plus the last two session files are
compared, per SIM and day from the boundary on (online ms and distinct cells, as
`sim_daily_usage` sums them), with those computed from the whole history. Whether the query fell
back to every older row is its `carry_whole` flag. Prints wall and CPU seconds. (The build also
stores each carry and starts the next one from it; this measures the carry from the files.)

    .venv/bin/python -m bench.session_carry --lake /tmp/incr2-lake
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import duckdb

from assets.models import MODELS
from assets.tables import TABLE_SPECS
from pipelines.lake import Lake
from pipelines.lake.carry import Carried, CarryFile, apply_carry
from pipelines.lake.views import quote_identifier, table_view_sql

MART = "sim_daily_usage"
SOURCE = "session_events"

# Per SIM and day from `boundary_ms` on: online ms and distinct cells of the segments.
DAILY = """
SELECT coverage, sim_id, day,
    sum(least(end_ms, (day + 1) * 86400000) - greatest(start_ms, day * 86400000)) AS online_ms,
    count(DISTINCT cell_id) AS cells
FROM (
    SELECT *, unnest(range(start_ms // 86400000, (end_ms - 1) // 86400000 + 1)) AS day
    FROM stg_session_segments
)
WHERE day * 86400000 >= $boundary_ms
GROUP BY ALL
"""


def _timed(label: str, run: Callable[[], object]) -> object:
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    print(f"| {label} | {time.perf_counter() - wall:.2f} | {time.process_time() - cpu:.2f} |")
    return result


def carry_query() -> str:
    """The carry query the mart declares (its `carried by` file, as the build reads it)."""
    model = next(m for m in MODELS if m.name == MART)
    partitioning = model.partitioning
    found = [i.carry for i in (partitioning.inputs if partitioning else ()) if i.name == SOURCE and i.carry]
    if not found:
        raise SystemExit(f"{MART} declares no carried {SOURCE} input")
    return found[0]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lake", type=Path, required=True, help="a lake filled by bench.models")
    args = parser.parse_args()
    lake = Lake(args.lake)
    spec = next(s for s in TABLE_SPECS if s.name == SOURCE)
    days = [p["date"] for p in lake.partitions(spec)]
    if len(days) < 4:
        raise SystemExit(f"{args.lake}: needs at least 4 session days, found {len(days)}")
    keys = {day: lake.partition_key(spec, {"date": day}) for day in days}
    old, new = days[:-2], days[-2:]
    boundary: date = new[0]
    boundary_ms = (boundary - date(1970, 1, 1)).days * 86_400_000
    params = {"boundary_ms": boundary_ms}
    select = carry_query()
    staging = {
        m.name: m.select_sql for m in MODELS if m.name in ("stg_session_events", "stg_session_segments")
    }
    con = duckdb.connect()

    def staging_views() -> None:
        for name in ("stg_session_events", "stg_session_segments"):
            con.execute(f"CREATE OR REPLACE TEMP VIEW {quote_identifier(name)} AS {staging[name]}")

    def carry(newer: list[date]) -> Carried:
        return apply_carry(
            lake,
            con,
            spec,
            select,
            [CarryFile(keys[d], d.toordinal(), "") for d in old],
            [CarryFile(keys[d], d.toordinal(), "") for d in newer],
            boundary.toordinal(),
        )

    print(f"session days {days[0]} .. {days[-1]}, boundary: start of {boundary}\n")
    print("| step | wall s | CPU s |\n|---|---|---|")
    con.execute(f"CREATE OR REPLACE TEMP VIEW {SOURCE} AS {table_view_sql(lake, spec, con)}")
    staging_views()
    _timed(
        f"segments per SIM-day from the boundary on, whole history ({len(days)} days: no carry)",
        lambda: con.execute(f"CREATE TABLE whole AS {DAILY}", params),
    )
    carried = _timed(
        f"the carry query over the {len(old)} older files (sql/carry/session_events.sql)", lambda: carry(new)
    )
    assert isinstance(carried, Carried)
    con.execute("CREATE TABLE carried AS SELECT * EXCLUDE (carry_whole) FROM carry_rows")
    staging_views()
    _timed(
        f"segments per SIM-day from the boundary on, carry + the last {len(new)} days",
        lambda: con.execute(f"CREATE TABLE bounded AS {DAILY}", params),
    )
    carry_rows = con.execute("SELECT count(*) FROM carried").fetchone()[0]
    sessions = con.execute(
        "SELECT count(*) FROM (SELECT DISTINCT coverage, sim_id, session_id FROM carried)"
    ).fetchone()[0]
    older_rows = con.execute("SELECT count(*) FROM carry_older").fetchone()[0]
    rows = con.execute("SELECT count(*) FROM whole").fetchone()[0]
    differing = con.execute(
        "SELECT count(*) FROM ((FROM whole EXCEPT ALL FROM bounded) "
        "UNION ALL (FROM bounded EXCEPT ALL FROM whole))"
    ).fetchone()[0]
    print(
        f"\ncarried: {sessions:,} sessions, {carry_rows:,} of {older_rows:,} older event rows; "
        f"SIM-days from the boundary on: {rows:,}, differing: {differing:,} (must be 0)"
    )
    fell_back = "yes: every older row kept" if carried.whole else "no"
    print(f"fallback to the whole history: {fell_back}")


if __name__ == "__main__":
    main()
