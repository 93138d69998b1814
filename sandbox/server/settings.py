"""Runtime knobs of the sandbox: credentials and faults.

One mutable `SandboxSettings` object is shared by the running app, the Python harness
and the `/_sandbox/settings` admin endpoint, so a test can switch faults on and off while
a load is in flight. Faults change how data is served, never the data.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from sandbox.server.ratelimit import WINDOW_S

EXPORT_OUTCOMES = ("exported", "processing", "failed")
QUERY_OUTCOMES = ("completed", "failed")

# Generous enough that the demo and benchmarks are never throttled unless asked to be.
DEFAULT_RATE_LIMIT_PER_MINUTE = 600_000


@dataclass
class SandboxSettings:
    """Everything a caller may tune; see each field's comment for its unit."""

    # credentials (the defaults are printed by `soracom-lake sandbox`)
    auth_key_id: str = "keyId-sandbox"
    auth_key: str = "secret-sandbox"
    email: str = "sandbox@example.com"
    password: str = "sandbox-password"
    sam_user_name: str = "sandbox-user"
    sam_user_password: str = "sandbox-user-password"
    # faults
    latency_ms: float = 0.0  # added to every /v1 answer
    jitter_ms: float = 0.0  # plus a uniform random 0..jitter_ms
    error_rate: float = 0.0  # probability of an injected 500/502/503
    drop_rate: float = 0.0  # probability of a connection closed mid-body
    rate_limit_per_minute: int = DEFAULT_RATE_LIMIT_PER_MINUTE  # per operator, per operationId, per window
    # the rate window's length in seconds: Soracom's minute; tests shorten it to wait less, the
    # answers' headers (Seconds-Before-Refresh) say it, as Soracom's do
    rate_limit_window_s: float = WINDOW_S
    token_ttl: int | None = None  # seconds; caps tokenTimeoutSeconds when set
    fault_seed: int = 42  # seeds the fault RNG (reseeded when changed)
    # pagination quirks
    short_pages: bool = True  # some pages are cut short (deterministically) even when more follow
    repeat_cursor: bool = False  # a broken server: list calls hand back the cursor they were given
    # audit log
    record_calls: bool = True  # record served calls in the API audit log (off for long benchmarks)
    # exports
    export_delay_s: float = 0.5  # async exports stay `processing` this long
    export_outcome: str = "exported"  # final status of new async exports: exported|processing|failed
    download_url_ttl_s: float = 600.0  # the presigned-like download URL expires after this
    # a sync export of a file bigger than this answers 504 after export_sync_timeout_s (the
    # sandbox's model of "sync can time out on big files": sandbox/server/exports_api.py)
    export_sync_max_bytes: int = 64 << 20
    export_sync_timeout_s: float = 29.0  # an API gateway's integration timeout (AWS: 29 s)
    # Soracom Query (sandbox/server/queries.py)
    # Off by default, like an operator that has not subscribed: every Analysis call answers 403
    query_enabled: bool = False
    query_monthly_quota: int = 10_000  # query executions a month before startAnalysisQueries answers 403
    query_outcome: str = "completed"  # final status of new queries: completed|failed
    query_stage_polls: int = 1  # polls each of STARTING, RUNNING, EXPORTING lasts at least
    # bad input (sandbox/server/badinput.py): one mode at a time, "" = off
    bad_input: str = ""  # e.g. not_json, html_200, missing_fields, csv_header_only, harvest_binary...
    bad_input_operations: str = ""  # comma-separated operationIds it hits ("" = all it applies to)
    bad_input_fields: str = ""  # comma-separated field names for the field modes ("" = the mode's default)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def update(self, changes: dict[str, Any]) -> None:
        """Apply a partial update, validating every value before changing anything."""
        checked = {name: _check(name, value) for name, value in changes.items()}
        for name, value in checked.items():
            setattr(self, name, value)


_FIELDS = {f.name: f for f in dataclasses.fields(SandboxSettings)}
_RATES = {"error_rate", "drop_rate"}
_NON_NEGATIVE = {"latency_ms", "jitter_ms", "export_delay_s", "download_url_ttl_s", "export_sync_timeout_s"}


def _check(name: str, value: Any) -> Any:
    if name not in _FIELDS:
        known = ", ".join(sorted(_FIELDS))
        raise ValueError(f"unknown sandbox setting {name!r}; known settings: {known}")
    if name in _RATES or name in _NON_NEGATIVE:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"setting {name} must be a number, got {value!r}")
        if value < 0 or (name in _RATES and value > 1):
            bounds = "between 0 and 1" if name in _RATES else ">= 0"
            raise ValueError(f"setting {name} must be {bounds}, got {value!r}")
        return float(value)
    if name in ("rate_limit_per_minute", "fault_seed", "query_monthly_quota", "query_stage_polls"):
        if isinstance(value, bool) or not isinstance(value, int) or value < (1 if name[0] == "r" else 0):
            raise ValueError(f"setting {name} must be a positive integer, got {value!r}")
        return value
    if name == "export_sync_max_bytes":
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"setting {name} must be an integer >= 0 (bytes), got {value!r}")
        return value
    if name == "rate_limit_window_s":
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(
                f"setting rate_limit_window_s must be a positive number of seconds, got {value!r}"
            )
        return float(value)
    if name == "token_ttl":
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
            raise ValueError(f"setting token_ttl must be a positive number of seconds or null, got {value!r}")
        return value
    if name in ("short_pages", "repeat_cursor", "record_calls", "query_enabled"):
        if not isinstance(value, bool):
            raise ValueError(f"setting {name} must be true or false, got {value!r}")
        return value
    if name == "bad_input":
        from sandbox.server.badinput import check_mode

        return check_mode(value)
    if name in ("bad_input_operations", "bad_input_fields"):
        if not isinstance(value, str):
            raise ValueError(f"setting {name} must be a comma-separated string, got {value!r}")
        return value
    if name == "query_outcome":
        if value not in QUERY_OUTCOMES:
            raise ValueError(f"setting query_outcome must be one of {QUERY_OUTCOMES}, got {value!r}")
        return value
    if name == "export_outcome":
        if value not in EXPORT_OUTCOMES:
            raise ValueError(f"setting export_outcome must be one of {EXPORT_OUTCOMES}, got {value!r}")
        return value
    if not isinstance(value, str) or not value:
        raise ValueError(f"setting {name} must be a non-empty string, got {value!r}")
    return value
