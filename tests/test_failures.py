"""`pipelines.failures.cause_of`: a failed step is said by its cause, not Dagster's wrapper."""

from __future__ import annotations

import dagster as dg

from pipelines.failures import cause_of


@dg.asset
def raises_value_error() -> None:
    raise ValueError("the real cause")


@dg.asset
def raises_failure() -> None:
    raise dg.Failure(description="a message written for people")


def _causes(asset: dg.AssetsDefinition) -> list[str]:
    result = dg.materialize(
        [asset],
        raise_on_error=False,
        instance=dg.DagsterInstance.ephemeral(),
        run_config={"loggers": {"console": {"config": {"log_level": "CRITICAL"}}}},
    )
    return [cause_of(e.step_failure_data.error) for e in result.all_events if e.is_step_failure]


def test_the_cause_not_the_wrapper() -> None:
    assert _causes(raises_value_error) == ["ValueError: the real cause"]
    assert _causes(raises_failure) == ["a message written for people"]
