"""Failure alerts: one JSON POST to the webhook of `SORACOM_ALERT_WEBHOOK_URL` per failed run.

Why a plain webhook: Slack, Teams, Mattermost and most alert gateways accept a POSTed JSON body
with a `text` field, so one hook reaches whichever the team uses, without a client library.
The URL usually embeds a token, so it is never logged: errors name the host only.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import httpx

TIMEOUT_S = 10.0
ATTEMPTS = 3  # a hook that is briefly down or rate-limiting gets two more tries
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_ERROR_CHARS = 2000  # webhooks cap message sizes; the full error is in the run's log


class AlertNotSent(RuntimeError):
    """The webhook did not take the alert: says which host answered what, and what to check."""


@dataclass(frozen=True)
class RunFailureAlert:
    """What a failure alert says: enough to find the run and see why it failed."""

    run_id: str
    job_name: str
    partition: str | None
    error: str
    location: str | None = None

    @property
    def text(self) -> str:
        where = f" partition {self.partition}" if self.partition else ""
        return (
            f"soracom-lake: run {self.run_id} of {self.job_name}{where} failed: "
            f"{self.error[:MAX_ERROR_CHARS]}"
        )

    def body(self) -> dict[str, object]:
        """`text` for chat webhooks, and the fields for anything that parses them."""
        return {"text": self.text, **asdict(self), "error": self.error[:MAX_ERROR_CHARS]}


def post_alert(url: str, alert: RunFailureAlert, timeout_s: float = TIMEOUT_S, backoff_s: float = 1.0) -> int:
    """POST `alert` to `url`; returns the HTTP status. Connection errors, 429 and 5xx are tried
    `ATTEMPTS` times (waits `backoff_s`, then twice that). Raises `AlertNotSent` when the hook
    still cannot be reached or answers other than 2xx: Dagster then shows the error on the
    sensor's tick (it does not evaluate that run again)."""
    host = httpx.URL(url).host
    for attempt in range(1, ATTEMPTS + 1):
        try:
            answer = httpx.post(url, json=alert.body(), timeout=timeout_s)
        except httpx.HTTPError as error:
            if attempt < ATTEMPTS:
                time.sleep(backoff_s * 2 ** (attempt - 1))
                continue
            raise AlertNotSent(
                f"the failure alert for run {alert.run_id} could not reach the webhook host {host} "
                f"({ATTEMPTS} attempts): {type(error).__name__}. Check SORACOM_ALERT_WEBHOOK_URL and "
                "that this host can reach it."
            ) from None
        if answer.is_success:
            return answer.status_code
        if answer.status_code in RETRY_STATUSES and attempt < ATTEMPTS:
            time.sleep(backoff_s * 2 ** (attempt - 1))
            continue
        raise AlertNotSent(
            f"the webhook host {host} refused the failure alert for run {alert.run_id} with HTTP "
            f"{answer.status_code}: {answer.text[:200]!r}. Check SORACOM_ALERT_WEBHOOK_URL "
            "(is the hook still active?)."
        )
    raise AssertionError("unreachable")  # the loop returns or raises
