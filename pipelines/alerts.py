"""Failure alerts: one JSON POST to the webhook of `SORACOM_ALERT_WEBHOOK_URL` per failed run.

Why a plain webhook: Slack, Teams, Mattermost and most alert gateways accept a POSTed JSON body
with a `text` field, so one hook reaches whichever the team uses, without a client library.
The URL usually embeds a token, so it is never logged: errors name the host only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import httpx

TIMEOUT_S = 10.0
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


def post_alert(url: str, alert: RunFailureAlert, timeout_s: float = TIMEOUT_S) -> int:
    """POST `alert` to `url`; returns the HTTP status. Raises `AlertNotSent` when the hook
    cannot be reached or answers other than 2xx (the sensor then retries at its next tick)."""
    host = httpx.URL(url).host
    try:
        answer = httpx.post(url, json=alert.body(), timeout=timeout_s)
    except httpx.HTTPError as error:
        raise AlertNotSent(
            f"the failure alert for run {alert.run_id} could not reach the webhook host {host}: "
            f"{type(error).__name__}. Check SORACOM_ALERT_WEBHOOK_URL and that this host can reach it."
        ) from None
    if not answer.is_success:
        raise AlertNotSent(
            f"the webhook host {host} refused the failure alert for run {alert.run_id} with HTTP "
            f"{answer.status_code}: {answer.text[:200]!r}. Check SORACOM_ALERT_WEBHOOK_URL "
            "(is the hook still active?)."
        )
    return answer.status_code
