"""`GET /v1/sims/{sim_id}/events/sessions` and `GET /v1/subscribers/{imsi}/events/sessions`."""

from __future__ import annotations

from starlette.responses import Response

from sandbox.server.call import Call, Operation
from sandbox.server.errors import not_found
from sandbox.server.kept import kept_since_ms
from sandbox.server.paging import Limit
from sandbox.server.timelists import ms_window, time_list

# spec: no bounds ("may be less than the specified value"); the sandbox caps at 1000
SESSIONS_LIMIT = Limit(default=100, maximum=None)  # spec: no maximum


def _event_time(event: dict) -> int:
    return int(event["time"])


async def list_sim_session_events(call: Call) -> Response:
    sim_id = call.request.path_params["sim_id"]
    if call.state.coverage_of_sim(sim_id) != call.coverage:
        raise not_found(f"No such SIM: {sim_id}")
    now = call.world.now_ms
    window = ms_window(call, kept_since_ms("session_events", now), now)
    return time_list(
        call,
        window,
        lambda a, b: call.world.session_events(sim_id, a, b),
        _event_time,
        SESSIONS_LIMIT,
        cache_key=(sim_id,),
    )


async def list_session_events(call: Call) -> Response:
    """The events of one IMSI; `last_evaluated_key` may also be the time of the last event."""
    imsi = call.request.path_params["imsi"]
    if call.state.coverage_of_imsi(imsi) != call.coverage:
        raise not_found(f"No such subscriber: {imsi}")
    sim = call.world.sim_by_imsi(imsi)
    sim_id = sim["simId"]
    now = call.world.now_ms
    window = ms_window(call, kept_since_ms("session_events", now), now)

    def fetch(a: int, b: int) -> list[dict]:
        return [e for e in call.world.session_events(sim_id, a, b) if e.get("imsi") == imsi]

    return time_list(
        call, window, fetch, _event_time, SESSIONS_LIMIT, accept_plain_time=True, cache_key=(imsi,)
    )


OPERATIONS = [
    Operation("GET", "/sims/{sim_id}/events/sessions", "listSimSessionEvents", list_sim_session_events),
    Operation("GET", "/subscribers/{imsi}/events/sessions", "listSessionEvents", list_session_events),
]
