"""Every setting of the pipeline, defined once: environment variable, default, validation, help.

The CLI, the demo, the Dagster resources, the schedules and the sensors all read settings
through `SETTINGS` (resources via `dagster.EnvVar`, so Dagster never stores a value in run
config), and `python -m tools.docs` writes the README's settings table from it. Library
code (`pipelines.soracom`, `pipelines.lake`) never reads the environment.
"""

from __future__ import annotations

import math
import os
import zoneinfo
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from pipelines.soracom.settings import ClientSettings

VALID_COVERAGES = ("jp", "g")
LIVE = "live"


@dataclass(frozen=True)
class Setting:
    """One environment variable: its default (None: unset), what it is for, and its check."""

    name: str
    help: str
    default: str | None = None
    secret: bool = False
    group: str = "api"
    check: Callable[[str, str], object] | None = None  # (name, value) -> parsed value, or ValueError

    def raw(self, env: Mapping[str, str] | None = None) -> str | None:
        """The value set in `env` (default: the process environment), else the default."""
        value = (os.environ if env is None else env).get(self.name, "").strip()
        return value or self.default

    def parsed(self, env: Mapping[str, str] | None = None) -> object:
        """The checked value: a ValueError names the variable and what to give instead."""
        value = self.raw(env)
        if value is None or self.check is None:
            return value
        return self.check(self.name, value)


def _positive(name: str, text: str, unit: str = "") -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < math.inf:
        raise ValueError(f"{name}={text!r} is not valid: give a positive number of {unit} (e.g. '3')")
    return value


def _positive_int(name: str, text: str) -> int:
    value = _positive(name, text, "items")
    if value != int(value):
        raise ValueError(f"{name}={text!r} is not valid: give a whole number (e.g. '16')")
    return int(value)


def _rows(name: str, text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ValueError(f"{name}={text!r} is not valid: give a whole number of rows >= 0 (e.g. '200000')")
    return value


def _fraction(name: str, text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise ValueError(f"{name}={text!r} is not valid: give a fraction from 0 to 1 (e.g. '0.5')")
    return value


def _names(name: str, text: str) -> frozenset[str]:
    names = frozenset(part.strip().lower() for part in text.split(",") if part.strip())
    if not names or not all(n == "*" or n.replace("_", "").isalnum() for n in names):
        raise ValueError(f"{name}={text!r} is not valid: give comma-separated table names, or '*' for all")
    return names


def _coverages(name: str, text: str) -> tuple[str, ...]:
    coverages = tuple(dict.fromkeys(part.strip().lower() for part in text.split(",") if part.strip()))
    unknown = [c for c in coverages if c not in VALID_COVERAGES]
    if unknown or not coverages:
        raise ValueError(
            f"{name}={text!r} is not valid: give a comma-separated list of "
            f"{' and/or '.join(VALID_COVERAGES)} (e.g. 'jp,g')"
        )
    return coverages


def _coverage(name: str, text: str) -> str:
    if text.lower() not in VALID_COVERAGES:
        raise ValueError(f"{name}={text!r} is not valid: give {' or '.join(VALID_COVERAGES)}")
    return text.lower()


SESSION_EVENTS_PATHS = ("auto", "query", "api")


def _session_events_path(name: str, text: str) -> str:
    if text.lower() not in SESSION_EVENTS_PATHS:
        raise ValueError(
            f"{name}={text!r} is not valid: give auto (Soracom Query when the operator has it), "
            "query or api (one call per SIM)"
        )
    return text.lower()


def _cron(name: str, text: str) -> str:
    if len(text.split()) != 5:
        raise ValueError(f"{name}={text!r} is not valid: give a 5-field cron expression (e.g. '0 2 * * *')")
    return text


def _timezone(name: str, text: str) -> str:
    try:
        zoneinfo.ZoneInfo(text)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise ValueError(f"{name}={text!r} is not valid: give an IANA time zone (e.g. 'UTC')") from error
    return text


def _webhook_url(name: str, text: str) -> str:
    if not text.startswith(("http://", "https://")) or len(text.split("://", 1)[1]) == 0:
        raise ValueError(
            f"{name} is not valid: give the full http(s):// URL of the webhook "
            "(e.g. 'https://hooks.example.com/T000/B000/XXXX'), or unset it to send no alerts"
        )
    return text


def parse_now(name: str, text: str) -> datetime | None:
    """`live` -> None (the wall clock); an ISO instant (`2026-11-30T00:00:00Z`) -> that instant."""
    if text.lower() == LIVE:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise ValueError(
            f"{name}={text!r} is not valid: give 'live' or an ISO 8601 instant (e.g. '2026-11-30T00:00:00Z')"
        ) from error
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def parse_start(name: str, text: str) -> datetime:
    """`2026-01-01` -> that UTC midnight (the first partition of every source)."""
    try:
        day = datetime.strptime(text, "%Y-%m-%d")
    except ValueError as error:
        hint = "give a date as YYYY-MM-DD (e.g. '2026-01-01')"
        raise ValueError(f"{name}={text!r} is not valid: {hint}") from error
    return day.replace(tzinfo=UTC)


SETTINGS: tuple[Setting, ...] = (
    Setting("SORACOM_AUTH_KEY_ID", "auth key id (recommended for machines)"),
    Setting("SORACOM_AUTH_KEY", "auth key secret", secret=True),
    Setting("SORACOM_OPERATOR_ID", "operator of a SAM user"),
    Setting("SORACOM_USER_NAME", "SAM user name"),
    Setting("SORACOM_EMAIL", "root user email"),
    Setting("SORACOM_PASSWORD", "password of the SAM or root user", secret=True),
    Setting("SORACOM_PROFILE", "a soracom-cli profile `<dir>/<name>.json` (must be `chmod 600`)"),
    Setting("SORACOM_PROFILE_DIR", "folder of the soracom-cli profiles (default `~/.soracom`)"),
    Setting("SORACOM_COVERAGES", "`jp`, `g` or `jp,g`", default="jp", check=_coverages),
    Setting(
        "SORACOM_COVERAGE_TYPE",
        "coverage of a single-endpoint setup, as soracom-cli (used when SORACOM_COVERAGES is unset)",
        check=_coverage,
    ),
    Setting("SORACOM_ENDPOINT", "API origin override for every coverage (the sandbox's URL, a proxy)"),
    Setting("SORACOM_ENDPOINT_JP", "API origin override for coverage jp"),
    Setting("SORACOM_ENDPOINT_G", "API origin override for coverage g"),
    Setting(
        "SORACOM_MAX_CONCURRENCY",
        "parallel API calls per coverage",
        default=str(ClientSettings().max_concurrency),
        check=_positive_int,
    ),
    Setting(
        "SORACOM_EXPORT_SYNC_MAX_ROWS",
        "CSV exports expected to hold at most this many rows (the table's nearest loaded partition) "
        "ask for the file at once (`export_mode=sync`, no polling), falling back to async if that "
        "fails; bigger or unknown ones run async. 0: always async",
        default=str(ClientSettings().export_sync_max_rows),
        check=_rows,
    ),
    Setting(
        "SORACOM_SESSION_EVENTS_PATH",
        "how session events load: `query` (one Soracom Query a day), `api` (one call per SIM) "
        "or `auto` (Query when the operator has it, probed once per run)",
        default="auto",
        check=_session_events_path,
    ),
    Setting(
        "SORACOM_LAKE_ROOT",
        "lake folder, or an object-store URL: `s3://bucket/prefix` (`AWS_ENDPOINT_URL` for MinIO, R2), "
        "`gs://`, `abfs://`, `file://`",
        default="data/lake",
        group="lake",
    ),
    Setting(
        "SORACOM_LAKE_STAGING",
        "local folder where partitions are staged before their one PUT to an object-store lake "
        "(default: a private folder under the system temp dir)",
        group="lake",
    ),
    Setting("SORACOM_CATALOG_PATH", "DuckDB catalog file", default="data/soracom.duckdb", group="lake"),
    Setting(
        "SORACOM_SHRINK_MIN_FRACTION",
        "a reload that keeps fewer than this fraction of a partition's rows is refused and the old "
        "file kept (a reload to zero rows always is; 0 turns the fraction check off)",
        default="0.5",
        group="lake",
        check=_fraction,
    ),
    Setting(
        "SORACOM_ALLOW_SHRINK",
        "tables (comma-separated, or `*`) whose partitions may be replaced by smaller ones, closed "
        "billing months included: the explicit override of the shrink guard, for one run",
        group="lake",
        check=_names,
    ),
    Setting(
        "SORACOM_NOW",
        "the pipeline's clock: `live` (wall clock) or a fixed ISO instant, e.g. to replay a past day "
        "against a sandbox started with the same `--now`",
        default=LIVE,
        group="lake",
        check=parse_now,
    ),
    Setting(
        "SORACOM_PARTITIONS_START",
        "first partition (YYYY-MM-DD) of every source; default: the first of the month from which a "
        "new deployment can still load each partitioning (daily: 18 months back, hourly audit logs: "
        "24 hours, billing months: the current and 17 before). Older partitions are refused by the "
        "retention guard either way",
        group="lake",
        check=parse_start,
    ),
    Setting(
        "SORACOM_NIGHTLY_CRON",
        "daily sources and snapshots",
        default="0 2 * * *",
        group="schedules",
        check=_cron,
    ),
    Setting("SORACOM_HOURLY_CRON", "audit logs", default="10 * * * *", group="schedules", check=_cron),
    Setting("SORACOM_BILLING_CRON", "billing months", default="0 6 * * *", group="schedules", check=_cron),
    Setting(
        "SORACOM_SCHEDULE_TIMEZONE",
        "time zone of the crons",
        default="UTC",
        group="schedules",
        check=_timezone,
    ),
    Setting(
        "SORACOM_SLOT_WAIT_S",
        "seconds a load's step waits for the slot of its API pool (`soracom_api.<family>`) held by "
        "another run before it gives up, naming that run",
        default="3600",
        group="schedules",
        check=lambda name, text: _positive(name, text, "seconds"),
    ),
    Setting(
        "SORACOM_REAPER_INTERVAL_S",
        "seconds between evaluations of the daemon's `dead_run_reaper` sensor (at least 10): how "
        "soon the slots a dead run held are freed and its run retry can start",
        default="60",
        group="schedules",
        check=lambda name, text: max(10, int(_positive(name, text, "seconds"))),
    ),
    Setting(
        "SORACOM_RETENTION_WARN_DAYS",
        "warn this many days before an unloaded partition ages out of Soracom "
        "(`SORACOM_RETENTION_WARN_<TABLE>=10d` or `12h` overrides one table)",
        default="3",
        group="retention",
        check=lambda name, text: _positive(name, text, "days"),
    ),
    Setting(
        "SORACOM_RETENTION_WARN_HOURS",
        "the same for sources Soracom keeps in hours (audit logs)",
        default="6",
        group="retention",
        check=lambda name, text: _positive(name, text, "hours"),
    ),
    Setting(
        "SORACOM_RETENTION_SENSOR_INTERVAL_S",
        "seconds between evaluations of the retention sensor (at least 30)",
        default="3600",
        group="retention",
        check=lambda name, text: max(30, int(_positive(name, text, "seconds"))),
    ),
    Setting(
        "SORACOM_ALERT_WEBHOOK_URL",
        "an `http(s)://` URL that the `run_failure_alert` sensor POSTs a JSON message to when a run "
        "fails (a Slack/Teams incoming webhook, an alert gateway); unset: no alerts",
        secret=True,
        group="alerts",
        check=_webhook_url,
    ),
)
BY_NAME: dict[str, Setting] = {s.name: s for s in SETTINGS}

# Names, for code that refers to one setting (the definition above is the only one).
AUTH_KEY_ID = BY_NAME["SORACOM_AUTH_KEY_ID"].name
AUTH_KEY = BY_NAME["SORACOM_AUTH_KEY"].name
EMAIL = BY_NAME["SORACOM_EMAIL"].name
PASSWORD = BY_NAME["SORACOM_PASSWORD"].name
OPERATOR_ID = BY_NAME["SORACOM_OPERATOR_ID"].name
USER_NAME = BY_NAME["SORACOM_USER_NAME"].name
PROFILE = BY_NAME["SORACOM_PROFILE"].name
PROFILE_DIR = BY_NAME["SORACOM_PROFILE_DIR"].name
ENDPOINT = BY_NAME["SORACOM_ENDPOINT"].name
ENDPOINT_JP = BY_NAME["SORACOM_ENDPOINT_JP"].name
ENDPOINT_G = BY_NAME["SORACOM_ENDPOINT_G"].name
COVERAGES = BY_NAME["SORACOM_COVERAGES"].name
COVERAGE_TYPE = BY_NAME["SORACOM_COVERAGE_TYPE"].name
MAX_CONCURRENCY = BY_NAME["SORACOM_MAX_CONCURRENCY"].name
EXPORT_SYNC_MAX_ROWS = BY_NAME["SORACOM_EXPORT_SYNC_MAX_ROWS"].name
LAKE_ROOT = BY_NAME["SORACOM_LAKE_ROOT"].name
CATALOG_PATH = BY_NAME["SORACOM_CATALOG_PATH"].name
NOW = BY_NAME["SORACOM_NOW"].name
SESSION_EVENTS_PATH = BY_NAME["SORACOM_SESSION_EVENTS_PATH"].name
SHRINK_MIN_FRACTION = BY_NAME["SORACOM_SHRINK_MIN_FRACTION"].name
ALLOW_SHRINK = BY_NAME["SORACOM_ALLOW_SHRINK"].name
PARTITIONS_START = BY_NAME["SORACOM_PARTITIONS_START"].name
NIGHTLY_CRON = BY_NAME["SORACOM_NIGHTLY_CRON"].name
HOURLY_CRON = BY_NAME["SORACOM_HOURLY_CRON"].name
BILLING_CRON = BY_NAME["SORACOM_BILLING_CRON"].name
SCHEDULE_TIMEZONE = BY_NAME["SORACOM_SCHEDULE_TIMEZONE"].name
REAPER_INTERVAL_S = BY_NAME["SORACOM_REAPER_INTERVAL_S"].name
RETENTION_WARN_DAYS = BY_NAME["SORACOM_RETENTION_WARN_DAYS"].name
RETENTION_WARN_HOURS = BY_NAME["SORACOM_RETENTION_WARN_HOURS"].name
RETENTION_SENSOR_INTERVAL_S = BY_NAME["SORACOM_RETENTION_SENSOR_INTERVAL_S"].name
ALERT_WEBHOOK_URL = BY_NAME["SORACOM_ALERT_WEBHOOK_URL"].name
RETENTION_WARN_PREFIX = "SORACOM_RETENTION_WARN_"

DEFAULTS: dict[str, str] = {s.name: s.default for s in SETTINGS if s.default is not None}


def setting(name: str, env: Mapping[str, str] | None = None) -> str:
    """The text of a setting that has a default: the environment, else the default."""
    value = BY_NAME[name].raw(env)
    assert value is not None, f"{name} has no default"
    return value


def value(name: str, env: Mapping[str, str] | None = None) -> object:
    """The checked value of a setting (ValueError naming the variable when it is not valid)."""
    return BY_NAME[name].parsed(env)


def validate_all(env: Mapping[str, str] | None = None) -> list[str]:
    """Every problem with the settings as set, one line each, for a command to say before it
    starts: each value that fails its check, a half-given auth key pair, and bad per-table
    retention overrides. An empty list means every setting is usable."""
    source = os.environ if env is None else env
    problems = []
    for one in SETTINGS:
        try:
            one.parsed(source)
        except ValueError as error:
            problems.append(str(error))
    pair = [n for n in (AUTH_KEY_ID, AUTH_KEY) if source.get(n, "").strip()]
    if len(pair) == 1:
        missing = AUTH_KEY if pair[0] == AUTH_KEY_ID else AUTH_KEY_ID
        problems.append(f"{pair[0]} is set but {missing} is not: set both, or neither")
    for name in sorted(source):
        if name.startswith(RETENTION_WARN_PREFIX) and name not in BY_NAME:
            try:
                retention_warn_horizon(name.removeprefix(RETENTION_WARN_PREFIX).lower(), False, source)
            except ValueError as error:
                problems.append(str(error))
    return problems


def reaper_interval_s(env: Mapping[str, str] | None = None) -> int:
    """Seconds between evaluations of the dead-run reaper sensor (at least 10)."""
    return int(value(REAPER_INTERVAL_S, env))  # type: ignore[call-overload]


def retention_sensor_interval_s(env: Mapping[str, str] | None = None) -> int:
    """Seconds between evaluations of the retention sensor (at least 30)."""
    return int(value(RETENTION_SENSOR_INTERVAL_S, env))  # type: ignore[call-overload]


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
        return timedelta(hours=float(value(RETENTION_WARN_HOURS, env)))  # type: ignore[arg-type]
    return timedelta(days=float(value(RETENTION_WARN_DAYS, env)))  # type: ignore[arg-type]


def parse_coverages(text: str) -> tuple[str, ...]:
    """`"jp,g"` -> `("jp", "g")`; refuses unknown coverages with the accepted values."""
    return _coverages(COVERAGES, text)


def now_setting(env: Mapping[str, str] | None = None) -> datetime | None:
    """The fixed now of `SORACOM_NOW`, or None for the wall clock."""
    return value(NOW, env)  # type: ignore[return-value]


def markdown_table() -> str:
    """The README's settings table, from `SETTINGS` (kept in step by a test)."""
    lines = ["| variable | default | meaning |", "|---|---|---|"]
    for s in SETTINGS:
        default = f"`{s.default}`" if s.default is not None else ""
        secret = " (secret: never logged or stored)" if s.secret else ""
        lines.append(f"| `{s.name}` | {default} | {s.help}{secret} |")
    return "\n".join(lines)
