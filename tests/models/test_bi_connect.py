"""The catalog opened the way Superset and Metabase do (issue 14 item 12): SQLAlchemy with the
`duckdb-engine` dialect, read-only. Every view is listed, every mart is reflected without a
warning (a MAP or LIST column gives "Did not recognize type" and the tool hides the column) and
queried."""

from __future__ import annotations

import warnings
from collections.abc import Iterator

import duckdb
import pytest
import sqlalchemy as sa

from assets.models import MODELS
from tests.models.conftest import BuiltLake


@pytest.fixture
def engine(built: BuiltLake) -> Iterator[sa.Engine]:
    engine = sa.create_engine(f"duckdb:///{built.catalog}", connect_args={"read_only": True})
    yield engine
    engine.dispose()


def test_bi_tools_list_every_view_and_query_every_mart(built: BuiltLake, engine: sa.Engine) -> None:
    con = duckdb.connect(str(built.catalog), read_only=True)
    try:
        views = {
            v for (v,) in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        }
    finally:
        con.close()
    marts = [m.name for m in MODELS if m.layer == "marts"]
    assert set(marts) <= views
    inspector = sa.inspect(engine)
    assert set(inspector.get_view_names()) == views

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an unrecognised column type is a SAWarning: fail on it
        columns = {name: inspector.get_columns(name) for name in marts}
    with engine.connect() as connection:
        for name, described in columns.items():
            assert described and not any(isinstance(c["type"], sa.types.NullType) for c in described), name
            table = sa.table(name, *(sa.column(c["name"]) for c in described))
            count = connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            rows = connection.execute(sa.select(table).limit(5)).fetchall()
            assert len(rows) == min(count, 5) and all(len(r) == len(described) for r in rows), name
        usage = sa.table("sim_daily_usage", sa.column("total_bytes"))
        assert connection.execute(sa.select(sa.func.sum(usage.c.total_bytes))).scalar_one() > 0
        with pytest.raises(sa.exc.DBAPIError, match="read-only"):
            connection.execute(sa.text("CREATE TABLE scratch (x INTEGER)"))
