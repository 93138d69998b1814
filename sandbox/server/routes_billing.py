"""Billing: monthly and daily bills, the latest bill, detailed CSV exports, summaries."""

from __future__ import annotations

import re

from starlette.responses import Response

from sandbox.server.call import Call, Operation, json_response
from sandbox.server.errors import ApiError, bad_request, not_found
from sandbox.server.exports_api import export_answer

BILL_NOT_CLOSED = "BIL0004"  # the sandbox's own code (Soracom's is not documented)
_YYYYMM = re.compile(r"^\d{4}(0[1-9]|1[0-2])$")


def _month(call: Call) -> str:
    """The path's yyyyMM, checked for shape and for being within the 18 months kept."""
    yyyymm = call.request.path_params["yyyyMM"]
    if not _YYYYMM.match(yyyymm):
        raise bad_request(f"yyyyMM must be a month like 202611, got {yyyymm!r}")
    if yyyymm not in call.world.bill_months(call.coverage):
        raise not_found(f"No bill for {yyyymm}: bills are kept for the last 18 months only.")
    return yyyymm


async def get_billing_history(call: Call) -> Response:
    """Finalized (closed) months only, newest first."""
    bills = []
    for yyyymm in call.world.bill_months(call.coverage):
        bill = call.world.monthly_bill(call.coverage, yyyymm)
        if bill is not None and bill.get("state") == "closed":
            bills.append(bill)
    return json_response({"billList": bills})


async def get_billing(call: Call) -> Response:
    yyyymm = _month(call)
    bill = call.world.monthly_bill(call.coverage, yyyymm)
    if bill is None:
        raise not_found(f"No bill for {yyyymm}.")
    return json_response(bill)


async def get_billing_per_day(call: Call) -> Response:
    yyyymm = _month(call)
    return json_response({"billList": call.world.daily_bills(call.coverage, yyyymm)})


async def get_latest_billing(call: Call) -> Response:
    return json_response(call.world.latest_bill(call.coverage))


async def export_billing(call: Call) -> Response:
    """A month's detailed CSV, only once its bill is closed: Soracom exports the previous month
    only after closing (1-3 business days into the next month) and answers the spec's 404
    ("Bill not found") before; the current month is exported by /bills/latest/export."""
    yyyymm = _month(call)
    world, coverage = call.world, call.coverage
    if world.bill_state(yyyymm) != "closed":
        raise ApiError(404, BILL_NOT_CLOSED, f"Bill not found: the bill of {yyyymm} is not closed yet.")
    return await export_answer(
        call, f"billing_{coverage}_{yyyymm}.csv", lambda out: out.write(world.billing_csv(coverage, yyyymm))
    )


async def export_latest_billing(call: Call) -> Response:
    world, coverage = call.world, call.coverage
    yyyymm = world.now.strftime("%Y%m")
    return await export_answer(
        call, f"billing_{coverage}_{yyyymm}.csv", lambda out: out.write(world.billing_csv(coverage, yyyymm))
    )


async def get_billing_summary_of_bill_items(call: Call) -> Response:
    return json_response(call.world.bill_item_summaries(call.coverage))


async def get_billing_summary_of_sims(call: Call) -> Response:
    return json_response(call.world.sim_bill_summaries(call.coverage))


# Order matters: the fixed paths must come before /bills/{yyyyMM}.
OPERATIONS = [
    Operation("GET", "/bills", "getBillingHistory", get_billing_history, cache_answers=True),
    Operation("GET", "/bills/latest", "getLatestBilling", get_latest_billing, cache_answers=True),
    Operation("POST", "/bills/latest/export", "exportLatestBilling", export_latest_billing),
    Operation(
        "GET",
        "/bills/summaries/bill_items",
        "getBillingSummaryOfBillItems",
        get_billing_summary_of_bill_items,
        cache_answers=True,
    ),
    Operation(
        "GET",
        "/bills/summaries/sims",
        "getBillingSummaryOfSims",
        get_billing_summary_of_sims,
        cache_answers=True,
    ),
    Operation("GET", "/bills/{yyyyMM}", "getBilling", get_billing, cache_answers=True),
    Operation("GET", "/bills/{yyyyMM}/daily", "getBillingPerDay", get_billing_per_day, cache_answers=True),
    Operation("POST", "/bills/{yyyyMM}/export", "exportBilling", export_billing),
]
