"""Time windows cost no more than their answer (a far-future `to` is cut at now), and stats
windows outside the calendar are a 400 with the error body, never a 500."""

from __future__ import annotations

from collections.abc import Callable

import pytest

DAY_MS = 86_400_000
FAR_FUTURE = 2**48  # what schemathesis sent: ~8900 years after now


def _spy(monkeypatch, world, name: str) -> list[tuple[int, int]]:
    """Record the [from, to) windows the server asks the world for (the work a call costs)."""
    asked: list[tuple[int, int]] = []
    original: Callable = getattr(world, name)

    def spy(*args, **kwargs):
        a, b = args[-2], args[-1]
        asked.append((a, b))
        # never let a window past now reach the world: it would run for hours
        return original(*args[:-2], a, min(b, world.now_ms), **kwargs)

    monkeypatch.setattr(world, name, spy)
    return asked


def _targets(sandbox) -> list[tuple[str, str, dict]]:
    world = sandbox.world
    sim_id = next(
        s for s in world.sim_ids("jp") if world.session_events(s, world.now_ms - DAY_MS, world.now_ms)
    )
    imsi = next(iter(world.sim(sim_id)["profiles"].values()))["primaryImsi"]
    harvest = next(r for r in world.harvest_resources("jp") if r["resourceType"] == "Sim")
    return [
        ("session_events", f"/v1/sims/{sim_id}/events/sessions", {}),
        ("session_events", f"/v1/subscribers/{imsi}/events/sessions", {}),
        ("harvest_entries", f"/v1/data/Sim/{harvest['resourceId']}", {}),
        ("harvest_entries", f"/v1/sims/{harvest['resourceId']}/data", {}),
        ("napter_audit_logs", "/v1/audit_logs/napter", {"from": world.now_ms - 5 * 3_600_000 - 12_345}),
    ]


def test_a_far_future_to_costs_what_to_now_costs(sandbox, api, monkeypatch):
    world = sandbox.world
    # a `from` no other test uses (and inside each list's retention), so no cached answer hides the work
    for method, path, params in _targets(sandbox):
        start = params.pop("from", world.now_ms - 2 * DAY_MS - 12_345)
        asked = _spy(monkeypatch, world, method)
        far = api.get(path, params={**params, "from": start, "to": FAR_FUTURE, "limit": 1000})
        assert far.status_code == 200, (path, far.text)
        assert asked, f"{path}: the world was not asked (cached answer?)"
        assert max(b for _, b in asked) <= world.now_ms, f"{path} asked the world past now: {asked}"
        at_now = api.get(path, params={**params, "from": start, "to": world.now_ms, "limit": 1000})
        assert far.json() == at_now.json(), path
        monkeypatch.undo()


@pytest.mark.parametrize(
    ("params", "bad"),
    [
        ({"from": -(10**11), "to": 10**9}, "from"),
        ({"from": 1_700_000_000, "to": 10**12}, "to"),
        ({"from": -(10**11), "to": 10**12}, "from"),
    ],
)
@pytest.mark.parametrize("period", ["month", "day"])
def test_stats_outside_the_calendar_are_a_400_with_the_error_body(sandbox, api, params, bad, period):
    world = sandbox.world
    group = world.groups("jp")[0]["groupId"]
    for path in (
        f"/v1/stats/air/operators/{world.operator_id}",
        f"/v1/stats/air/groups/{group}",
        f"/v1/stats/air/sims/{world.sim_ids('jp')[0]}",
    ):
        answer = api.get(path, params={**params, "period": period})
        assert answer.status_code == 400, (path, answer.status_code, answer.text)
        message = answer.json()["errorMessage"]["message"]
        assert f"{bad}=" in message and "epoch SECONDS" in message, message
