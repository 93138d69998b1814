"""Incremental mart builds equal a full rebuild byte for byte, after any sequence of loads, and
leave the files of untouched partitions alone (issue 15, part 2)."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import polars as pl
import pytest

from assets import billing, inventory, traffic
from assets.models import MODELS, SQL_DIR
from assets.tables import TABLE_SPECS
from pipelines.lake import Lake, SqlModel, build_model, discover_models
from pipelines.lake.carry import Carried, apply_carry
from pipelines.lake.incremental import STATE_FILE, MartBuild
from pipelines.lake.spec import MODELS_FOLDER
from sandbox.world import World
from testkit.world_lake import (
    billing_months,
    closed_days,
    load_audit_day,
    load_billing_month,
    load_billing_summaries,
    load_session_day,
    load_snapshot,
    load_traffic_day,
)

NOW = datetime(2026, 11, 30, 0, 0, tzinfo=UTC)
MARTS = [m for m in MODELS if m.materialised]


def build_all(
    lake: Lake,
    full_refresh: bool = False,
    marts: set[str] | None = None,
    models: list[SqlModel] = MODELS,
    con: duckdb.DuckDBPyConnection | None = None,
) -> dict[str, MartBuild]:
    """The models job: every model in order (only `marts`, when given: each mart inlines the
    staging views it reads); the marts' results by name. With `con`, every build on it (as
    `soracom-lake models` and bench.models do: views of unchanged files are kept)."""
    done = {}
    for model in models:
        if marts is not None and model.name not in marts:
            continue
        result = build_model(lake, model, TABLE_SPECS, models, con, full_refresh=full_refresh)
        if model.materialised:
            done[model.name] = result
    return done


def mart_files(lake: Lake) -> dict[str, bytes]:
    """Every mart file's bytes (not the build state, not a stored carry under `_carry/`), by
    path under `_models/`."""
    root = Path(lake.root) / MODELS_FOLDER
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.glob("*/*.parquet"))
        if p.name != STATE_FILE
    }


def assert_equals_full_rebuild(
    lake: Lake, scratch: Path, marts: set[str] | None = None, models: list[SqlModel] = MODELS
) -> None:
    """Copy the lake's tables (not its marts) aside, rebuild every mart (or `marts`) from
    scratch there, and compare every mart file byte for byte."""
    if scratch.exists():
        shutil.rmtree(scratch)
    shutil.copytree(lake.root, scratch, ignore=shutil.ignore_patterns(MODELS_FOLDER))
    fresh = Lake(scratch)
    build_all(fresh, full_refresh=True, marts=marts, models=models)
    incremental, full = mart_files(lake), mart_files(fresh)
    assert sorted(incremental) == sorted(full)
    differing = [name for name in full if incremental[name] != full[name]]
    assert differing == []


def stamp(path: Path) -> tuple[int, int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns, stat.st_ino


@pytest.fixture(scope="module")
def world() -> World:
    return World(seed=42, sims=24, now=NOW, coverages=("jp", "g"))


def _rewrite(lake: Lake, spec_name: str, partition: dict[str, object], change: Callable) -> None:
    spec = next(s for s in TABLE_SPECS if s.name == spec_name)
    frame = lake.read(spec, partition)
    lake.write_partition(spec, partition, change(frame).drop(list(spec.partition_by)))


def test_incremental_builds_equal_a_full_rebuild_after_a_sequence_of_loads(
    world: World, tmp_path: Path
) -> None:
    lake = Lake(tmp_path / "lake")
    scratch = tmp_path / "full"
    days = closed_days(world, 10)
    (previous_start, previous), (current_start, current) = billing_months(world, 2)
    # Start: days 1-8 of traffic with a gap on day 5, sessions/Harvest on days 6-8, one audit day,
    # two billing months.
    load_snapshot(lake, world, days[-3])
    for day in days[:8]:
        if day != days[4]:
            load_traffic_day(lake, world, day)
    for day in days[5:8]:
        load_session_day(lake, world, day)
    load_audit_day(lake, world, days[7])
    load_billing_month(lake, world, previous_start, previous)
    load_billing_month(lake, world, current_start, current)
    load_billing_summaries(lake, world, days[7])
    con = duckdb.connect()  # one connection through every load and build: no view may go stale
    first = build_all(lake, con=con)
    assert all(r.full for r in first.values() if isinstance(r, MartBuild) and not r.skipped)

    def step(load: Callable[[], None]) -> dict[str, MartBuild]:
        load()
        results = build_all(lake, con=con)
        assert_equals_full_rebuild(lake, scratch)
        return results

    # A new day of everything: only that day (and the day before, for sessions) is recomputed.
    def new_day() -> None:
        load_traffic_day(lake, world, days[8])
        load_session_day(lake, world, days[8])
        load_audit_day(lake, world, days[8])

    results = step(new_day)
    usage = results["sim_daily_usage"]
    assert not usage.full and set(usage.written) <= {days[7].date().isoformat(), days[8].date().isoformat()}
    assert days[8].date().isoformat() in usage.written
    assert results["sim_monthly_cost"].skipped

    # A re-load of an old day with different data (traffic of day 2 doubled, one row dropped).
    def reload_old_day() -> None:
        _rewrite(
            lake,
            traffic.DAILY_SPEC.name,
            {"date": days[1].date()},
            lambda f: f.head(f.height - 1).with_columns(pl.col("download_bytes") * 2),
        )

    results = step(reload_old_day)
    assert results["sim_daily_usage"].written == (days[1].date().isoformat(),)
    # the anomaly window reaches the days after it
    assert set(results["traffic_anomalies"].written) | set(results["traffic_anomalies"].unchanged) | set(
        results["traffic_anomalies"].deleted
    ) <= {(days[1] + timedelta(days=n)).date().isoformat() for n in range(15)}

    # A backfill in the middle (the missing traffic day 5, session days 3-4 before the first) and,
    # in the same loads, the previous billing month closing (its bill reloaded from a later World)
    # with changed lines.
    later = World(seed=42, sims=24, now=NOW + timedelta(days=6), coverages=("jp", "g"))

    def backfill_and_month_closes() -> None:
        load_traffic_day(lake, world, days[4])
        load_session_day(lake, world, days[3])
        load_session_day(lake, world, days[2])
        load_billing_month(lake, later, previous_start, previous)
        _rewrite(
            lake,
            billing.ITEMS_SPEC.name,
            {"month": previous_start.strftime("%Y-%m")},
            lambda f: f.with_columns(pl.col("amount") * 2),
        )

    results = step(backfill_and_month_closes)
    assert not results["sim_daily_usage"].full
    monthly = results["sim_monthly_cost"]
    assert not monthly.full and set(monthly.written) == {previous}

    # Retention removes the oldest traffic day's file.
    def retention() -> None:
        spec = traffic.DAILY_SPEC
        lake.storage.delete(lake.partition_key(spec, {"date": days[0].date()}))

    results = step(retention)
    assert days[0].date().isoformat() in results["sim_daily_traffic_by_type"].deleted

    # A SIM snapshot that renames a SIM: every partition naming SIMs is rebuilt.
    def rename() -> None:
        spec = inventory.SIMS_SPEC
        partition = {"date": days[8].date()}
        load_snapshot(lake, world, days[8])
        _rewrite(lake, spec.name, partition, lambda f: f.with_columns(pl.lit("renamed").alias("name")))

    results = step(rename)
    assert results["sim_daily_usage"].full
    assert not results["api_activity_daily"].full  # reads no SIM dimension


def test_an_untouched_partition_file_is_not_rewritten(world: World, tmp_path: Path) -> None:
    """A day-partitioned mart keeps one file per month: a new day rewrites its month's file only."""
    lake = Lake(tmp_path / "lake")
    days = closed_days(world, 33)  # from late October to the end of November
    october, november, new_day = days[0], days[-3:-1], days[-1]
    load_snapshot(lake, world, days[0])
    for day in [october, *november]:
        load_traffic_day(lake, world, day)
        load_session_day(lake, world, day)
    build_all(lake)
    folder = Path(lake.root) / MODELS_FOLDER
    before = {p: stamp(p) for p in folder.rglob("*.parquet")}
    old_month = folder / "sim_daily_usage" / f"date={october.strftime('%Y-%m')}.parquet"
    assert old_month in before

    load_traffic_day(lake, world, new_day)
    load_session_day(lake, world, new_day)
    results = build_all(lake)

    after = {p: stamp(p) for p in folder.rglob("*.parquet")}
    assert after[old_month] == before[old_month]
    touched = sorted(p.relative_to(folder).as_posix() for p in after if before.get(p) != after[p])
    month = f"date={new_day.strftime('%Y-%m')}.parquet"
    assert f"sim_daily_usage/{month}" in touched
    month_mart = f"sim_traffic_monthly/year_month={new_day.strftime('%Y%m')}.parquet"  # by month
    assert all(p.endswith(month) or p in (month_mart, "idle_sims/part-0.parquet") for p in touched), touched
    assert new_day.date().isoformat() in results["sim_daily_usage"].written
    assert october.date().isoformat() not in results["sim_daily_usage"].unchanged  # not recomputed
    assert results["sim_monthly_cost"].skipped

    # Nothing loaded since: nothing is rewritten at all.
    build_all(lake)
    assert {p: stamp(p) for p in folder.rglob("*.parquet")} == after


def test_models_job_full_refresh_reaches_every_model_step() -> None:
    import dagster as dg

    from pipelines.definitions import defs

    job = defs.resolve_job_def("models_job")
    default = dg.validate_run_config(job, {})["ops"]
    full = dg.validate_run_config(job, {"full_refresh": True})["ops"]
    assert {m.name for m in MODELS} <= set(full)
    assert all(full[m.name]["config"] == {"full_refresh": True} for m in MODELS)
    assert all(default[m.name]["config"] == {"full_refresh": False} for m in MODELS)


def test_models_command_builds_incrementally_and_fully_on_request(
    world: World, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from pipelines.cli import main

    lake = Lake(tmp_path / "lake")
    days = closed_days(world, 2)
    load_snapshot(lake, world, days[0])
    for day in days:
        load_traffic_day(lake, world, day)
    where = ["--lake", str(tmp_path / "lake"), "--catalog", str(tmp_path / "soracom.duckdb")]
    assert main(["models", *where]) == 0
    first = capsys.readouterr().out
    assert "sim_daily_usage: " in first and "full rebuild: 2 partition(s) written" in first
    assert main(["models", *where, "--full-refresh"]) == 0
    full = capsys.readouterr().out
    assert "sim_daily_usage: " in full and "full rebuild: 0 partition(s) written, 2 recomputed" in full
    assert main(["models", "--lake", str(tmp_path / "missing")]) == 2
    assert "does not exist" in capsys.readouterr().err


def _session_rows(
    template: pl.DataFrame, events: list[tuple[str, str, datetime, int]], created: dict[str, datetime]
) -> pl.DataFrame:
    """Crafted session events of `template`'s SIM: (event, session id, time, cell eci), each
    carrying its session's createdTime (its first time listed here or in an earlier call)."""
    rows = []
    for event, session_id, at, eci in events:
        created.setdefault(session_id, at)
        rows.append(
            template.with_columns(
                pl.lit(event).alias("event"),
                pl.lit(session_id).alias("session_id"),
                pl.lit(int(at.timestamp() * 1000)).cast(pl.Int64).alias("time_ms"),
                pl.lit(at).cast(template.schema["time"]).alias("time"),
                pl.lit(str(int(created[session_id].timestamp() * 1000))).alias("created_time"),
                pl.lit(eci).cast(pl.Int64).alias("cell_eci"),
            )
        )
    return pl.concat(rows)


USAGE = {"sim_daily_usage"}  # the mart whose session reach the next test is about


def test_session_edge_cases_stay_equal_to_a_full_rebuild(world: World, tmp_path: Path) -> None:
    """Sessions whose effect crosses days, loaded in an awkward order: a session open for
    several days, a late Deleted stamped after the SIM's next Created (loaded the day after),
    a backfilled day in the middle, a re-load of an old day that closes the open session.
    After each load the incremental marts equal a full rebuild (what a bounded session reach,
    issue 15 part 2 item 2, has to keep)."""
    from assets import sessions

    lake = Lake(tmp_path / "lake")
    scratch = tmp_path / "full"
    days = closed_days(world, 6)
    load_snapshot(lake, world, days[0])
    for day in (days[0], days[1]):
        load_traffic_day(lake, world, day)
        load_session_day(lake, world, day)
    spec = sessions.SPEC
    loaded = lake.read(spec, {"date": days[0].date()})
    # Two SIMs of their own (no World session interferes): ids no snapshot knows.
    template = loaded.filter(pl.col("coverage") == "jp").head(1)
    templates = [template.with_columns(pl.lit(f"carry-sim-{n}").alias("sim_id")) for n in range(2)]
    created: dict[str, datetime] = {}

    def add(day: datetime, events: list[tuple[str, str, datetime, int]], sim: int = 0) -> None:
        partition = {"date": day.date()}
        rows = _session_rows(templates[sim], events, created)
        _rewrite(lake, spec.name, partition, lambda f: pl.concat([f, rows]))

    hour = timedelta(hours=1)
    # A session opened late on day 0 with no Deleted: online on every later loaded day. On
    # another SIM, a session that the SIM's next (short) session cuts off on day 0, whose
    # Deleted only comes on day 3: it ends at the next session's start, not on day 3.
    add(days[0], [("Created", "carry-open", days[0] + 23 * hour, 101)])
    add(
        days[0],
        [
            ("Created", "carry-cut", days[0] + 10 * hour, 201),
            ("Created", "carry-short", days[0] + 11 * hour, 202),
            ("Deleted", "carry-short", days[0] + 12 * hour, 202),
        ],
        sim=1,
    )
    build_all(lake, marts=USAGE)
    assert_equals_full_rebuild(lake, scratch, USAGE)

    def step(load: Callable[[], None]) -> dict[str, MartBuild]:
        load()
        results = build_all(lake, marts=USAGE)
        assert_equals_full_rebuild(lake, scratch, USAGE)
        return results

    # Day 3 (day 2 still missing): the open session moves cell; a quick reconnect whose Deleted
    # only comes with day 4's load.
    def day_three() -> None:
        load_traffic_day(lake, world, days[3])
        load_session_day(lake, world, days[3])
        add(
            days[3],
            [
                ("Modified", "carry-open", days[3] + 2 * hour, 102),
                ("Created", "carry-quick", days[3] + 20 * hour, 103),
            ],
        )
        add(days[3], [("Deleted", "carry-cut", days[3] + 3 * hour, 201)], sim=1)

    results = step(day_three)
    assert not results["sim_daily_usage"].full

    # Day 4: the next session's Created, then the quick session's Deleted stamped after it.
    def day_four() -> None:
        load_traffic_day(lake, world, days[4])
        load_session_day(lake, world, days[4])
        add(
            days[4],
            [
                ("Created", "carry-next", days[4] + hour, 104),
                ("Deleted", "carry-quick", days[4] + hour + timedelta(seconds=5), 103),
            ],
        )

    results = step(day_four)
    assert not results["sim_daily_usage"].full

    # Backfill day 2 in the middle, with another cell change of the open session.
    def backfill() -> None:
        load_traffic_day(lake, world, days[2])
        load_session_day(lake, world, days[2])
        add(days[2], [("Modified", "carry-open", days[2] + 12 * hour, 105)])

    step(backfill)

    # Re-load day 1 with changed events: the open session is deleted there, so what days 2-4
    # carried of it must go.
    def reload_closes() -> None:
        add(days[1], [("Deleted", "carry-open", days[1] + 6 * hour, 101)])

    results = step(reload_closes)
    usage = results["sim_daily_usage"]
    assert not usage.full
    assert days[2].date().isoformat() in usage.written

    # Day 5: a new day after all that.
    def day_five() -> None:
        load_traffic_day(lake, world, days[5])
        load_session_day(lake, world, days[5])

    results = step(day_five)
    assert days[5].date().isoformat() in results["sim_daily_usage"].written


def test_the_stored_carry_stays_equal_to_a_full_rebuild(
    world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each incremental build of sim_daily_usage stores its session carry and the next one starts
    from it instead of reading every older session file. New days built from the stored carry;
    a late Deleted, with no createdTime, of a session the carry dropped (only the stored session
    hashes can tell it is not a new session); and a re-load of an old day followed by a full
    refresh (which stores no carry) and a new day, where the stored carry is from before the
    re-load. After each load the marts equal a full rebuild."""
    from assets import sessions
    from pipelines.lake import incremental

    carries: list[Carried] = []

    def spy(*args: object, **kwargs: object) -> Carried:
        carries.append(apply_carry(*args, **kwargs))
        return carries[-1]

    monkeypatch.setattr(incremental, "apply_carry", spy)
    lake = Lake(tmp_path / "lake")
    scratch = tmp_path / "full"
    days = closed_days(world, 9)
    load_snapshot(lake, world, days[0])
    for day in days[:2]:
        load_session_day(lake, world, day)
    spec = sessions.SPEC
    template = lake.read(spec, {"date": days[0].date()}).filter(pl.col("coverage") == "jp").head(1)
    template = template.with_columns(pl.lit("stored-carry-sim").alias("sim_id"))
    created: dict[str, datetime] = {}

    def add(day: datetime, events: list[tuple[str, str, datetime, int]], stamped: bool = True) -> None:
        rows = _session_rows(template, events, created)
        if not stamped:
            rows = rows.with_columns(pl.lit(None, dtype=rows.schema["created_time"]).alias("created_time"))
        _rewrite(lake, spec.name, {"date": day.date()}, lambda f: pl.concat([f, rows]))

    hour = timedelta(hours=1)
    # "cut" ends when "short" starts (dropped by every carry from day 1 on); "open" stays open.
    add(
        days[0],
        [
            ("Created", "cut", days[0] + 10 * hour, 1),
            ("Created", "short", days[0] + 11 * hour, 2),
            ("Deleted", "short", days[0] + 12 * hour, 2),
            ("Created", "open", days[0] + 13 * hour, 3),
        ],
    )
    con = duckdb.connect()  # one connection through every load and build
    build_all(lake, marts=USAGE, con=con)

    def step(load: Callable[[], None], full_refresh: bool = False) -> Carried | None:
        carries.clear()
        load()
        build_all(lake, full_refresh=full_refresh, marts=USAGE, con=con)
        assert_equals_full_rebuild(lake, scratch, USAGE)
        return carries[-1] if carries else None

    first = step(lambda: load_session_day(lake, world, days[2]))
    assert first is not None and not first.stored and not first.whole  # no stored carry yet
    second = step(lambda: load_session_day(lake, world, days[3]))
    assert second is not None and second.stored  # started from the first one's

    # "cut"'s Deleted, days late and without createdTime: it looks like a new session starting on
    # day 4, which would end "open" there; the full rebuild has every older row (the fallback).
    def late_deleted() -> None:
        load_session_day(lake, world, days[4])
        add(days[4], [("Deleted", "cut", days[4] + hour, 1)], stamped=False)

    late = step(late_deleted)
    assert late is not None and late.whole and not late.stored
    for day in days[5:7]:  # a new day's build reads the two days before it as newer: day 4 too
        again = step(lambda day=day: load_session_day(lake, world, day))
        assert again is not None and again.whole
    stored = step(lambda: load_session_day(lake, world, days[7]))  # from the files; stored again
    assert stored is not None and not stored.whole and not stored.stored

    # A re-load of day 0 closing "open", a full refresh (no carry), then a new day: the stored
    # carry (open still open) predates the re-load and must not be used.
    step(lambda: add(days[0], [("Deleted", "open", days[0] + 14 * hour, 3)]), full_refresh=True)
    after = step(lambda: load_session_day(lake, world, days[8]))
    assert after is not None and not after.stored


@pytest.mark.s3
def test_the_stored_carry_works_on_object_storage(
    world: World, tmp_path: Path, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The stored carry is written and read back through the lake's storage: on S3 the last
    build starts from the carry the build before stored, and the mart's files are the bytes a
    local lake built the same way has."""
    from pipelines.lake import incremental

    carries: list[Carried] = []

    def spy(*args: object, **kwargs: object) -> Carried:
        carries.append(apply_carry(*args, **kwargs))
        return carries[-1]

    monkeypatch.setattr(incremental, "apply_carry", spy)
    days = closed_days(world, 4)
    lakes = [Lake(s3_bucket + "/lake"), Lake(tmp_path / "lake")]
    for lake in lakes:
        load_snapshot(lake, world, days[0])
        con = duckdb.connect()
        for day in days:
            load_session_day(lake, world, day)
            build_all(lake, marts=USAGE, con=con)
    on_s3 = carries[: len(carries) // 2]
    assert not on_s3[0].stored and on_s3[-1].stored  # the first from the files, the last stored
    assert lakes[0].storage.exists(f"{MODELS_FOLDER}/sim_daily_usage/_carry/session_events.json")
    month = f"{MODELS_FOLDER}/sim_daily_usage/date={days[-1].strftime('%Y-%m')}.parquet"
    files = []
    for lake in lakes:
        with lake.storage.open_read(month) as handle:
            files.append(handle.read())
    assert files[0] == files[1]


IDLE = {"sim_daily_usage", "sim_traffic_monthly", "idle_sims"}  # idle_sims and what it is built from


def _models_with_idle_days(root: Path, idle_days: int) -> list[SqlModel]:
    """The project's models from a copy of sql/ whose report_params sets `idle_days` (a window
    of a few days, so a test moves it with a few loads)."""
    shutil.copytree(SQL_DIR, root)
    params = root / "staging" / "report_params.sql"
    text = params.read_text()
    assert "    30 AS idle_days," in text
    params.write_text(text.replace("    30 AS idle_days,", f"    {idle_days} AS idle_days,"))
    return discover_models(root, [spec.name for spec in TABLE_SPECS])


def test_the_idle_window_stays_equal_to_a_full_rebuild(tmp_path: Path) -> None:
    """idle_sims reads a per-SIM, per-month summary (sim_traffic_monthly) that a new day
    recomputes for its month only, not a year of SIM-days. A 2-day idle window moving across a
    month's end over days without a SIM's traffic, the SIM going idle, a day of sessions without
    traffic (the window stays), and a re-load of an old day that gives the SIM traffic again:
    after each load, the marts equal a full rebuild byte for byte and the SIM is idle exactly
    when it should be."""
    world = World(seed=42, sims=12, now=datetime(2026, 12, 3, 2, tzinfo=UTC), coverages=("jp",))
    models = _models_with_idle_days(tmp_path / "sql", 2)
    lake = Lake(tmp_path / "lake")
    scratch = tmp_path / "full"
    days = closed_days(world, 6)  # 2026-11-27 .. 2026-12-02
    load_snapshot(lake, world, days[0])
    for start, month in billing_months(world, 2):
        load_billing_month(lake, world, start, month)
    for day in days[:3]:
        load_traffic_day(lake, world, day)
    # The SIM: traffic on day 2, and billing lines of days 3-4 (or the months') adding up to > 0.
    spec = traffic.DAILY_SPEC
    active = lake.read(spec, {"date": days[2].date()}).filter(pl.col("download_bytes") > 0)
    lines = pl.concat([lake.read(billing.ITEMS_SPEC, {"month": m}) for m in ("2026-11", "2026-12")])
    charged = (
        lines.filter(pl.col("date").is_null() | pl.col("date").is_in([d.date() for d in days[3:5]]))
        .group_by("imsi")
        .agg(pl.col("amount").sum())
        .filter(pl.col("amount") > 0)
    )
    imsi = min(set(active["imsi"]) & set(charged["imsi"]))
    sims = lake.read(inventory.SIMS_SPEC, {"date": days[0].date()})
    (sim_id,) = sims.filter(pl.col("imsis").list.contains(imsi))["sim_id"].to_list()

    def idle() -> set[str]:
        with lake.storage.open_read(f"{MODELS_FOLDER}/idle_sims/part-0.parquet") as handle:
            return set(pl.read_parquet(handle)["sim_id"].to_list())

    def step(load: Callable[[], None]) -> dict[str, MartBuild]:
        load()
        results = build_all(lake, marts=IDLE, models=models)
        assert_equals_full_rebuild(lake, scratch, IDLE, models)
        return results

    def traffic_without_the_sim(day: datetime) -> Callable[[], None]:
        def load() -> None:
            load_traffic_day(lake, world, day)
            _rewrite(lake, spec.name, {"date": day.date()}, lambda f: f.filter(pl.col("imsi") != imsi))

        return load

    build_all(lake, marts=IDLE, models=models)
    assert sim_id not in idle()
    step(traffic_without_the_sim(days[3]))  # window days 2-3: traffic on day 2
    assert sim_id not in idle()
    results = step(traffic_without_the_sim(days[4]))  # window days 3-4, across November's end
    assert sim_id in idle()
    monthly = results["sim_traffic_monthly"]
    assert not monthly.full and monthly.written == ("202612",)  # only the new day's month
    results = step(lambda: load_session_day(lake, world, days[5]))  # no traffic: the window stays
    assert sim_id in idle() and results["sim_traffic_monthly"].written == ()
    assert results["idle_sims"].skipped  # nothing it reads changed
    results = step(lambda: load_traffic_day(lake, world, days[3]))  # re-load: traffic on day 3
    assert sim_id not in idle()
    assert results["sim_traffic_monthly"].written == ("202611",)
    step(lambda: load_traffic_day(lake, world, days[5]))  # window days 4-5: traffic on day 5
    assert sim_id not in idle()
