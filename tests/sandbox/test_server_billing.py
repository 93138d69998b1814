"""Billing calls and exports (sync, async with processing -> exported, failures, downloads)."""

from __future__ import annotations

import time

import httpx
import pytest


def test_bills_list_only_finalized_months(sandbox, api):
    world = sandbox.world
    answer = api.get("/v1/bills")
    assert answer.status_code == 200
    bills = answer.json()["billList"]
    expected = [world.monthly_bill("jp", m) for m in world.bill_months("jp")]
    assert bills == [b for b in expected if b and b["state"] == "closed"]
    assert bills and all(b["state"] == "closed" for b in bills)


def test_monthly_and_daily_bills_match_the_world(sandbox, api):
    world = sandbox.world
    for yyyymm in world.bill_months("jp")[:3]:
        month = api.get(f"/v1/bills/{yyyymm}")
        assert month.status_code == 200
        assert month.json() == world.monthly_bill("jp", yyyymm)
        daily = api.get(f"/v1/bills/{yyyymm}/daily")
        assert daily.json() == {"billList": world.daily_bills("jp", yyyymm)}


def test_latest_bill_and_summaries(sandbox, api):
    world = sandbox.world
    assert api.get("/v1/bills/latest").json() == world.latest_bill("jp")
    assert api.get("/v1/bills/summaries/bill_items").json() == world.bill_item_summaries("jp")
    assert api.get("/v1/bills/summaries/sims").json() == world.sim_bill_summaries("jp")


@pytest.mark.parametrize("path", ["/v1/bills/202001", "/v1/bills/202001/daily"])
def test_months_older_than_18_months_are_404(api, path):
    answer = api.get(path)
    assert answer.status_code == 404
    assert set(answer.json()) == {"code", "message"}


def test_malformed_month_is_a_400(api):
    assert api.get("/v1/bills/2026-11").status_code == 400
    assert api.get("/v1/bills/202613").status_code == 400


def test_billing_export_sync_gives_a_headerless_download_of_the_csv(sandbox, api):
    yyyymm = sandbox.world.bill_months("jp")[1]
    answer = api.post(f"/v1/bills/{yyyymm}/export", params={"export_mode": "sync"})
    assert answer.status_code == 200
    url = answer.json()["url"]
    assert "/v1/" not in url
    download = httpx.get(url)
    assert download.status_code == 200
    assert download.content.startswith(b"\xef\xbb\xbf")
    assert download.content == sandbox.world.billing_csv("jp", yyyymm)


def test_sync_is_the_default_export_mode(sandbox, api):
    answer = api.post("/v1/bills/latest/export")
    assert set(answer.json()) == {"url"}
    yyyymm = sandbox.world.now.strftime("%Y%m")
    assert httpx.get(answer.json()["url"]).content == sandbox.world.billing_csv("jp", yyyymm)


def test_billing_export_async_goes_from_processing_to_exported(sandbox, api):
    yyyymm = sandbox.world.bill_months("jp")[1]
    with sandbox.configured(export_delay_s=0.3):
        answer = api.post(f"/v1/bills/{yyyymm}/export", params={"export_mode": "async"})
    body = answer.json()
    assert set(body) == {"exportedFileId", "exportedFilePath"}
    assert body["exportedFilePath"].endswith("/files/exported/" + body["exportedFileId"])
    first = api.get(f"/v1/files/exported/{body['exportedFileId']}").json()
    assert first == {"status": "processing"}
    for _ in range(100):
        state = api.get(f"/v1/files/exported/{body['exportedFileId']}").json()
        if state["status"] != "processing":
            break
        time.sleep(0.05)
    assert state["status"] == "exported"
    assert httpx.get(state["url"]).content == sandbox.world.billing_csv("jp", yyyymm)


@pytest.mark.parametrize("outcome", ["failed", "processing"])
def test_export_outcome_setting_makes_exports_fail_or_hang(sandbox, api, outcome):
    with sandbox.configured(export_delay_s=0.0, export_outcome=outcome):
        answer = api.post("/v1/bills/latest/export", params={"export_mode": "async"})
    file_id = answer.json()["exportedFileId"]
    time.sleep(0.05)
    assert api.get(f"/v1/files/exported/{file_id}").json() == {"status": outcome}


def test_unknown_exported_file_is_404(api):
    assert api.get("/v1/files/exported/fe_nope").status_code == 404


def test_download_urls_expire_and_cannot_be_guessed(sandbox, api):
    with sandbox.configured(download_url_ttl_s=0.0):
        url = api.post("/v1/bills/latest/export").json()["url"]
    expired = httpx.get(url)
    assert expired.status_code == 403
    assert b"expired" in expired.content
    guessed = httpx.get(url.split("/_files/")[0] + "/_files/guess/billing.csv")
    assert guessed.status_code == 403


def test_export_of_a_month_not_kept_is_404(api):
    assert api.post("/v1/bills/202001/export").status_code == 404
