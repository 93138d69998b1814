"""The Dagster instance a load runs on: installing the shipped instance file (SQLite, or
Postgres from `DAGSTER_PG_URL`) into a Dagster home, owner-writable only whatever the umask.

Why owner-only: the home holds the pool limits and the run history, and the data dir the
lake and catalog; under umask 000 anyone on the host could swap them.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from assets.tables import api_pools

SQLITE_TEMPLATE = Path(__file__).with_name("dagster_instance.yaml")
POSTGRES_TEMPLATE = Path(__file__).with_name("dagster_instance_postgres.yaml")
PG_URL_ENV = "DAGSTER_PG_URL"
HOME_MODE = 0o700  # the Dagster home: run history, compute logs, instance config
CONFIG_MODE = 0o600  # dagster.yaml
DATA_DIR_MODE = 0o755  # the data dir: readers may read the lake and catalog, not write them


class InstanceConfigError(ValueError):
    """The instance cannot be set up: says what is missing and what to do."""


def restrict_umask() -> int:
    """Add group/other write to the process umask (keeping a stricter one), so files Dagster
    creates (event logs, compute logs, schedules) are never writable by others. Returns the
    previous umask."""
    previous = os.umask(0o077)
    os.umask(previous | 0o022)
    return previous


def make_private_dir(path: Path, mode: int, tighten: bool = False) -> Path:
    """`path` (and missing parents) with `mode`, whatever the umask. An existing dir is left
    as it is (it may be the user's), unless `tighten`: then it loses group/other write."""
    existed = path.is_dir()
    path.mkdir(parents=True, exist_ok=True)
    if not existed:
        path.chmod(mode)
    elif tighten:
        path.chmod(path.stat().st_mode & 0o777 & ~0o022)
    return path


def install_instance_config(dagster_home: Path, template: Path = SQLITE_TEMPLATE) -> Path:
    """`dagster_home/dagster.yaml` from `template` (its pool limit and run-queue limits), unless
    the file exists: a user's own instance config is never replaced.

    The slots of every source pool (`soracom_api.<family>`, `assets.tables.api_pools`) are then
    created from the instance's default limit. Dagster creates them on the first claim
    otherwise, and two runs starting together on a fresh instance could both claim before the
    slots exist."""
    if template == POSTGRES_TEMPLATE and not os.environ.get(PG_URL_ENV):
        raise InstanceConfigError(
            f"the Postgres instance reads its database from {PG_URL_ENV}, which is not set: "
            f"export {PG_URL_ENV}='postgresql+psycopg2://USER:PASSWORD@HOST:5432/DB'"
        )
    restrict_umask()
    make_private_dir(dagster_home, HOME_MODE, tighten=True)
    target = dagster_home / "dagster.yaml"
    if not target.exists():
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, CONFIG_MODE)
        with os.fdopen(fd, "w") as out:
            out.write(template.read_text())
    target.chmod(target.stat().st_mode & 0o777 & ~0o022)
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        create_pool_slots(instance)
    finally:
        instance.dispose()
    return target


def create_pool_slots(instance: dg.DagsterInstance) -> list[str]:
    """Create the slots of every source pool the instance does not know yet, at its default
    limit (a limit already set, e.g. by `dagster instance concurrency set`, is kept). Returns
    the pools created."""
    storage = instance.event_log_storage
    known = set(storage.get_concurrency_keys())
    created = [pool for pool in api_pools() if pool not in known]
    for pool in created:
        storage.initialize_concurrency_limit_to_default(pool)
    return created


def main() -> None:
    """`python -m pipelines.instance`: create the API pools' slots on the instance of
    $DAGSTER_HOME, before two runs race for them (one command for every pool)."""
    with dg.DagsterInstance.get() as instance:
        created = create_pool_slots(instance)
        for pool in api_pools():
            limit = instance.event_log_storage.get_concurrency_info(pool).slot_count
            print(f"{pool}: {limit} slot(s){' (created)' if pool in created else ''}")


if __name__ == "__main__":
    main()
