"""Air stats: per SIM, per subscriber, per operator, per group, and the CSV export.

Per-SIM and per-IMSI stats of a terminated SIM are empty (the spec says its traffic
"cannot be confirmed"); the export CSV includes it.

`from`/`to` are epoch SECONDS here (unlike the millisecond calls). A window starting
before what Soracom keeps for that scope and period is refused with 400 (wrapped error
shape), as the spec says the range "should be" within it.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from sandbox.server.call import Call, Operation, json_response
from sandbox.server.errors import bad_request, not_found
from sandbox.server.exports_api import export_answer
from sandbox.server.kept import period_start_s, stats_kept_since_s

SIM_PERIODS = ("month", "day", "minutes")
AGGREGATE_PERIODS = ("month", "day")


def _terminated(sim: dict | None) -> bool:
    """The spec: "The data traffic of the terminated IoT SIM cannot be confirmed" per SIM/IMSI
    (the operator-wide CSV export still shows it)."""
    return sim is None or sim.get("status") == "terminated"


# epoch seconds of 0001-01-01 .. 9999-12-31 UTC: outside, no calendar month or day holds the time
CALENDAR_S = (-62_135_596_800, 253_402_300_799)


def _check_window(call: Call, scope: str, period: str, from_s: int, to_s: int) -> None:
    for name, value in (("from", from_s), ("to", to_s)):
        if not CALENDAR_S[0] <= value <= CALENDAR_S[1]:
            raise bad_request(
                f"{name}={value} is not a time: give epoch SECONDS between {CALENDAR_S[0]} and "
                f"{CALENDAR_S[1]} (years 1 to 9999 UTC)",
                "wrapped",
            )
    if to_s < from_s:
        raise bad_request(f"from ({from_s}) must not be after to ({to_s}); both are epoch seconds", "wrapped")
    if from_s > 10**11:
        raise bad_request(
            f"from={from_s} looks like milliseconds: /stats calls take epoch SECONDS", "wrapped"
        )
    now_s = call.world.now_ms // 1000
    kept = stats_kept_since_s(scope, period, now_s)
    if period_start_s(period, from_s) < kept:
        raise bad_request(
            f"from={from_s} is out of range for period={period}: Soracom keeps {scope} stats of this period "
            f"only from {kept} (epoch seconds) on",
            "wrapped",
        )


def _stats_query(call: Call, periods: tuple[str, ...], scope: str) -> tuple[str, int, int]:
    period = call.choice_query("period", periods)
    if period is None:
        raise bad_request(f"query parameter 'period' is required: one of {', '.join(periods)}", "wrapped")
    from_s = call.int_query("from", required=True)
    to_s = call.int_query("to", required=True)
    assert from_s is not None and to_s is not None
    _check_window(call, scope, period, from_s, to_s)
    return period, from_s, to_s


async def get_air_stats_of_sim(call: Call) -> Response:
    sim_id = call.request.path_params["sim_id"]
    if call.state.coverage_of_sim(sim_id) != call.coverage:
        raise not_found(f"No such SIM: {sim_id}", "wrapped")
    period, from_s, to_s = _stats_query(call, SIM_PERIODS, "sim")
    if _terminated(call.world.sim(sim_id)):
        return json_response([])
    return json_response(call.world.air_stats_sim(sim_id, period, from_s, to_s))


async def get_air_stats(call: Call) -> Response:
    imsi = call.request.path_params["imsi"]
    if call.state.coverage_of_imsi(imsi) != call.coverage:
        raise not_found(f"No such subscriber: {imsi}", "wrapped")
    period, from_s, to_s = _stats_query(call, SIM_PERIODS, "sim")
    if _terminated(call.world.sim_by_imsi(imsi)):
        return json_response([])
    return json_response(call.world.air_stats_subscriber(imsi, period, from_s, to_s))


async def get_air_stats_of_operator(call: Call) -> Response:
    operator_id = call.request.path_params["operator_id"]
    if operator_id != call.state.operator_id:
        raise not_found(f"No such operator: {operator_id}", "wrapped")
    period, from_s, to_s = _stats_query(call, AGGREGATE_PERIODS, "operator")
    return json_response(call.world.air_stats_operator(call.coverage, period, from_s, to_s))


async def get_air_stats_of_group(call: Call) -> Response:
    group_id = call.request.path_params["group_id"]
    if group_id not in call.state.inventories[call.coverage].group_index:
        raise not_found(f"No such group: {group_id}", "wrapped")
    period, from_s, to_s = _stats_query(call, AGGREGATE_PERIODS, "group")
    return json_response(call.world.air_stats_group(group_id, period, from_s, to_s))


def _body_int(body: dict[str, Any], name: str) -> int:
    value = body.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"body field {name!r} is required: an integer, in epoch SECONDS", "wrapped")
    return value


async def export_air_stats(call: Call) -> Response:
    operator_id = call.request.path_params["operator_id"]
    if operator_id != call.state.operator_id:
        raise not_found(f"No such operator: {operator_id}", "wrapped")
    body = await call.json_body()
    period = body.get("period")
    if period not in SIM_PERIODS:
        raise bad_request(
            f"body field 'period' must be one of {', '.join(SIM_PERIODS)}; got {period!r}", "wrapped"
        )
    from_s, to_s = _body_int(body, "from"), _body_int(body, "to")
    _check_window(call, "sim", period, from_s, to_s)
    world, coverage = call.world, call.coverage
    return await export_answer(
        call,
        f"air_usage_{coverage}_{period}_{from_s}_{to_s}.csv",
        lambda out: world.write_air_usage_csv(out, coverage, period, from_s, to_s),
    )


OPERATIONS = [
    Operation(
        "GET", "/stats/air/sims/{sim_id}", "getAirStatsOfSim", get_air_stats_of_sim, error_shape="wrapped"
    ),
    Operation("GET", "/stats/air/subscribers/{imsi}", "getAirStats", get_air_stats, error_shape="wrapped"),
    Operation(
        "GET",
        "/stats/air/operators/{operator_id}",
        "getAirStatsOfOperator",
        get_air_stats_of_operator,
        error_shape="wrapped",
        cache_answers=True,
    ),
    Operation(
        "GET",
        "/stats/air/groups/{group_id}",
        "getAirStatsOfGroup",
        get_air_stats_of_group,
        error_shape="wrapped",
        cache_answers=True,
    ),
    Operation(
        "POST",
        "/stats/air/operators/{operator_id}/export",
        "exportAirStats",
        export_air_stats,
        error_shape="wrapped",
    ),
]
