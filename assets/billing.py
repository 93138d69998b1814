"""Billing: monthly bills, daily bills and the detailed billing CSV per month, plus the
daily snapshot of the billing summaries.

The current month has no bill yet: it is loaded from `/bills/latest*` and every row is
marked `preliminary`. A past month stays preliminary until its bill is `closed` (2nd-3rd
business day of the next month); the billing schedule reloads it until then
(`month_needs_reload`).
"""

import asyncio
from datetime import datetime
from typing import Any

import polars as pl
import pyarrow as pa

from assets.frames import (
    MONEY,
    TIMESTAMP,
    csv_extra,
    money,
    money_values,
    records_frame,
    s_to_ts,
    typing_answer_of,
)
from assets.loading import Fetch, Fetched, Progress
from assets.partitions import (
    Window,
    by_day,
    by_month,
    daily_partitions,
    month_start,
    month_value,
    monthly_partitions,
    window_for,
)
from assets.retention import BILLING_SUMMARIES, BILLS
from assets.source import Source
from pipelines.lake import Lake, TableSpec
from pipelines.soracom import SoracomAPIError, SoracomClient, parse_csv

BILL_SHAPE: dict[str, pl.DataType] = {
    "yearMonth": pl.Utf8,
    "currency": pl.Utf8,
    "state": pl.Utf8,
    "paymentStatus": pl.Utf8,
    "paymentTransactionId": pl.Utf8,
    "lastEvaluatedTime": pl.Utf8,
}
BILL_MONEY = ("amount", "appliedCouponAmount")
DAILY_SHAPE: dict[str, pl.DataType] = {"date": pl.Utf8, "currency": pl.Utf8}

# Detailed billing CSV columns we type; anything else (tags, new id columns) goes to _extra.
ITEM_IDS = {
    "imsi": "imsi",
    "vpgId": "vpg_id",
    "loraDeviceId": "lora_device_id",
    "sigfoxDeviceId": "sigfox_device_id",
    "deviceId": "device_id",
    "gadgetId": "gadget_id",
    "soraCamDeviceId": "sora_cam_device_id",
}
ITEM_KNOWN = (*ITEM_IDS, "date", "billItemName", "unitPrice", "quantity", "amount")

_MONTH = [("month", pa.string())]
_LINEAGE = [("_extra", pa.string()), ("_loaded_at", TIMESTAMP)]

BILLS_SPEC = TableSpec(
    name="bills",
    schema=pa.schema(
        [
            *_MONTH,
            ("coverage", pa.string()),
            ("year_month", pa.string()),
            ("amount", MONEY),
            ("currency", pa.string()),
            ("state", pa.string()),
            ("preliminary", pa.bool_()),
            ("payment_status", pa.string()),
            ("payment_transaction_id", pa.string()),
            ("applied_coupon_amount", MONEY),
            ("last_evaluated_time", TIMESTAMP),
            *_LINEAGE,
        ]
    ),
    partition_by=("month",),
    primary_key=("coverage", "year_month"),
    description="Monthly bill per coverage. The current month comes from /bills/latest (state null, "
    "preliminary); a past month is preliminary until its state is `closed`.",
)

DAILY_BILLS_SPEC = TableSpec(
    name="daily_bills",
    schema=pa.schema(
        [
            *_MONTH,
            ("coverage", pa.string()),
            ("date", pa.date32()),
            ("amount", MONEY),
            ("currency", pa.string()),
            ("preliminary", pa.bool_()),
            *_LINEAGE,
        ]
    ),
    partition_by=("month",),
    primary_key=("coverage", "date"),
    description="Usage-based charges per day (monthly fees are not in daily bills).",
)

ITEMS_SPEC = TableSpec(
    name="billing_items",
    schema=pa.schema(
        [
            *_MONTH,
            ("coverage", pa.string()),
            ("year_month", pa.string()),
            ("date", pa.date32()),
            ("date_text", pa.string()),
            *[(col, pa.string()) for col in ITEM_IDS.values()],
            ("bill_item_name", pa.string()),
            ("unit_price", MONEY),
            ("quantity", MONEY),
            ("amount", MONEY),
            ("preliminary", pa.bool_()),
            *_LINEAGE,
        ]
    ),
    partition_by=("month",),
    description="Lines of the detailed billing CSV (amount = unit_price x quantity, in whole yen on "
    "JPY; discounts are separate lines). `date` is the day of usage-based lines (null on monthly "
    "lines, whose `date_text` is yyyyMM). Tag and other columns are kept in _extra.",
)

SUMMARIES_SPEC = TableSpec(
    name="billing_summaries",
    schema=pa.schema(
        [
            ("date", pa.date32()),
            ("coverage", pa.string()),
            ("summary", pa.string()),
            ("year_month", pa.string()),
            ("currency", pa.string()),
            ("updated_time", TIMESTAMP),
            ("updated_time_s", pa.int64()),
            ("bill_item_category", pa.string()),
            ("bill_item_name", pa.string()),
            ("sim_id", pa.string()),
            ("amount", MONEY),
            *_LINEAGE,
        ]
    ),
    partition_by=("date",),
    description="Daily snapshot of /bills/summaries: cost per bill item (summary='bill_items') and "
    "the top SIMs by cost (summary='sims'), this month and the 3 before.",
)


def is_current_month(window: Window, now: datetime) -> bool:
    return window.start <= now < window.end


def _parse_evaluated(column: str) -> pl.Expr:
    return (
        pl.col(column)
        .str.strptime(pl.Datetime("us"), "%Y%m%d%H%M%S", strict=False)
        .dt.replace_time_zone("UTC")
    )


def bills_frame(
    records: list[dict[str, Any]], preliminary: list[bool], call: str = "getBilling"
) -> pl.DataFrame:
    raw = records_frame(records, BILL_SHAPE, handled=BILL_MONEY, call=call, required=("yearMonth",))
    return raw.select(
        pl.col("yearMonth").alias("year_month"),
        money_values("amount", (r.get("amount") for r in records)),
        pl.col("currency"),
        pl.col("state"),
        pl.Series("preliminary", preliminary, dtype=pl.Boolean),
        pl.col("paymentStatus").alias("payment_status"),
        pl.col("paymentTransactionId").alias("payment_transaction_id"),
        money_values("applied_coupon_amount", (r.get("appliedCouponAmount") for r in records)),
        _parse_evaluated("lastEvaluatedTime").alias("last_evaluated_time"),
        pl.col("_extra"),
    )


def daily_bills_frame(records: list[dict[str, Any]], preliminary: bool) -> pl.DataFrame:
    raw = records_frame(
        records, DAILY_SHAPE, handled=("amount",), call="getBillingPerDay", required=("date",)
    )
    return raw.select(
        pl.col("date").str.strptime(pl.Date, "%Y%m%d", strict=True).alias("date"),
        money_values("amount", (r.get("amount") for r in records)),
        pl.col("currency"),
        pl.lit(preliminary).alias("preliminary"),
        pl.col("_extra"),
    )


def items_frame(csv: bytes, yyyymm: str, preliminary: bool, call: str = "exportBilling") -> pl.DataFrame:
    """The detailed billing CSV -> typed lines; any typing error names `call`."""
    with typing_answer_of(call, "billing CSV export"):
        return _items_frame(csv, yyyymm, preliminary)


def _items_frame(csv: bytes, yyyymm: str, preliminary: bool) -> pl.DataFrame:
    raw = parse_csv(csv)
    required = ("billItemName", "amount")
    missing = [c for c in required if c not in raw.columns]
    if missing and raw.height:
        raise ValueError(f"billing CSV lacks columns {missing}; header: {raw.columns}")
    for column in ITEM_KNOWN:
        if column not in raw.columns:
            raw = raw.with_columns(pl.lit(None, dtype=pl.Utf8).alias(column))

    def blank_to_null(column: str) -> pl.Expr:
        value = pl.col(column).str.strip_chars()
        return pl.when(value == "").then(None).otherwise(value)

    return raw.select(
        pl.lit(yyyymm).alias("year_month"),
        pl.when(blank_to_null("date").str.len_chars() == 8)
        .then(blank_to_null("date"))
        .str.strptime(pl.Date, "%Y%m%d", strict=True)
        .alias("date"),
        blank_to_null("date").alias("date_text"),
        *(blank_to_null(src).alias(col) for src, col in ITEM_IDS.items()),
        pl.col("billItemName").alias("bill_item_name"),
        money(blank_to_null("unitPrice")).alias("unit_price"),
        money(blank_to_null("quantity")).alias("quantity"),
        money(blank_to_null("amount")).alias("amount"),
        pl.lit(preliminary).alias("preliminary"),
        csv_extra(raw, ITEM_KNOWN),
    )


async def _month_bill(
    client: SoracomClient, window: Window, now: datetime
) -> tuple[dict[str, Any] | None, bool]:
    """The month's bill record and whether it is preliminary."""
    if is_current_month(window, now):
        latest = await client.get_latest_bill()
        return {**latest, "yearMonth": latest.get("yearMonth", window.yyyymm)}, True
    bill = await client.get_bill(window.yyyymm)
    return bill, bill is None or bill.get("state") != "closed"


async def fetch_bills(client: SoracomClient, window: Window, progress: Progress) -> Fetched:
    now = progress.run_now()  # one instant for the whole fetch: a month boundary cannot split it
    bill, preliminary = await _month_bill(client, window, now)
    records = [bill] if bill else []
    call = "getLatestBilling" if is_current_month(window, now) else "getBilling"
    progress.info(
        f"bill {window.yyyymm}: {bill.get('state') if bill else 'not issued yet'}, preliminary={preliminary}"
    )
    return Fetched(bills_frame(records, [preliminary] * len(records), call), {"preliminary": preliminary})


async def fetch_daily_bills(client: SoracomClient, window: Window, progress: Progress) -> Fetched:
    (_, preliminary), records = await asyncio.gather(
        _month_bill(client, window, progress.run_now()), client.get_daily_bills(window.yyyymm)
    )
    progress.info(f"{len(records)} daily bills for {window.yyyymm}")
    return Fetched(daily_bills_frame(list(records), preliminary), {"preliminary": preliminary})


async def fetch_billing_items(client: SoracomClient, window: Window, progress: Progress) -> Fetched:
    now = progress.run_now()
    _, preliminary = await _month_bill(client, window, now)
    if is_current_month(window, now):
        call, csv = "exportLatestBilling", await client.export_latest_bill()
    else:
        call = "exportBilling"
        try:
            csv = await client.export_bill(window.yyyymm)
        except SoracomAPIError as refusal:
            if not preliminary or refusal.status not in EXPORT_REFUSED:
                raise
            return _export_refused(window, progress, refusal)
    frame = items_frame(csv, window.yyyymm, preliminary, call)
    progress.info(f"billing CSV {window.yyyymm}: {len(csv)} bytes, {frame.height} lines")
    return Fetched(frame, {"preliminary": preliminary, "export_bytes": len(csv)})


# What Soracom answers to the export of a month whose bill is not closed yet (the spec's 404).
EXPORT_REFUSED = (400, 404)


def _export_refused(window: Window, progress: Progress, refusal: SoracomAPIError) -> Fetched:
    """The month is past but not closed (the first 1-3 business days of the next month), and
    Soracom exports its CSV only after closing: keep the lines already loaded (preliminary,
    from the month's last `exportLatestBilling`); the billing schedule reloads the month until
    its bill is closed (`month_needs_reload`)."""
    progress.warning(
        f"billing CSV {window.yyyymm}: the month is not closed yet and Soracom refused its export "
        f"({refusal}); keeping the preliminary lines already loaded; a later run loads the closed month"
    )
    return Fetched(
        pl.DataFrame(),
        {"preliminary": True, "export_refused": f"not closed yet: {refusal}"},
        keep_loaded=True,
    )


def summaries_frame(bill_items: list[dict[str, Any]], sims: list[dict[str, Any]]) -> pl.DataFrame:
    """Flatten each month's costBreakdownList into one row per item (or per SIM)."""
    rows: list[dict[str, Any]] = []
    for summary, months in (("bill_items", bill_items), ("sims", sims)):
        for month in months:
            head = {
                "summary": summary,
                "yearMonth": month.get("yearMonth"),
                "currency": month.get("currency"),
                "updatedTime": month.get("updatedTime"),
            }
            extra_month = {
                k: v
                for k, v in month.items()
                if k not in ("yearMonth", "currency", "updatedTime", "costBreakdownList")
            }
            for item in month.get("costBreakdownList") or []:
                row = {**head, **item}
                if extra_month:
                    row["_month"] = extra_month
                rows.append(row)
    shape = {
        "summary": pl.Utf8,
        "yearMonth": pl.Utf8,
        "currency": pl.Utf8,
        "updatedTime": pl.Int64,
        "billItemCategory": pl.Utf8,
        "billItemName": pl.Utf8,
        "simId": pl.Utf8,
    }
    raw = records_frame(
        rows, shape, handled=("amount",), call="getBillingSummaryOfBillItems/getBillingSummaryOfSims"
    )
    return raw.select(
        pl.col("summary"),
        pl.col("yearMonth").alias("year_month"),
        pl.col("currency"),
        s_to_ts("updatedTime").alias("updated_time"),
        pl.col("updatedTime").alias("updated_time_s"),
        pl.col("billItemCategory").alias("bill_item_category"),
        pl.col("billItemName").alias("bill_item_name"),
        pl.col("simId").alias("sim_id"),
        money_values("amount", (r.get("amount") for r in rows)),
        pl.col("_extra"),
    )


async def fetch_summaries(client: SoracomClient, window: Window, progress: Progress) -> Fetched:
    bill_items, sims = await asyncio.gather(client.get_bill_item_summaries(), client.get_sim_bill_summaries())
    frame = summaries_frame(list(bill_items), list(sims))
    progress.info(f"billing summaries: {frame.height} rows")
    return Fetched(frame)


def month_needs_reload(lake: Lake, month_key: str) -> bool:
    """True until every coverage's bill of the month is loaded and `closed`."""
    window = window_for(monthly_partitions, month_key)
    partition = {"month": month_value(window)}
    if not lake.has_partition(BILLS_SPEC, partition):
        return True
    bills = lake.read(BILLS_SPEC, partition)
    return bills.height == 0 or bool(bills["preliminary"].any())


def billing_months(now: datetime) -> list[str]:
    """Dagster keys of the previous and the current month."""
    return [month_start(now, 1).strftime("%Y-%m-%d"), month_start(now).strftime("%Y-%m-%d")]


def _monthly(spec: TableSpec, fetch: Fetch, sort_by: tuple[str, ...], api: str) -> Source:
    return Source(
        spec=spec,
        retention=BILLS,
        partitions_def=monthly_partitions,
        lake_partition=by_month,
        fetch=fetch,
        group="billing",
        sort_by=sort_by,
        job="billing",
        # all three read getBilling / getLatestBilling; billing_items polls getExportedFile as
        # the Air usage exports do: one pool with them (docs/ingestion.md, "Concurrency")
        pool="exports",
        api=api,
    )


BILLS_SOURCE = _monthly(BILLS_SPEC, fetch_bills, ("coverage", "year_month"), "`/bills`, `/bills/latest`")
DAILY_BILLS_SOURCE = _monthly(
    DAILY_BILLS_SPEC, fetch_daily_bills, ("coverage", "date"), "`/bills/{yyyyMM}/daily`"
)
BILLING_ITEMS_SOURCE = _monthly(
    ITEMS_SPEC,
    fetch_billing_items,
    ("coverage", "date", "imsi", "bill_item_name"),
    "`/bills/{yyyyMM}/export` (detailed CSV)",
)
bills = BILLS_SOURCE.asset
daily_bills = DAILY_BILLS_SOURCE.asset
billing_items = BILLING_ITEMS_SOURCE.asset


BILLING_SUMMARIES_SOURCE = Source(
    spec=SUMMARIES_SPEC,
    retention=BILLING_SUMMARIES,
    partitions_def=daily_partitions,
    lake_partition=by_day,
    fetch=fetch_summaries,
    group="billing",
    sort_by=("coverage", "summary", "year_month", "bill_item_name", "sim_id"),
    job="snapshot",
    pool="billing_summaries",
    api="`/bills/summaries/bill_items`, `/bills/summaries/sims`",
)
billing_summaries = BILLING_SUMMARIES_SOURCE.asset
