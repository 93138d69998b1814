"""The models follow the loads (issue 14.3): Dagster's automation evaluation requests the models
reading a table after that table was loaded, and nothing when nothing changed."""

from __future__ import annotations

import dagster as dg

from assets.models import CATALOG_AFTER_MODELS, MODEL_ASSETS, MODELS
from assets.resources import ClockResource, LakeResource, SoracomResource
from assets.tables import TABLE_ASSETS
from pipelines.definitions import defs as code_location
from pipelines.schedules import SCHEDULES

DAY = "2026-11-29"


def _requested(result: dg.EvaluateAutomationConditionsResult) -> set[str]:
    return {r.key.to_user_string() for r in result.results if result.get_num_requested(r.key)}


def _reading(table: str) -> set[str]:
    """The models that read `table`, directly or through other models."""
    found: set[str] = set()
    grew = True
    while grew:
        before = len(found)
        found |= {m.name for m in MODELS if table in m.depends_on or found & set(m.depends_on)}
        grew = len(found) > before
    return found


def test_models_are_requested_after_a_load_and_not_when_nothing_changed() -> None:
    defs = dg.Definitions(
        assets=[*TABLE_ASSETS, *MODEL_ASSETS, CATALOG_AFTER_MODELS],
        resources={"soracom": SoracomResource(), "lake": LakeResource(), "clock": ClockResource()},
    )
    instance = dg.DagsterInstance.ephemeral()
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance)
    assert first.total_requested == 0, "nothing loaded yet: nothing to build"

    instance.report_runless_asset_event(dg.AssetMaterialization("session_events", partition=DAY))
    after_load = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=first.cursor)
    reading = _reading("session_events")
    assert {"stg_session_events", "sim_daily_usage"} <= reading
    assert _requested(after_load) == reading | {"catalog"}, "exactly what reads the loaded table"

    quiet = dg.evaluate_automation_conditions(defs=defs, instance=instance, cursor=after_load.cursor)
    assert quiet.total_requested == 0, "nothing changed since: nothing rebuilt"


def test_no_fixed_cron_rebuilds_the_models() -> None:
    assert all("models" not in s.name for s in SCHEDULES)
    sensor = code_location.resolve_sensor_def("models_automation")
    assert isinstance(sensor, dg.AutomationConditionSensorDefinition)
