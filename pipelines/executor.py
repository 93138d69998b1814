"""The load jobs' executor: every step in the run's own process, the steps that are ready and
whose API pools have a free slot at the same time, each in a thread.

Why: a load step mostly waits on the API (asyncio inside the step), and Soracom rate-limits
each API apart, so the steps of one run that call different APIs (one pool each,
`assets/source.py`) can wait together: the nightly's exports and Harvest load while the
per-SIM session calls run, instead of after them. A process per step (Dagster's
multiprocess executor) would give the same overlap at the price of a Python start-up and the
code location's imports per step (bench/README.md). Dagster's in-process executor runs one
step at a time; this one keeps everything else it does: slot claims through the instance
(`pipelines/slots.py`), step retries, blocking checks, hooks, one compute log for the run.

Signals reach the main thread only: an interrupt (SIGTERM, SIGINT) asks every running step to
stop (`assets/step_stop.py`; a load's asyncio work is cancelled at once), starts nothing
more, and the run ends interrupted once the running steps have ended. An error that a step
re-raises (`raise_on_error`) stops the others the same way and is raised once they ended.

Built from the parts Dagster's own in-process executor is made of (`ActiveExecution`,
`dagster_event_sequence_for_step`: internals of Dagster 1.13, the minor release pyproject.toml
allows); tests/test_executor.py runs every case above, so a drift shows there.
"""

from __future__ import annotations

import os
import queue
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field

import dagster as dg
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.execution.api import ExecuteRunWithPlanIterable
from dagster._core.execution.compute_logs import create_compute_log_file_key
from dagster._core.execution.context.system import (
    PlanExecutionContext,
    PlanOrchestrationContext,
    StepExecutionContext,
)
from dagster._core.execution.context_creation_job import PlanExecutionContextManager
from dagster._core.execution.plan.active import ActiveExecution
from dagster._core.execution.plan.execute_plan import _trigger_hook, dagster_event_sequence_for_step
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode, get_retries_config
from dagster._core.executor.base import Executor

from assets.step_stop import StepStop, running_under

DEFAULT_MAX_CONCURRENT = 4
# How long the main thread waits for a step's event before it looks for signals and slots again.
POLL_S = 0.2


@dataclass
class _Running:
    context: StepExecutionContext
    thread: threading.Thread
    events: list[DagsterEvent] = field(default_factory=list)


@dataclass(frozen=True)
class _Ended:
    """A step's thread is done (after its last event)."""

    error: BaseException | None


def _run_step(context: StepExecutionContext, stop: StepStop, out: queue.SimpleQueue) -> None:
    """A step's thread: its events, then `_Ended` with what it raised (if anything)."""
    error: BaseException | None = None
    try:
        with running_under(stop):
            for event in dagster_event_sequence_for_step(context):
                out.put((context.step.key, event))
    except BaseException as raised:  # handed to the main thread, which raises it
        error = raised
    out.put((context.step.key, _Ended(error)))


class _Steps:
    """The steps of one execution in their threads, and what the main thread does with their
    events (the `ActiveExecution` is only touched from the main thread)."""

    def __init__(
        self, job_context: PlanExecutionContext, active: ActiveExecution, max_concurrent: int
    ) -> None:
        self.job_context = job_context
        self.active = active
        self.max_concurrent = max_concurrent
        self.stop = StepStop()
        self.running: dict[str, _Running] = {}
        self.error: BaseException | None = None
        self._out: queue.SimpleQueue = queue.SimpleQueue()

    def start_ready(self) -> None:
        free = self.max_concurrent - len(self.running)
        if free <= 0 or self.stop.requested:
            return
        for step in self.active.get_steps_to_execute(limit=free):
            context = self.job_context.for_step(step, self.active.get_known_state())
            missing = [k for k in context.required_resource_keys if not hasattr(context.resources, k)]
            if missing:
                raise dg.DagsterInvariantViolationError(
                    f"step {step.key}: its context lacks the resources {missing}"
                )
            thread = threading.Thread(
                target=_run_step, args=(context, self.stop, self._out), name=f"step {step.key}", daemon=True
            )
            self.running[step.key] = _Running(context, thread)
            thread.start()

    def handle_next(self, timeout: float | None) -> Iterator[DagsterEvent]:
        """Yield what the next message of a step brings (its event, or what its end implies)."""
        try:
            key, item = self._out.get(timeout=timeout)
        except queue.Empty:
            return
        running = self.running[key]
        if isinstance(item, DagsterEvent):
            running.events.append(item)
            yield item
            self.active.handle_event(item)
            return
        running.thread.join()
        del self.running[key]
        if item.error is not None and self.error is None:
            self.error = item.error
            self.stop.request()
        self.active.verify_complete(self.job_context, key)
        for event in self.active.plan_events_iterator(self.job_context):
            running.events.append(event)
            yield event
        yield from _trigger_hook(running.context, running.events)

    def stop_all(self, why: str) -> Iterator[DagsterEvent]:
        if self.stop.requested:
            return
        self.stop.request()
        if self.running:
            yield DagsterEvent.engine_event(
                self.job_context, f"{why}: stopping the running steps {sorted(self.running)}"
            )

    def join_quietly(self) -> None:
        """The generator is being closed: stop the steps and wait for them, yielding nothing."""
        self.stop.request()
        for running in list(self.running.values()):
            running.thread.join()


def _execute(
    job_context: PlanExecutionContext,
    execution_plan: ExecutionPlan,
    concurrency: InstanceConcurrencyContext,
    max_concurrent: int,
) -> Iterator[DagsterEvent]:
    compute_log_manager = job_context.instance.compute_log_manager
    step_keys = [step.key for step in execution_plan.get_steps_to_execute_in_topo_order()]
    with (
        execution_plan.start(
            retry_mode=job_context.retry_mode,
            instance_concurrency_context=concurrency,
            step_dependency_config=job_context.step_dependency_config,
        ) as active,
        ExitStack() as capture_stack,
    ):
        log_key = compute_log_manager.build_log_key_for_run(job_context.run_id, create_compute_log_file_key())
        log_context = capture_stack.enter_context(compute_log_manager.capture_logs(log_key))
        yield DagsterEvent.capture_logs(job_context, step_keys, log_key, log_context)
        steps = _Steps(job_context, active, max_concurrent)
        try:
            yield from _loop(steps)
        except GeneratorExit:
            steps.join_quietly()
            raise
        except BaseException:
            yield from steps.stop_all("the executor failed")
            while steps.running:
                yield from steps.handle_next(None)
            raise
        if steps.error is not None:
            raise steps.error


def _loop(steps: _Steps) -> Iterator[DagsterEvent]:
    active = steps.active
    while not active.is_complete or steps.running:
        if active.check_for_interrupts():
            active.mark_interrupted()
            yield from steps.stop_all("the run was interrupted")
        steps.start_ready()
        yield from active.concurrency_event_iterator(steps.job_context)
        if not steps.running:
            if steps.stop.requested:
                return  # interrupted or failed: what did not start stays undone
            active.sleep_til_ready()
            continue
        wait = active.sleep_interval()
        yield from steps.handle_next(min(POLL_S, wait) if wait > 0 else POLL_S)


class OverlappingExecutor(Executor):
    def __init__(self, retries: RetryMode, max_concurrent: int) -> None:
        self._retries = retries
        self.max_concurrent = max_concurrent

    @property
    def retries(self) -> RetryMode:
        return self._retries

    def execute(
        self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan
    ) -> Iterator[DagsterEvent]:
        keys = execution_plan.step_keys_to_execute
        pid = os.getpid()
        yield DagsterEvent.engine_event(
            plan_context,
            f"Executing steps in process (pid: {pid}), up to {self.max_concurrent} at once",
            event_specific_data=EngineEventData.in_process(pid, keys),
        )
        yield from iter(
            ExecuteRunWithPlanIterable(
                execution_plan=plan_context.execution_plan,
                iterator=self._iterator(),
                execution_context_manager=PlanExecutionContextManager(
                    job=plan_context.job,
                    retry_mode=plan_context.retry_mode,
                    execution_plan=plan_context.execution_plan,
                    run_config=plan_context.run_config,
                    dagster_run=plan_context.dagster_run,
                    instance=plan_context.instance,
                    raise_on_error=plan_context.raise_on_error,
                    output_capture=plan_context.output_capture,
                ),
            )
        )
        yield DagsterEvent.engine_event(
            plan_context,
            f"Finished steps in process (pid: {pid})",
            event_specific_data=EngineEventData.in_process(pid, keys),
        )

    def _iterator(self) -> Callable[[PlanExecutionContext, ExecutionPlan], Iterator[DagsterEvent]]:
        def iterate(
            job_context: PlanExecutionContext, execution_plan: ExecutionPlan
        ) -> Iterator[DagsterEvent]:
            with InstanceConcurrencyContext(job_context.instance, job_context.dagster_run) as concurrency:
                yield from _execute(job_context, execution_plan, concurrency, self.max_concurrent)

        return iterate


@dg.executor(
    name="overlapping_in_process",
    config_schema={
        "retries": get_retries_config(),
        "max_concurrent": dg.Field(
            int,
            default_value=DEFAULT_MAX_CONCURRENT,
            description="Steps running at once, each in a thread of the run's process (1: one "
            "after another, as Dagster's in_process executor). Steps of one API pool never overlap.",
        ),
    },
)
def overlapping_in_process_executor(init_context: dg.InitExecutorContext) -> Executor:
    """All steps in the run's process; ready steps of different API pools at once."""
    config = init_context.executor_config
    max_concurrent = int(config["max_concurrent"])  # type: ignore[call-overload]
    if max_concurrent < 1:
        raise ValueError(
            f"executor overlapping_in_process: max_concurrent must be 1 or more, got {max_concurrent}"
        )
    return OverlappingExecutor(RetryMode.from_config(config["retries"]), max_concurrent)  # type: ignore[arg-type]
