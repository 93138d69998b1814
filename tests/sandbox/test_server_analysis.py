"""Soracom Query in the sandbox: schemas, async statuses, the gzipped CSV result equal to the
per-SIM session events, the error answers, and that the posted SQL cannot reach files."""

from __future__ import annotations

import csv
import gzip
import io
import time
from typing import Any

import httpx
import pytest

from sandbox.world.analysis import TABLES

DAY_S = 86_400


@pytest.fixture(autouse=True)
def _query_enabled(sandbox: Any) -> Any:
    with sandbox.configured(query_enabled=True):
        yield


SOME_DAY = {"from": 1_764_000_000, "to": 1_764_086_400}


def _window(sandbox: Any, days_back: int = 1) -> dict[str, int]:
    day = sandbox.world.now_ms // 1000 // DAY_S * DAY_S - days_back * DAY_S
    return {"from": day, "to": day + DAY_S}


def _start(api: httpx.Client, sql: str, window: dict[str, int]) -> httpx.Response:
    return api.post("/v1/analysis/queries", json={"sql": sql, **window})


def _poll(api: httpx.Client, query_id: str) -> list[dict[str, Any]]:
    answers = []
    for _ in range(50):
        answer = api.get(f"/v1/analysis/queries/{query_id}")
        assert answer.status_code == 200, answer.text
        answers.append(answer.json())
        if answers[-1]["status"] in ("COMPLETED", "FAILED"):
            return answers
        time.sleep(0.05)
    pytest.fail(f"query {query_id} never finished: {answers[-1]}")


def _rows(url: str) -> list[dict[str, str]]:
    body = httpx.get(url, timeout=30)
    assert body.status_code == 200, body.text
    return list(csv.DictReader(io.StringIO(gzip.decompress(body.content).decode())))


def test_schemas_list_every_field_of_a_session_event(sandbox, api):
    answer = api.get("/v1/analysis/schemas")
    assert answer.status_code == 200
    tables = {t["name"]: {c["name"]: c for c in t["columnInfo"]} for t in answer.json()}
    columns = tables["SIM_SESSION_EVENTS"]
    assert {"APN", "DNS0", "DNS1", "EVENT", "HPLMN", "ICCID"} <= set(columns)
    assert columns["TIME"]["databaseType"] == "TIMESTAMP_TZ" and columns["TIME"]["type"] == "Time"
    assert columns["CELL_ECI"] == {**columns["CELL_ECI"], "databaseType": "FIXED", "type": "int64"}
    assert "assumed by the sandbox" in columns["SESSION_ID"]["description"]
    assert "assumed" not in columns["APN"]["description"]
    event = sandbox.world.all_session_events("jp", *(t * 1000 for t in _window(sandbox).values()))[0]
    fields = {k for k in event if k != "cell"} | {f"cell_{k}" for k in event["cell"]}
    upper = {"".join("_" + c if c.isupper() else c.upper() for c in f).lstrip("_") for f in fields}
    assert upper <= set(columns), upper - set(columns)


def test_a_query_runs_through_its_statuses_to_the_per_sim_events(sandbox, api):
    window = _window(sandbox)
    started = _start(api, "SELECT SIM_ID, TIME, EVENT, SESSION_ID, CELL_ECI FROM SIM_SESSION_EVENTS", window)
    assert started.status_code == 200, started.text
    answers = _poll(api, started.json()["queryId"])
    statuses = [a["status"] for a in answers]  # EXPORTING repeats while the file is being written
    assert statuses[:3] == ["STARTING", "RUNNING", "EXPORTING"] and statuses[-1] == "COMPLETED"
    assert set(statuses[2:-1]) == {"EXPORTING"}
    done = answers[-1]
    assert [c["name"] for c in done["columnInfo"]] == ["SIM_ID", "TIME", "EVENT", "SESSION_ID", "CELL_ECI"]
    assert done["columnInfo"][1]["databaseType"] == "TIMESTAMP_TZ"
    assert done["usedExecCount"] >= 1 and done["fileSize"] < done["uncompressedFileSize"]
    rows = _rows(done["url"])
    assert len(rows) == done["rowCount"]
    truth = sandbox.world.all_session_events("jp", window["from"] * 1000, window["to"] * 1000)
    assert sorted((r["SIM_ID"], r["EVENT"], r["SESSION_ID"], int(r["CELL_ECI"])) for r in rows) == sorted(
        (e["simId"], e["event"], e["sessionId"], e["cell"]["eci"]) for e in truth
    )
    assert rows and all(r["TIME"].endswith("Z") and "." in r["TIME"] for r in rows)


def test_the_result_url_refuses_soracom_headers(api):
    started = _start(api, "SELECT COUNT(*) AS N FROM SIM_SESSION_EVENTS", SOME_DAY)
    url = _poll(api, started.json()["queryId"])[-1]["url"]
    leaked = httpx.get(url, headers={"X-Soracom-API-Key": "k", "X-Soracom-Token": "t"})
    assert leaked.status_code == 400 and "InvalidArgument" in leaked.text
    assert httpx.get(url).status_code == 200


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT * FROM read_csv('{path}')",
        "SELECT * FROM '{path}'",
        "SELECT * FROM glob('{dir}/*')",
        "COPY (SELECT 1) TO '{dir}/out.csv'",
        "ATTACH '{dir}/other.duckdb'",
        "PRAGMA version",
        "SET enable_external_access = true",
        "SELECT current_setting('temp_directory')",
        "SELECT * FROM duckdb_settings()",
        "SELECT * FROM query('SELECT 1')",
        "INSTALL httpfs",
        "SELECT 1; SELECT 2",
        "SELECT * FROM SIM_SESSION_EVENT",
        "SELEC 1",
        "SELECT NO_SUCH_COLUMN FROM SIM_SESSION_EVENTS",
        "SELECT ST_Point(1, 2) FROM SIM_SESSION_EVENTS",
    ],
)
def test_only_a_select_over_the_query_tables_may_run(api, tmp_path, sql):
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    answer = _start(api, sql.format(path=secret, dir=tmp_path), SOME_DAY)
    assert answer.status_code == 400, answer.text
    assert answer.json()["code"] == "ANL0003"
    assert str(tmp_path) not in answer.text
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.csv"]


def test_error_answers(sandbox, api):
    assert api.get("/v1/analysis/queries/0123456789abcdef").status_code == 404
    assert _start(api, "SELECT 1", {"from": 20, "to": 10}).status_code == 400
    failing = _start(api, "SELECT CAST(EVENT AS INTEGER) FROM SIM_SESSION_EVENTS", _window(sandbox))
    assert failing.status_code == 200
    last = _poll(api, failing.json()["queryId"])[-1]
    assert last["status"] == "FAILED" and "Created" in last["message"]
    with sandbox.configured(query_enabled=False):
        for answer in (
            api.get("/v1/analysis/schemas"),
            _start(api, "SELECT 1", _window(sandbox)),
            api.get(f"/v1/analysis/queries/{failing.json()['queryId']}"),
        ):
            assert answer.status_code == 403 and answer.json()["code"] == "ANL0001", answer.text
    with sandbox.configured(query_monthly_quota=0):
        exhausted = _start(api, "SELECT 1", _window(sandbox))
        assert exhausted.status_code == 403 and exhausted.json()["code"] == "ANL0002"
        assert api.get("/v1/analysis/schemas").status_code == 200


def test_a_result_too_big_fails_instead_of_filling_the_disk(sandbox, api, monkeypatch):
    from sandbox.server import queries

    monkeypatch.setattr(queries, "MAX_RESULT_ROWS", 10)
    monkeypatch.setattr(queries, "RESULT_BATCH_ROWS", 5)
    started = _start(api, "SELECT * FROM SIM_SESSION_EVENTS a, SIM_SESSION_EVENTS b", _window(sandbox))
    last = _poll(api, started.json()["queryId"])[-1]
    assert last["status"] == "FAILED" and "more than 10 rows" in last["message"], last
    assert not list(sandbox.state.queries.results_dir().glob("*.tmp"))


def test_sim_stats_are_the_air_usage_export_rows_of_the_day(sandbox, api):
    window = _window(sandbox)
    sql = "SELECT IMSI, TYPE, UPLOAD_BYTE_SIZE_TOTAL AS UP, DOWNLOAD_BYTE_SIZE_TOTAL AS DOWN FROM SIM_STATS"
    rows = _rows(_poll(api, _start(api, sql, window).json()["queryId"])[-1]["url"])
    export = sandbox.world.air_usage_rows("jp", "day", window["from"], window["to"] - 1)
    assert sorted((r["IMSI"], r["TYPE"], int(r["UP"]), int(r["DOWN"])) for r in rows) == sorted(
        (e["imsi"], e["type"], e["uploadByteSizeTotal"], e["downloadByteSizeTotal"]) for e in export
    )
    assert rows


def test_every_table_has_rows_in_the_sandbox(sandbox, api):
    for table in TABLES:
        started = _start(api, f"SELECT COUNT(*) AS N FROM {table}", _window(sandbox))
        done = _poll(api, started.json()["queryId"])[-1]
        assert int(_rows(done["url"])[0]["N"]) > 0
