"""`sims` and `groups`: daily snapshots of the SIM inventory and SIM groups.

The API only shows the current state, so partition D holds the state as loaded at (or
shortly after) the end of day D. Nested parts are flattened where analysts filter on them
(status, speed class, group, tag `name`, primary IMSI, session status); the variable-key
maps (tags, profiles/subscribers, group configuration) are kept as JSON text.
"""

from typing import Any

import polars as pl
import pyarrow as pa

from assets.frames import TIMESTAMP, json_text, ms_to_ts, records_frame
from assets.loading import Fetched, Progress
from assets.partitions import Window, by_day, daily_partitions
from assets.retention import SIM_INVENTORY
from assets.source import Source
from pipelines.lake import TableSpec
from pipelines.soracom import SoracomClient

_CELL = {
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
# Arrow types of the flattened cell columns, and the snake_case of a camelCase field name.
_CELL_ARROW = {f: pa.string() if t == pl.Utf8 else pa.int64() for f, t in _CELL.items()}


def _snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


_SESSION = {
    "online": pl.Boolean,
    "lastUpdatedAt": pl.Int64,
    "sessionId": pl.Utf8,
    "imsi": pl.Utf8,
    "imei": pl.Utf8,
    "ueIpAddress": pl.Utf8,
    "subscription": pl.Utf8,
    "vpgId": pl.Utf8,
    "cell": pl.Struct(_CELL),
}
_PREVIOUS = {
    "createdTime": pl.Int64,
    "deletedTime": pl.Int64,
    "sessionId": pl.Utf8,
    "imsi": pl.Utf8,
    "imei": pl.Utf8,
    "ueIpAddress": pl.Utf8,
    "subscription": pl.Utf8,
    "vpgId": pl.Utf8,
    "cell": pl.Struct(_CELL),
}

# previousSession's text fields and their column suffixes (the session's own are flattened too).
_PREVIOUS_TEXT = (
    ("imsi", "imsi"),
    ("imei", "imei"),
    ("ueIpAddress", "ue_ip_address"),
    ("subscription", "subscription"),
    ("vpgId", "vpg_id"),
)

SIM_SHAPE: dict[str, pl.DataType] = {
    "simId": pl.Utf8,
    "operatorId": pl.Utf8,
    "status": pl.Utf8,
    "speedClass": pl.Utf8,
    "groupId": pl.Utf8,
    "type": pl.Utf8,
    "moduleType": pl.Utf8,
    "serialNumber": pl.Utf8,
    "activeProfileId": pl.Utf8,
    "createdTime": pl.Int64,
    "lastModifiedTime": pl.Int64,
    "expiryTime": pl.Int64,
    "expiryAction": pl.Utf8,
    "terminationEnabled": pl.Boolean,
    "lastLocationUpdateTime": pl.Int64,
    "sessionStatus": pl.Struct(_SESSION),
    "previousSession": pl.Struct(_PREVIOUS),
}
# Handled outside the shape (variable keys), so not "unknown".
SIM_MAPS = ("tags", "profiles")

GROUP_SHAPE: dict[str, pl.DataType] = {
    "groupId": pl.Utf8,
    "operatorId": pl.Utf8,
    "createdTime": pl.Int64,
    "lastModifiedTime": pl.Int64,
}
GROUP_MAPS = ("tags", "configuration")

_MS_FIELDS = [
    ("created_time", "createdTime"),
    ("last_modified_time", "lastModifiedTime"),
    ("expiry_time", "expiryTime"),
    ("last_location_update_time", "lastLocationUpdateTime"),
]

SIMS_SPEC = TableSpec(
    name="sims",
    schema=pa.schema(
        [
            ("date", pa.date32()),
            ("coverage", pa.string()),
            ("sim_id", pa.string()),
            ("operator_id", pa.string()),
            ("name", pa.string()),
            ("status", pa.string()),
            ("speed_class", pa.string()),
            ("group_id", pa.string()),
            ("type", pa.string()),
            ("module_type", pa.string()),
            ("serial_number", pa.string()),
            ("primary_imsi", pa.string()),
            ("iccid", pa.string()),
            ("msisdn", pa.string()),
            ("imsis", pa.list_(pa.string())),
            ("tags", pa.string()),
            ("profiles", pa.string()),
            *[(col, TIMESTAMP) for col, _ in _MS_FIELDS],
            *[(f"{col}_ms", pa.int64()) for col, _ in _MS_FIELDS],
            ("expiry_action", pa.string()),
            ("termination_enabled", pa.bool_()),
            ("session_online", pa.bool_()),
            ("session_last_updated_at", TIMESTAMP),
            ("session_last_updated_at_ms", pa.int64()),
            ("session_id", pa.string()),
            ("session_imsi", pa.string()),
            ("session_imei", pa.string()),
            ("session_ue_ip_address", pa.string()),
            ("session_subscription", pa.string()),
            ("session_vpg_id", pa.string()),
            ("session_cell_mcc", pa.int64()),
            ("session_cell_mnc", pa.int64()),
            ("session_cell_tac", pa.int64()),
            ("session_cell_eci", pa.int64()),
            ("session_cell_lac", pa.int64()),
            ("session_cell_ci", pa.int64()),
            ("session_cell_rac", pa.int64()),
            ("session_cell_sac", pa.int64()),
            ("session_cell_radio_type", pa.string()),
            ("previous_session_created_time", TIMESTAMP),
            ("previous_session_created_time_ms", pa.int64()),
            ("previous_session_deleted_time", TIMESTAMP),
            ("previous_session_deleted_time_ms", pa.int64()),
            ("previous_session_id", pa.string()),
            ("previous_session_imsi", pa.string()),
            ("previous_session_imei", pa.string()),
            ("previous_session_ue_ip_address", pa.string()),
            ("previous_session_subscription", pa.string()),
            ("previous_session_vpg_id", pa.string()),
            *[(f"previous_session_cell_{_snake(f)}", _CELL_ARROW[f]) for f in _CELL],
            ("_extra", pa.string()),
            ("_loaded_at", TIMESTAMP),
        ]
    ),
    partition_by=("date",),
    primary_key=("coverage", "sim_id"),
    description="Daily snapshot of the SIM inventory: status, speed class, group, tags (JSON; `name` "
    "flattened), IMSIs (primary + all), current and previous session (every field, cell included).",
)

GROUPS_SPEC = TableSpec(
    name="groups",
    schema=pa.schema(
        [
            ("date", pa.date32()),
            ("coverage", pa.string()),
            ("group_id", pa.string()),
            ("operator_id", pa.string()),
            ("name", pa.string()),
            ("tags", pa.string()),
            ("configuration", pa.string()),
            ("created_time", TIMESTAMP),
            ("created_time_ms", pa.int64()),
            ("last_modified_time", TIMESTAMP),
            ("last_modified_time_ms", pa.int64()),
            ("_extra", pa.string()),
            ("_loaded_at", TIMESTAMP),
        ]
    ),
    partition_by=("date",),
    primary_key=("coverage", "group_id"),
    description="Daily snapshot of SIM groups: tags (JSON; `name` flattened) and configuration (JSON).",
)


def _profile_columns(sims: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Primary IMSI, ICCID, MSISDN and all IMSIs of each SIM from its `profiles` map."""
    primary, iccids, msisdns, imsis = [], [], [], []
    for sim in sims:
        profiles = sim.get("profiles") or {}
        active = sim.get("activeProfileId")
        ordered = sorted(profiles.items(), key=lambda kv: (kv[0] != active, kv[0]))
        all_imsis: list[str] = []
        first_imsi = first_iccid = first_msisdn = None
        for iccid, profile in ordered:
            profile = profile or {}
            subscribers = profile.get("subscribers") or {}
            all_imsis.extend(str(i) for i in subscribers)
            if first_iccid is None:
                first_iccid = profile.get("iccid") or iccid
                first_imsi = profile.get("primaryImsi")
                if first_imsi is not None:
                    first_msisdn = (subscribers.get(first_imsi) or {}).get("msisdn")
        primary.append(first_imsi)
        iccids.append(first_iccid)
        msisdns.append(first_msisdn)
        imsis.append(sorted(set(all_imsis)))
    return {"primary_imsi": primary, "iccid": iccids, "msisdn": msisdns, "imsis": imsis}


def _tag_name(records: list[dict[str, Any]]) -> list[str | None]:
    return [((r.get("tags") or {}).get("name")) for r in records]


def sims_frame(records: list[dict[str, Any]]) -> pl.DataFrame:
    raw = records_frame(records, SIM_SHAPE, handled=SIM_MAPS, call="listSims", required=("simId",))
    session, previous = pl.col("sessionStatus"), pl.col("previousSession")
    profile = _profile_columns(records)
    frame = raw.select(
        pl.col("simId").alias("sim_id"),
        pl.col("operatorId").alias("operator_id"),
        pl.Series("name", _tag_name(records), dtype=pl.Utf8),
        pl.col("status"),
        pl.col("speedClass").alias("speed_class"),
        pl.col("groupId").alias("group_id"),
        pl.col("type"),
        pl.col("moduleType").alias("module_type"),
        pl.col("serialNumber").alias("serial_number"),
        pl.Series("primary_imsi", profile["primary_imsi"], dtype=pl.Utf8),
        pl.Series("iccid", profile["iccid"], dtype=pl.Utf8),
        pl.Series("msisdn", profile["msisdn"], dtype=pl.Utf8),
        pl.Series("imsis", profile["imsis"], dtype=pl.List(pl.Utf8)),
        pl.Series("tags", json_text(r.get("tags") for r in records), dtype=pl.Utf8),
        pl.Series("profiles", json_text(r.get("profiles") for r in records), dtype=pl.Utf8),
        *(ms_to_ts(src).alias(col) for col, src in _MS_FIELDS),
        *(pl.col(src).alias(f"{col}_ms") for col, src in _MS_FIELDS),
        pl.col("expiryAction").alias("expiry_action"),
        pl.col("terminationEnabled").alias("termination_enabled"),
        session.struct.field("online").alias("session_online"),
        pl.from_epoch(session.struct.field("lastUpdatedAt"), time_unit="ms")
        .dt.replace_time_zone("UTC")
        .alias("session_last_updated_at"),
        session.struct.field("lastUpdatedAt").alias("session_last_updated_at_ms"),
        session.struct.field("sessionId").alias("session_id"),
        session.struct.field("imsi").alias("session_imsi"),
        session.struct.field("imei").alias("session_imei"),
        session.struct.field("ueIpAddress").alias("session_ue_ip_address"),
        session.struct.field("subscription").alias("session_subscription"),
        session.struct.field("vpgId").alias("session_vpg_id"),
        *(
            session.struct.field("cell").struct.field(f).alias(f"session_cell_{f}")
            for f in ("mcc", "mnc", "tac", "eci", "lac", "ci", "rac", "sac")
        ),
        session.struct.field("cell").struct.field("radioType").alias("session_cell_radio_type"),
        pl.from_epoch(previous.struct.field("createdTime"), time_unit="ms")
        .dt.replace_time_zone("UTC")
        .alias("previous_session_created_time"),
        previous.struct.field("createdTime").alias("previous_session_created_time_ms"),
        pl.from_epoch(previous.struct.field("deletedTime"), time_unit="ms")
        .dt.replace_time_zone("UTC")
        .alias("previous_session_deleted_time"),
        previous.struct.field("deletedTime").alias("previous_session_deleted_time_ms"),
        previous.struct.field("sessionId").alias("previous_session_id"),
        *(previous.struct.field(f).alias(f"previous_session_{col}") for f, col in _PREVIOUS_TEXT),
        *(
            previous.struct.field("cell").struct.field(f).alias(f"previous_session_cell_{_snake(f)}")
            for f in _CELL
        ),
        pl.col("_extra"),
    )
    return frame.unique(subset=["sim_id"], keep="last", maintain_order=True)


def groups_frame(records: list[dict[str, Any]]) -> pl.DataFrame:
    raw = records_frame(records, GROUP_SHAPE, handled=GROUP_MAPS, call="listGroups", required=("groupId",))
    frame = raw.select(
        pl.col("groupId").alias("group_id"),
        pl.col("operatorId").alias("operator_id"),
        pl.Series("name", _tag_name(records), dtype=pl.Utf8),
        pl.Series("tags", json_text(r.get("tags") for r in records), dtype=pl.Utf8),
        pl.Series("configuration", json_text(r.get("configuration") for r in records), dtype=pl.Utf8),
        ms_to_ts("createdTime").alias("created_time"),
        pl.col("createdTime").alias("created_time_ms"),
        ms_to_ts("lastModifiedTime").alias("last_modified_time"),
        pl.col("lastModifiedTime").alias("last_modified_time_ms"),
        pl.col("_extra"),
    )
    return frame.unique(subset=["group_id"], keep="last", maintain_order=True)


async def fetch_sims(client: SoracomClient, window: Window, progress: Progress) -> Fetched:
    records = []
    async for sim in client.list_sims():
        records.append(sim)
        if len(records) % 10_000 == 0:
            progress.info(f"{len(records)} SIMs listed so far")
    progress.info(f"{len(records)} SIMs listed")
    return Fetched(sims_frame(records))


async def fetch_groups(client: SoracomClient, window: Window, progress: Progress) -> Fetched:
    records = [g async for g in client.list_groups()]
    progress.info(f"{len(records)} groups listed")
    return Fetched(groups_frame(records))


SIMS_SOURCE = Source(
    spec=SIMS_SPEC,
    retention=SIM_INVENTORY,
    partitions_def=daily_partitions,
    lake_partition=by_day,
    fetch=fetch_sims,
    group="inventory",
    sort_by=("coverage", "sim_id"),
    job="snapshot",
    api="`/sims`",
    pool="sims",
)
sims = SIMS_SOURCE.asset


GROUPS_SOURCE = Source(
    spec=GROUPS_SPEC,
    retention=SIM_INVENTORY,
    partitions_def=daily_partitions,
    lake_partition=by_day,
    fetch=fetch_groups,
    group="inventory",
    sort_by=("coverage", "group_id"),
    job="snapshot",
    api="`/groups`",
    pool="groups",
)
groups = GROUPS_SOURCE.asset
