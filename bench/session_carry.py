"""The carry that bounds `sim_daily_usage`'s session reach (`sql/carry/session_events.sql`,
issue 15 part 2, item 2) measured in isolation, with its selection rule restated here.

Boundary B = the third-last loaded session day, E = the end of B. The carry is the raw events
(in the lake before B's end) of every session that may still be open at E: no `Deleted` and no
later session of its SIM starting by E, or itself starting at or after E. The sessions'
segments computed from the carry plus the session files after B are compared, per SIM and day
after B (online ms and distinct cells, as `sim_daily_usage` sums them), with those computed
from the whole history; the two guards under which the equality is proven are counted (a
session of the new files that has older events but is not carried; a session only in the new
files whose start is before E). Prints wall and CPU seconds of each query.

    .venv/bin/python -m bench.session_carry --lake /tmp/incr2-lake
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import duckdb

from pipelines.lake.views import quote_literal

SQL = Path(__file__).resolve().parents[1] / "sql" / "staging"
DAY_MS = 86_400_000

# Per SIM and day from `date_from_ms` on: online ms and distinct cells of the segments.
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

# Session ids that may be open at the boundary (events before it only; no de-duplication
# needed: a repeated event changes no min or max).
CARRIED = """
WITH s AS (
    SELECT coverage, sim_id, session_id,
        coalesce(min(time_ms) FILTER (WHERE event = 'Created'), min(try_cast(created_time AS BIGINT)),
            min(time_ms)) AS start_ms,
        max(time_ms) FILTER (WHERE event = 'Deleted') AS deleted_ms
    FROM old_events
    GROUP BY ALL
),
l AS (
    SELECT *, lead(start_ms) OVER (PARTITION BY coverage, sim_id ORDER BY start_ms, session_id) AS next_ms
    FROM s
)
SELECT coverage, sim_id, session_id
FROM l
WHERE (deleted_ms IS NULL AND (next_ms IS NULL OR next_ms > $boundary_ms)) OR start_ms >= $boundary_ms
"""

NOT_CARRIED_BUT_OLD = """
SELECT count(*) FROM (SELECT DISTINCT coverage, sim_id, session_id FROM new_events) AS n
SEMI JOIN (SELECT DISTINCT coverage, sim_id, session_id FROM old_events) AS o
    USING (coverage, sim_id, session_id)
ANTI JOIN carried AS c USING (coverage, sim_id, session_id)
"""

NEW_STARTING_BEFORE = """
SELECT count(*) FROM (
    SELECT coverage, sim_id, session_id,
        coalesce(min(time_ms) FILTER (WHERE event = 'Created'), min(try_cast(created_time AS BIGINT)),
            min(time_ms)) AS start_ms
    FROM new_events
    GROUP BY ALL
) AS n
ANTI JOIN (SELECT DISTINCT coverage, sim_id, session_id FROM old_events) AS o
    USING (coverage, sim_id, session_id)
WHERE start_ms < $boundary_ms
"""


def _files(root: Path, days: list[str]) -> str:
    return "[" + ", ".join(quote_literal(str(root / f"date={d}" / "part-0.parquet")) for d in days) + "]"


def _timed(label: str, run: Callable[[], object]) -> object:
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    print(f"| {label} | {time.perf_counter() - wall:.2f} | {time.process_time() - cpu:.2f} |")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--lake", type=Path, required=True, help="a lake filled by bench.models")
    args = parser.parse_args()
    root = args.lake / "session_events"
    days = sorted(p.name.split("=", 1)[1] for p in root.iterdir() if p.name.startswith("date="))
    if len(days) < 4:
        raise SystemExit(f"{root}: needs at least 4 session days, found {len(days)}")
    old, new = days[:-2], days[-2:]
    con = duckdb.connect()
    boundary_ms = con.execute(f"SELECT epoch_ms(TIMESTAMP {quote_literal(old[-1])}) + {DAY_MS}").fetchone()[0]
    params = {"boundary_ms": boundary_ms}
    staging = (SQL / "stg_session_events.sql").read_text()
    segments = (SQL / "stg_session_segments.sql").read_text()

    def source(body: str) -> None:
        con.execute(f"CREATE OR REPLACE VIEW session_events AS {body}")
        con.execute(f"CREATE OR REPLACE VIEW stg_session_events AS {staging}")
        con.execute(f"CREATE OR REPLACE VIEW stg_session_segments AS {segments}")

    scan = "read_parquet({}, hive_partitioning = true)"
    con.execute(f"CREATE VIEW old_events AS SELECT * FROM {scan.format(_files(root, old))}")
    con.execute(f"CREATE VIEW new_events AS SELECT * FROM {scan.format(_files(root, new))}")
    print(f"session days {days[0]} .. {days[-1]}, boundary: end of {old[-1]}\n")
    print("| step | wall s | CPU s |\n|---|---|---|")
    source(f"SELECT * FROM {scan.format(_files(root, days))}")
    _timed(
        f"segments per SIM-day after the boundary, whole history ({len(days)} days: today's reach)",
        lambda: con.execute(f"CREATE TABLE whole AS {DAILY}", params),
    )
    _timed(
        "carried session ids (an aggregate of the history before the boundary)",
        lambda: con.execute(f"CREATE TABLE carried AS {CARRIED}", params),
    )
    _timed(
        "their raw events",
        lambda: con.execute(
            "CREATE TABLE carry AS SELECT * FROM old_events SEMI JOIN carried "
            "USING (coverage, sim_id, session_id)"
        ),
    )
    source(f"SELECT * FROM carry UNION ALL BY NAME SELECT * FROM {scan.format(_files(root, new))}")
    _timed(
        f"segments per SIM-day after the boundary, carry + the last {len(new)} days",
        lambda: con.execute(f"CREATE TABLE bounded AS {DAILY}", params),
    )
    carried, carry_rows = con.execute(
        "SELECT (SELECT count(*) FROM carried), (SELECT count(*) FROM carry)"
    ).fetchone()
    rows = con.execute("SELECT count(*) FROM whole").fetchone()[0]
    differing = con.execute(
        "SELECT count(*) FROM ((FROM whole EXCEPT ALL FROM bounded) "
        "UNION ALL (FROM bounded EXCEPT ALL FROM whole))"
    ).fetchone()[0]
    guard_old = con.execute(NOT_CARRIED_BUT_OLD).fetchone()[0]
    guard_start = con.execute(NEW_STARTING_BEFORE, params).fetchone()[0]
    print(
        f"\ncarried: {carried:,} sessions, {carry_rows:,} event rows; SIM-days after the boundary: {rows:,}, "
        f"differing: {differing:,}"
    )
    print(
        f"guards (each must be 0, else the whole history is read): sessions of the new files with older "
        f"events, not carried: {guard_old:,}; new-only sessions starting before the boundary: {guard_start:,}"
    )


if __name__ == "__main__":
    main()
