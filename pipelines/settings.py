"""Environment variable names and defaults: the one place the pipeline's configuration is named.

Resources read these through `dagster.EnvVar` (so Dagster never stores the values in run
config); schedules read the cron/timezone ones when the code location loads. Library code
never reads the environment.
"""

from __future__ import annotations

import os

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

DEFAULTS: dict[str, str] = {
    COVERAGES: "jp",
    MAX_CONCURRENCY: "16",
    LAKE_ROOT: "data/lake",
    CATALOG_PATH: "data/soracom.duckdb",
    NIGHTLY_CRON: "0 2 * * *",
    HOURLY_CRON: "10 * * * *",
    BILLING_CRON: "0 6 * * *",
    SCHEDULE_TIMEZONE: "UTC",
}

VALID_COVERAGES = ("jp", "g")


def setting(name: str) -> str:
    """The value of a non-secret setting: the environment, else the default."""
    value = os.environ.get(name, "").strip()
    return value or DEFAULTS[name]


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
