"""What the Dagster UI shows about a table or model besides its data: owners, the column schema
with descriptions, and (for models) a link to the SQL file. The same column descriptions become
DuckDB column comments in the catalog, so BI tools show them too.

Descriptions cover the columns shared across tables and marts (lineage, keys, periods, traffic,
money); a column without one is listed with its type only.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from pathlib import Path

import dagster as dg
import pyarrow as pa

OWNERS = ["team:soracom-lake"]

COLUMN_DOCS: dict[str, str] = {
    "coverage": "Soracom coverage the row came from: jp (Japan) or g (global)",
    "_loaded_at": "when the load that wrote this row ran (UTC)",
    "_extra": "fields of the API record that have no column of their own, as JSON (null: none)",
    "date": "UTC day the row belongs to (the lake partition of daily tables and snapshots)",
    "hour": "UTC hour of the day (0-23)",
    "month": "month as YYYY-MM",
    "year_month": "billing month as YYYYMM, as in Soracom's billing CSV",
    "time": "when it happened (UTC)",
    "time_ms": "when it happened, epoch milliseconds",
    "created_time": "when Soracom created it (UTC)",
    "created_time_ms": "when Soracom created it, epoch milliseconds",
    "last_modified_time": "when Soracom last changed it (UTC)",
    "last_modified_time_ms": "when Soracom last changed it, epoch milliseconds",
    "operator_id": "Soracom operator (account) ID",
    "sim_id": "Soracom SIM ID",
    "imsi": "IMSI of one subscription of the SIM",
    "primary_imsi": "IMSI of the SIM's primary subscription",
    "iccid": "ICCID printed on the SIM",
    "msisdn": "phone number of the subscription",
    "group_id": "Soracom group ID",
    "group_name": "Soracom group name",
    "name": "name given by the operator",
    "tags": "tags set by the operator (JSON object: name -> value)",
    "session_id": "Soracom session ID",
    "vpg_id": "Virtual Private Gateway ID",
    "speed_class": "speed class of the SIM or its traffic (air_traffic_daily: the export's `type`)",
    "upload_bytes": "bytes sent by the device",
    "download_bytes": "bytes received by the device",
    "upload_packets": "packets sent by the device",
    "download_packets": "packets received by the device",
    "resource_type": "kind of the Harvest resource (Subscriber, Device, ...)",
    "resource_id": "ID of the Harvest resource",
    "amount": "amount in `currency`, exact decimal",
    "currency": "currency of the amounts (JPY or USD)",
    "preliminary": "true while the month is open: amounts may still change",
    "bill_item_name": "bill item as Soracom names it on the bill",
    "status": "status as Soracom reports it",
    "type": "type as Soracom reports it",
}


def arrow_columns(schema: pa.Schema) -> list[tuple[str, str]]:
    """(name, type) of each column of a lake table."""
    return [(field.name, str(field.type)) for field in schema]


def column_schema(columns: Iterable[tuple[str, str]]) -> dg.TableSchema:
    """The `dagster/column_schema` of a table or model: names, types and known descriptions."""
    return dg.TableSchema(
        columns=[dg.TableColumn(name, type_, description=COLUMN_DOCS.get(name)) for name, type_ in columns]
    )


def sql_file_reference(path: Path) -> dg.CodeReferencesMetadataValue:
    """The UI's link from a model to its SQL file (code references are "beta" in Dagster 1.13)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        return dg.CodeReferencesMetadataValue(
            code_references=[dg.LocalFileCodeReference(file_path=str(path))]
        )
