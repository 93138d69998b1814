"""A real PostgreSQL 16 for the tests, started by the suite itself (`pgserver` ships the
binaries): one server per session on a Unix socket in a temp dir (no TCP port at all), one
fresh database per test.

The data folder lives in the system temp dir, not under pytest's: as root, pgserver runs the
server as its own user and opens the folder's parents for it, but every pytest-xdist worker resets
`pytest-of-<user>` to 0700 when it first asks for a temp path, which cut the server off from its
own files mid-`initdb` ("could not open file .../global/pg_control: Permission denied")."""

from __future__ import annotations

import itertools
import shutil
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest

_databases = itertools.count()


@pytest.fixture(scope="session")
def postgres() -> Iterator[object]:
    data = Path(tempfile.mkdtemp(prefix="soracom-lake-pg-"))
    with warnings.catch_warnings():  # pgserver's lock dir falls back to /tmp without XDG_RUNTIME_DIR
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pgserver  # a dev dependency: fail loudly, never skip

        try:
            server = pgserver.get_server(data, cleanup_mode="stop")
        except BaseException:
            shutil.rmtree(data, ignore_errors=True)
            raise
    try:
        yield server
    finally:
        server.cleanup()
        shutil.rmtree(data, ignore_errors=True)


def socket_dir(server: object) -> Path:
    return Path(server.get_postmaster_info().socket_dir)  # type: ignore[attr-defined]


@pytest.fixture
def postgres_url(postgres: object) -> str:
    """A `postgresql+psycopg2://` URL (the form `DAGSTER_PG_URL` takes) of a new, empty database."""
    name = f"test_{next(_databases)}"
    postgres.psql(f"CREATE DATABASE {name};")  # type: ignore[attr-defined]
    return f"postgresql+psycopg2://postgres@/{name}?host={socket_dir(postgres)}"
