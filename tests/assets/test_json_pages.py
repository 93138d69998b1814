"""Unparsed JSON pages -> frames: the bulk (Arrow) path gives exactly what the dict path gives,
takes clean pages itself, and hands every irregular answer to the dict path."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from assets import json_pages, sessions
from assets.frames import AnswerError, records_frame
from assets.json_pages import pages_frame
from assets.partitions import daily_partitions, window_for
from sandbox.server.jsonbody import dumps
from sandbox.world import World

DAY = window_for(daily_partitions, "2026-11-28")
SHAPE, CALL, REQUIRED = sessions.SHAPE, sessions.CALL, sessions.REQUIRED


def event(**fields: object) -> dict[str, object]:
    return {"time": DAY.start_ms + 1, "event": "Created", "simId": "1", "sessionId": "s", **fields}


def both(pages: list[bytes]) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(bulk path, dict path) of the same pages."""
    records = [r for page in pages if page.strip() for r in json.loads(page)]
    return (
        pages_frame(pages, SHAPE, call=CALL, required=REQUIRED),
        records_frame(records, SHAPE, call=CALL, required=REQUIRED),
    )


@pytest.fixture
def no_dict_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if the bulk path hands the pages to the dict path."""

    def refuse(*args: object, **kwargs: object) -> pl.DataFrame:
        raise AssertionError("clean pages fell back to the dict path")

    monkeypatch.setattr(json_pages, "records_frame", refuse)


def world_pages(sims: int = 300) -> list[bytes]:
    world = World(seed=7, sims=sims, now=DAY.end + timedelta(hours=2))
    by_sim: dict[str, list[dict[str, object]]] = {}
    for record in world.all_session_events("jp", DAY.start_ms, DAY.end_ms):
        by_sim.setdefault(str(record["simId"]), []).append(record)
    return [dumps(events) for events in by_sim.values()] + [b"[]"]


def test_a_day_of_sandbox_pages_decodes_in_bulk_to_the_dict_paths_frame(no_dict_path: None) -> None:
    pages = world_pages()
    bulk = pages_frame(pages, SHAPE, call=CALL, required=REQUIRED)
    records = [r for page in pages for r in json.loads(page)]
    assert bulk.height == len(records) > 1000
    assert_frame_equal(bulk, records_frame(records, SHAPE, call=CALL, required=REQUIRED))
    assert_frame_equal(sessions.events_frame_from_pages(pages, DAY), sessions.events_frame(records, DAY))


def test_pretty_printed_and_huge_pages_stay_on_the_bulk_path(no_dict_path: None) -> None:
    pretty = json.dumps([event(), event(time=DAY.start_ms + 2, imei="35\\n")], indent=2).encode()
    assert b"\n" in pretty
    huge = dumps([event(time=DAY.start_ms + 10 + n, sessionId="x" * 50) for n in range(30_000)])
    assert len(huge) > 2 * json_pages._MIN_BLOCK
    frame = pages_frame([b"  \n", pretty, huge, b"[]\r\n"], SHAPE, call=CALL, required=REQUIRED)
    assert frame.height == 30_002
    assert frame["imei"][1] == "35\\n"


def test_unknown_keys_land_in_extra_as_the_dict_path_keeps_them() -> None:
    pages = [
        dumps([event(cell={"mcc": 440, "nci": 7}, newField=[1, {"a": None}])]),
        dumps([event(time=DAY.start_ms + 2, when="2026-11-28T00:00:00Z")]),
        dumps([event(time=DAY.start_ms + 3)]),
    ]
    bulk, dicts = both(pages)
    assert_frame_equal(bulk, dicts)
    assert [json.loads(x) if x else None for x in bulk["_extra"]] == [
        {"cell": {"nci": 7}, "newField": [1, {"a": None}]},
        {"when": "2026-11-28T00:00:00Z"},
        None,
    ]


def test_a_number_where_text_is_declared_is_read_as_the_dict_path_reads_it() -> None:
    bulk, dicts = both([dumps([event(imsi=440103000000001)])])
    assert_frame_equal(bulk, dicts)
    assert bulk["imsi"].to_list() == ["440103000000001"]


@pytest.mark.parametrize(
    ("page", "problem"),
    [
        (dumps([event(time="yesterday")]), "expected shape"),
        (dumps({"time": 1}), "expected a JSON list of records, got dict"),
        (b'[{"time": 1, "event": "Created", "simId": "1"', "expected shape"),
        (dumps([event(time=None)]), "'time' in 1 of 2 records"),
        (dumps([1, 2]), "expected shape"),
    ],
)
def test_bad_answers_fail_naming_the_call_and_the_problem(page: bytes, problem: str) -> None:
    with pytest.raises(AnswerError) as caught:
        pages_frame([dumps([event()]), page], SHAPE, call=CALL, required=REQUIRED)
    message = str(caught.value)
    assert message.startswith(f"{CALL}: ")
    assert problem in message
    assert "partition was not loaded" in message


def test_no_pages_or_only_empty_pages_give_an_empty_frame_of_the_shape() -> None:
    for pages in ([], [b"[]", b" [ ] ", b""]):
        frame = pages_frame(pages, SHAPE, call=CALL, required=REQUIRED)
        assert frame.height == 0
        assert frame.columns == [*SHAPE, "_extra"]
        assert sessions.events_frame_from_pages(pages, DAY).height == 0


def test_window_and_duplicate_rules_are_those_of_the_dict_path(no_dict_path: None) -> None:
    start = datetime(2026, 11, 28, tzinfo=UTC)
    assert DAY.start == start
    inside = event(time=DAY.start_ms)
    pages = [dumps([inside, inside]), dumps([event(time=DAY.end_ms), event(time=DAY.start_ms - 1)])]
    frame = sessions.events_frame_from_pages(pages, DAY)
    assert frame["time_ms"].to_list() == [DAY.start_ms]
