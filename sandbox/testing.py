"""Start a sandbox for tests, the demo and benchmarks.

    with start_sandbox(sims=200, seed=42, now="2026-11-30T00:00:00Z") as sandbox:
        httpx.post(sandbox.url + "/v1/auth", json=sandbox.credentials)
        sandbox.settings.error_rate = 0.2      # faults can change mid-test
        sandbox.world.session_events(...)      # ground truth
        sandbox.stats.calls["listSims"]

`start_sandbox` runs uvicorn in a background thread of this process (fast, shares the
live World and settings); `start_sandbox_process` runs `soracom-lake sandbox --port 0`
in a subprocess (for crash/outage tests and benchmarks) and talks to it over the
`/_sandbox/...` admin endpoints.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sandbox.process import _url_for, parse_coverages
from sandbox.server import SandboxSettings, SandboxState, create_app
from sandbox.server.serve import bind_socket, make_server
from sandbox.server.state import Clock, wall_clock
from sandbox.server.stats import ServerStats

DEFAULT_OPERATOR_ID = "OP0000000000"
_SETTING_NAMES = set(SandboxSettings.__dataclass_fields__)


def parse_now(now: datetime | str | None) -> datetime | None:
    """`2026-11-30T00:00:00Z` (or a datetime) -> tz-aware UTC datetime; None stays None."""
    if now is None or isinstance(now, datetime):
        return now if now is None or now.tzinfo else now.replace(tzinfo=UTC)
    try:
        parsed = datetime.fromisoformat(now.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"now must be an ISO 8601 time like 2026-11-30T00:00:00Z, got {now!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)


def parse_clock(now: Any) -> Clock | None:
    """`live` -> the wall clock (the world's `now` follows it); anything else -> None (fixed)."""
    return wall_clock if isinstance(now, str) and now.strip().lower() == "live" else None


def credentials_of(settings: SandboxSettings | dict[str, Any], operator_id: str) -> dict[str, dict[str, str]]:
    """The three ways to authenticate, as `/v1/auth` request bodies."""
    s = settings if isinstance(settings, dict) else settings.to_dict()
    return {
        "auth_key": {"authKeyId": s["auth_key_id"], "authKey": s["auth_key"]},
        "root": {"email": s["email"], "password": s["password"]},
        "sam": {
            "operatorId": operator_id,
            "userName": s["sam_user_name"],
            "password": s["sam_user_password"],
        },
    }


@dataclass
class SandboxHandle:
    """A running in-process sandbox."""

    url: str  # jp base (append /v1/...); use url_for("g") for the global coverage
    host: str
    port: int
    world: Any  # sandbox.world.World, the live ground truth
    state: SandboxState

    @property
    def settings(self) -> SandboxSettings:
        return self.state.settings

    @property
    def stats(self) -> ServerStats:
        return self.state.stats

    @property
    def operator_id(self) -> str:
        return self.world.operator_id

    @property
    def credentials(self) -> dict[str, str]:
        """The auth-key body for `/v1/auth` (see `all_credentials` for root and SAM)."""
        return credentials_of(self.settings, self.operator_id)["auth_key"]

    @property
    def all_credentials(self) -> dict[str, dict[str, str]]:
        return credentials_of(self.settings, self.operator_id)

    def url_for(self, coverage: str) -> str:
        return _url_for(f"http://{self.host}:{self.port}", self.world.coverages, coverage)

    def expire_tokens(self) -> int:
        return self.state.tokens.expire_all()

    @contextlib.contextmanager
    def configured(self, **changes: Any) -> Iterator[SandboxSettings]:
        """Apply settings for the duration of a block, then restore them (and reset rate limits)."""
        before = {name: getattr(self.settings, name) for name in changes}
        self.settings.update(changes)
        if "fault_seed" in changes:
            self.state.faults.reseed()
        try:
            yield self.settings
        finally:
            self.settings.update(before)
            self.state.limiter.reset()
            if "fault_seed" in changes:
                self.state.faults.reseed()

    def reset_rate_limits(self) -> None:
        self.state.limiter.reset()


def _check_setting_names(options: dict[str, Any]) -> None:
    unknown = set(options) - _SETTING_NAMES
    if unknown:
        known = ", ".join(sorted(_SETTING_NAMES))
        raise TypeError(
            f"unknown sandbox options {sorted(unknown)}; world options: sims, seed, now, coverage(s), "
            f"operator_id, world; settings: {known}"
        )


@contextlib.contextmanager
def start_sandbox(
    *,
    sims: int = 200,
    seed: int = 42,
    now: datetime | str | None = None,
    coverage: str | tuple[str, ...] = "jp",
    coverages: tuple[str, ...] | None = None,
    operator_id: str = DEFAULT_OPERATOR_ID,
    world: Any = None,
    host: str = "127.0.0.1",
    clock: Clock | None = None,
    **options: Any,
) -> Iterator[SandboxHandle]:
    """Serve a World (given, or built from sims/seed/now/coverage) on a free loopback port.

    `now="live"` makes `now` follow the wall clock; `clock=` any other callable returning an
    aware datetime (tests step it by hand). With a clock, read the current world from
    `handle.state.world` (`handle.world` is the world the server started with).

    Any other keyword is a `SandboxSettings` field (faults, credentials, export knobs).
    """
    _check_setting_names(options)
    clock = clock or parse_clock(now)
    if clock is not None and (now is None or parse_clock(now) is not None):
        now = clock().replace(second=0, microsecond=0)
    if world is None:
        from sandbox.world import World

        world = World(
            seed=seed,
            sims=sims,
            now=parse_now(now),
            coverages=parse_coverages(coverages or coverage),
            operator_id=operator_id,
        )
    settings = SandboxSettings()
    settings.update(options)
    app = create_app(world, settings, clock)
    sock = bind_socket(host, 0)
    port = sock.getsockname()[1]
    server = make_server(app)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"sandbox-{port}", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError("the sandbox server did not start (see the log above)")
        time.sleep(0.005)
    try:
        yield SandboxHandle(
            url=f"http://{host}:{port}", host=host, port=port, world=world, state=app.state.sandbox
        )
    finally:
        server.should_exit = True
        thread.join(timeout=10)
