"""`session_events`: every SIM's session events (Created / Modified / Deleted) of a UTC day.

With Soracom Query one SQL query answers a day of every SIM (assets/session_query.py).
Without it the API has only a per-SIM call, so the SIM list comes first and the calls fan out
concurrently within the rate limit. SIMs that provably had no session event in the window
are skipped (see `may_have_events`); at 100k SIMs most of a day's calls are saved that way.
"""

import asyncio
import weakref
from collections.abc import AsyncIterator, Coroutine, Mapping, Sequence
from typing import Any

import polars as pl
import pyarrow as pa

from assets.frames import TIMESTAMP, ms_to_ts, records_frame
from assets.json_pages import pages_frame
from assets.loading import Batches, Fetched, Progress
from assets.partitions import Window, by_day, daily_partitions
from assets.retention import SESSION_EVENTS
from assets.session_query import choose_path, fall_back, fetch_via_query
from assets.source import Source
from pipelines import settings
from pipelines.lake import TableSpec
from pipelines.soracom import QueryUnavailable, SoracomClient

PROGRESS_EVERY = 1000  # log a progress line every N SIMs
CHUNK = 2000  # SIMs whose pages are decoded together (bounds the raw bytes held at once)
# within a chunk (one coverage), both paths; see fetch_session_events and assets/session_query.py
CHUNK_ORDER = ["sim_id", "time_ms", "event", "session_id"]

CELL = pl.Struct(
    {
        "mcc": pl.Int64,
        "mnc": pl.Int64,
        "tac": pl.Int64,
        "eci": pl.Int64,
        "lac": pl.Int64,
        "ci": pl.Int64,
        "rac": pl.Int64,
        "sac": pl.Int64,
        "radioType": pl.Utf8,
    }
)

SHAPE: dict[str, pl.DataType] = {
    "time": pl.Int64,
    "event": pl.Utf8,
    "simId": pl.Utf8,
    "imsi": pl.Utf8,
    "sessionId": pl.Utf8,
    "operatorId": pl.Utf8,
    "imei": pl.Utf8,
    "apn": pl.Utf8,
    "subscription": pl.Utf8,
    "ueIpAddress": pl.Utf8,
    "vpgId": pl.Utf8,
    "gatewayPrivateIpAddress": pl.Utf8,
    "gatewayPublicIpAddress": pl.Utf8,
    "dns0": pl.Utf8,
    "dns1": pl.Utf8,
    "createdTime": pl.Utf8,
    "cell": CELL,
}

SPEC = TableSpec(
    name="session_events",
    schema=pa.schema(
        [
            ("date", pa.date32()),
            ("coverage", pa.string()),
            ("sim_id", pa.string()),
            ("imsi", pa.string()),
            ("time", TIMESTAMP),
            ("time_ms", pa.int64()),
            ("event", pa.string()),
            ("session_id", pa.string()),
            ("operator_id", pa.string()),
            ("imei", pa.string()),
            ("apn", pa.string()),
            ("subscription", pa.string()),
            ("ue_ip_address", pa.string()),
            ("vpg_id", pa.string()),
            ("gateway_private_ip_address", pa.string()),
            ("gateway_public_ip_address", pa.string()),
            ("dns0", pa.string()),
            ("dns1", pa.string()),
            ("created_time", pa.string()),
            ("cell_mcc", pa.int64()),
            ("cell_mnc", pa.int64()),
            ("cell_tac", pa.int64()),
            ("cell_eci", pa.int64()),
            ("cell_lac", pa.int64()),
            ("cell_ci", pa.int64()),
            ("cell_rac", pa.int64()),
            ("cell_sac", pa.int64()),
            ("cell_radio_type", pa.string()),
            ("_extra", pa.string()),
            ("_loaded_at", TIMESTAMP),
        ]
    ),
    partition_by=("date",),
    primary_key=("coverage", "sim_id", "time_ms", "event", "session_id"),
    description="SIM session events (Created/Modified/Deleted) per UTC day; cell flattened to cell_*.",
    # A few events per SIM and session a day: dictionaries of these would be as big as the data.
    plain_columns=(
        "sim_id",
        "imsi",
        "time",
        "time_ms",
        "session_id",
        "imei",
        "ue_ip_address",
        "created_time",
        "cell_eci",
    ),
)

_RENAMES = {
    "simId": "sim_id",
    "sessionId": "session_id",
    "operatorId": "operator_id",
    "ueIpAddress": "ue_ip_address",
    "vpgId": "vpg_id",
    "gatewayPrivateIpAddress": "gateway_private_ip_address",
    "gatewayPublicIpAddress": "gateway_public_ip_address",
    "createdTime": "created_time",
}


CALL = "listSimSessionEvents"
REQUIRED = ("time", "simId", "event")  # a record without one cannot be placed or told apart


def events_frame(records: list[dict[str, Any]], window: Window) -> pl.DataFrame:
    """Session event records -> typed rows of the window (the key deduplicated)."""
    return typed_events(records_frame(records, SHAPE, call=CALL, required=REQUIRED), window)


def events_frame_from_pages(pages: Sequence[bytes], window: Window) -> pl.DataFrame:
    """`events_frame` of unparsed pages: what the asset uses, decoded in bulk by Arrow."""
    return typed_events(pages_frame(pages, SHAPE, call=CALL, required=REQUIRED), window)


def typed_events(raw: pl.DataFrame, window: Window) -> pl.DataFrame:
    """Decoded records (the columns of `SHAPE` and `_extra`) -> typed rows of the window, the key
    deduplicated."""
    cell = pl.col("cell")
    frame = raw.select(
        pl.col("simId").alias("sim_id"),
        pl.col("imsi"),
        ms_to_ts("time").alias("time"),
        pl.col("time").alias("time_ms"),
        pl.col("event"),
        *(pl.col(k).alias(v) for k, v in _RENAMES.items() if k != "simId"),
        pl.col("imei"),
        pl.col("apn"),
        pl.col("subscription"),
        pl.col("dns0"),
        pl.col("dns1"),
        *(
            cell.struct.field(f).alias(f"cell_{f}")
            for f in ("mcc", "mnc", "tac", "eci", "lac", "ci", "rac", "sac")
        ),
        cell.struct.field("radioType").alias("cell_radio_type"),
        pl.col("_extra"),
    )
    frame = frame.filter(pl.col("time_ms").is_between(window.start_ms, window.end_ms, closed="left"))
    key = ["sim_id", "time_ms", "event", "session_id"]
    # An event seen twice (pages overlapping while the API moved) is rare: look before deduplicating.
    if not frame.select(pl.struct(key).is_duplicated().any()).item():
        return frame
    return frame.unique(subset=key, keep="first", maintain_order=True)


def _ms(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def may_have_events(sim: Mapping[str, Any], window_start_ms: int) -> bool:
    """False only when the SIM provably had no session event at or after `window_start_ms`.

    Every session event moves `sessionStatus.lastUpdatedAt` (or, once the session ends,
    `previousSession.deletedTime`), so a SIM that is offline now and whose latest such time
    is before the window was offline through the window and produced no event in it. A SIM
    online now, or with no times to judge by but a session history, is fetched.
    """
    status = sim.get("sessionStatus") or {}
    previous = sim.get("previousSession") or {}
    if status.get("online"):
        return True
    times = [
        t
        for t in (
            _ms(status.get("lastUpdatedAt")),
            _ms(previous.get("deletedTime")),
            _ms(previous.get("createdTime")),
        )
        if t is not None
    ]
    if not times:
        # Never had a session: no events. A SIM with no status at all is treated the same.
        return bool(status.get("sessionId") or previous.get("sessionId"))
    return max(times) >= window_start_ms


# The SIM list of each open client: a range run (backfill) lists SIMs once, not once per day.
_SIM_LISTS: weakref.WeakKeyDictionary[SoracomClient, list[dict[str, Any]]] = weakref.WeakKeyDictionary()


async def _listed(client: SoracomClient) -> AsyncIterator[dict[str, Any]]:
    """The client's SIMs (slim) as their pages arrive; the whole list is kept once listed."""
    cached = _SIM_LISTS.get(client)
    if cached is not None:
        for sim in cached:
            yield sim
        return
    sims = []
    async for sim in client.list_sims():
        sims.append(_slim(sim))
        yield sims[-1]
    _SIM_LISTS[client] = sims


_STATUS_KEYS = ("online", "lastUpdatedAt", "sessionId")
_PREVIOUS_KEYS = ("deletedTime", "createdTime", "sessionId")


def _slim(sim: dict[str, Any]) -> dict[str, Any]:
    """Only what `may_have_events` reads: a whole Sim is ~2 KB of Python objects, 100k of them
    would hold a few hundred MB for the whole load."""
    status, previous = sim.get("sessionStatus"), sim.get("previousSession")
    return {
        "simId": sim.get("simId"),
        "sessionStatus": {k: status.get(k) for k in _STATUS_KEYS} if isinstance(status, dict) else status,
        "previousSession": (
            {k: previous.get(k) for k in _PREVIOUS_KEYS} if isinstance(previous, dict) else previous
        ),
    }


async def fetch_session_events(client: SoracomClient, window: Window, progress: Progress) -> Fetched:
    """Through Soracom Query or the per-SIM calls, as SORACOM_SESSION_EVENTS_PATH says; both give
    the same rows in the same order (tests/assets/test_session_paths.py)."""
    setting = str(settings.value(settings.SESSION_EVENTS_PATH))
    if await choose_path(client, setting, progress) == "query":
        try:
            return await fetch_via_query(client, window, progress)
        except QueryUnavailable as error:
            if setting != "auto":
                raise
            progress.info(f"session events: Soracom Query refused ({error.cause}); one call per SIM from now")
            fall_back(client)
    return await fetch_via_api(client, window, progress)


async def fetch_via_api(client: SoracomClient, window: Window, progress: Progress) -> Fetched:
    """One `listSimSessionEvents` per SIM that may have events, concurrent within the rate limit,
    started as the SIM list's pages arrive (listing 10k SIMs took 6.8 s before the first call)."""
    sims: list[dict[str, Any]] = []
    candidates: list[str] = []
    ids: asyncio.Queue[str | None] = asyncio.Queue()
    workers = client.settings.max_concurrency  # as `map_concurrent`; the client bounds requests
    listing = True
    done = 0
    counted_while_listing = False  # the last progress count came before the total was known
    held: list[bytes] = []  # pages of SIMs fetched since the last decode
    held_sims = 0
    frames: list[pl.DataFrame] = []

    async def list_sims() -> None:
        nonlocal listing
        async for sim in _listed(client):
            sims.append(sim)
            if sim.get("simId") and may_have_events(sim, window.start_ms):
                candidates.append(str(sim["simId"]))
                ids.put_nowait(candidates[-1])
        listing = False
        progress.info(
            f"{len(sims)} SIMs listed; {len(candidates)} may have session events in {window}, "
            f"{len(sims) - len(candidates)} skipped"
        )
        for _ in range(workers):
            ids.put_nowait(None)

    def decode() -> None:
        nonlocal held, held_sims
        frames.append(events_frame_from_pages(held, window))
        held, held_sims = [], 0
        progress.add_rows(frames[-1].height)

    async def fetch_sims() -> None:
        nonlocal done, held_sims, counted_while_listing
        while (sim_id := await ids.get()) is not None:
            try:
                pages = [
                    p async for p in client.raw_sim_session_event_pages(sim_id, window.start, window.end)
                ]
            except Exception as error:
                error.add_note(f"while processing {sim_id!r}")
                raise
            held.extend(pages)
            held_sims += 1
            done += 1
            progress.every(done, len(candidates), PROGRESS_EVERY, "SIMs fetched", growing=listing)
            counted_while_listing = listing
            if held_sims >= CHUNK:  # bounds the raw bytes held at once
                decode()

    await _first_error_cancels_all([list_sims(), *(fetch_sims() for _ in range(workers))])
    if held_sims:
        decode()
    if counted_while_listing:  # every SIM was fetched before the list ended: the end's count
        progress.every(done, len(candidates), PROGRESS_EVERY, "SIMs fetched")
    parts = _sorted_chunks(frames, sorted(candidates))
    frames.clear()
    frame = Batches(lambda: iter(parts or [events_frame([], window)]))
    return Fetched(
        frame,
        {
            "session_events_path": "api",
            "sims_listed": len(sims),
            "sims_fetched": len(candidates),
            "sims_skipped": len(sims) - len(candidates),
        },
    )


async def _first_error_cancels_all(coroutines: list[Coroutine[Any, Any, None]]) -> None:
    """Run `coroutines` together; the first exception cancels the rest and propagates unchanged
    (as `iter_concurrent` does: a SoracomRetryError must reach the step's retry handling)."""
    tasks = [asyncio.ensure_future(c) for c in coroutines]
    try:
        finished, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        for task in finished:
            if not task.cancelled() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _sorted_chunks(frames: list[pl.DataFrame], candidates: list[str]) -> list[pl.DataFrame]:
    """The rows of `frames` (SIMs decoded in the order they were fetched) regrouped into the
    chunks of CHUNK sorted SIM ids, each sorted: consecutive runs of sorted ids, so sorted as a
    whole, and going to the lake as batches, never one day concatenated and sorted (at 100k
    SIMs that took more memory than the rest of the load). Each SIM's rows come from one
    frame (deduplicated there), so the chunks hold what decoding them directly did."""
    if not frames:
        return []
    rows = pl.concat(frames, how="vertical_relaxed", rechunk=False)
    firsts = [candidates[offset] for offset in range(CHUNK, len(candidates), CHUNK)]
    parts = []
    for low, high in zip([None, *firsts], [*firsts, None], strict=True):
        chunk = rows
        if low is not None:
            chunk = chunk.filter(pl.col("sim_id") >= low)
        if high is not None:
            chunk = chunk.filter(pl.col("sim_id") < high)
        parts.append(chunk.sort(CHUNK_ORDER, nulls_last=True, maintain_order=True))
    return parts


SESSION_EVENTS_SOURCE = Source(
    spec=SPEC,
    retention=SESSION_EVENTS,
    partitions_def=daily_partitions,
    lake_partition=by_day,
    fetch=fetch_session_events,
    group="sessions",
    sort_by=("coverage", "sim_id", "time_ms", "event"),
    job="daily",
    pool="sims",  # lists the SIMs (listSims) as the inventory's `sims` does
    api="Soracom Query `SIM_SESSION_EVENTS` (one query a day), else `/sims/{id}/events/sessions`, per SIM",
)
session_events = SESSION_EVENTS_SOURCE.asset
