"""Environment variable names and defaults: the one place the pipeline's configuration is named.

Resources read these through `dagster.EnvVar` (so Dagster never stores the values in run
config); schedules read the cron/timezone ones when the code location loads. Library code
never reads the environment.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from datetime import timedelta

# Soracom API access. Secrets: only ever passed to the client, never logged or stored.
AUTH_KEY_ID = "SORACOM_AUTH_KEY_ID"
AUTH_KEY = "SORACOM_AUTH_KEY"
EMAIL = "SORACOM_EMAIL"
PASSWORD = "SORACOM_PASSWORD"
OPERATOR_ID = "SORACOM_OPERATOR_ID"
USER_NAME = "SORACOM_USER_NAME"
PROFILE = "SORACOM_PROFILE"
ENDPOINT = "SORACOM_ENDPOINT"
ENDPOINT_JP = "SORACOM_ENDPOINT_JP"
ENDPOINT_G = "SORACOM_ENDPOINT_G"
COVERAGES = "SORACOM_COVERAGES"
MAX_CONCURRENCY = "SORACOM_MAX_CONCURRENCY"

# Lake and catalog.
LAKE_ROOT = "SORACOM_LAKE_ROOT"
CATALOG_PATH = "SORACOM_CATALOG_PATH"

# Schedules (all created STOPPED; see docs/ingestion.md for how to turn them on).
NIGHTLY_CRON = "SORACOM_NIGHTLY_CRON"
HOURLY_CRON = "SORACOM_HOURLY_CRON"
BILLING_CRON = "SORACOM_BILLING_CRON"
SCHEDULE_TIMEZONE = "SORACOM_SCHEDULE_TIMEZONE"

# Retention warnings (assets/checks.py, pipelines/sensors.py): how far ahead to look for unloaded
# partitions about to age out of Soracom. Days for sources kept in days or months, hours for
# those kept in hours (the audit logs); SORACOM_RETENTION_WARN_<TABLE> (e.g. ..._HARVEST_ENTRIES=10d,
# ..._API_AUDIT_LOGS=12h) overrides one source.
RETENTION_WARN_DAYS = "SORACOM_RETENTION_WARN_DAYS"
RETENTION_WARN_HOURS = "SORACOM_RETENTION_WARN_HOURS"
RETENTION_WARN_PREFIX = "SORACOM_RETENTION_WARN_"
RETENTION_SENSOR_INTERVAL_S = "SORACOM_RETENTION_SENSOR_INTERVAL_S"

DEFAULTS: dict[str, str] = {
    COVERAGES: "jp",
    MAX_CONCURRENCY: "16",
    LAKE_ROOT: "data/lake",
    CATALOG_PATH: "data/soracom.duckdb",
    NIGHTLY_CRON: "0 2 * * *",
    HOURLY_CRON: "10 * * * *",
    BILLING_CRON: "0 6 * * *",
    SCHEDULE_TIMEZONE: "UTC",
    RETENTION_WARN_DAYS: "3",
    RETENTION_WARN_HOURS: "6",
    RETENTION_SENSOR_INTERVAL_S: "3600",
}

VALID_COVERAGES = ("jp", "g")


def setting(name: str, env: Mapping[str, str] | None = None) -> str:
    """The value of a non-secret setting: the environment, else the default."""
    value = (os.environ if env is None else env).get(name, "").strip()
    return value or DEFAULTS[name]


def _positive(name: str, text: str, unit: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < math.inf:
        raise ValueError(f"{name}={text!r} is not valid: give a positive number of {unit} (e.g. '3')")
    return value


def retention_sensor_interval_s(env: Mapping[str, str] | None = None) -> int:
    """Seconds between evaluations of the retention sensor (at least 30)."""
    seconds = _positive(RETENTION_SENSOR_INTERVAL_S, setting(RETENTION_SENSOR_INTERVAL_S, env), "seconds")
    return max(30, int(seconds))


def retention_warn_horizon(
    table: str, kept_in_hours: bool, env: Mapping[str, str] | None = None
) -> timedelta:
    """How far ahead the retention warnings look for `table`: its own override
    (`SORACOM_RETENTION_WARN_<TABLE>`, a number with `d` or `h`), else the hours setting for
    sources Soracom keeps in hours, else the days setting."""
    source = os.environ if env is None else env
    override_name = RETENTION_WARN_PREFIX + table.upper()
    override = source.get(override_name, "").strip().lower()
    if override:
        unit = {"d": "days", "h": "hours"}.get(override[-1])
        if unit is None:
            raise ValueError(
                f"{override_name}={override!r} is not valid: give a number of days or hours with "
                "its unit, e.g. '10d' or '12h'"
            )
        return timedelta(**{unit: _positive(override_name, override[:-1], unit)})
    if kept_in_hours:
        return timedelta(hours=_positive(RETENTION_WARN_HOURS, setting(RETENTION_WARN_HOURS, env), "hours"))
    return timedelta(days=_positive(RETENTION_WARN_DAYS, setting(RETENTION_WARN_DAYS, env), "days"))


def parse_coverages(text: str) -> tuple[str, ...]:
    """`"jp,g"` -> `("jp", "g")`; refuses unknown coverages with the accepted values."""
    coverages = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [c for c in coverages if c not in VALID_COVERAGES]
    if unknown or not coverages:
        raise ValueError(
            f"{COVERAGES}={text!r} is not valid: give a comma-separated list of "
            f"{' and/or '.join(VALID_COVERAGES)} (e.g. 'jp,g')"
        )
    return coverages
