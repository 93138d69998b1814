"""TEMP views kept on a connection while their files are unchanged (pipelines/lake/view_cache.py)
are re-made when the files, or the lake they are in, are not those they were made from."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pytest

from assets.models import MODELS
from assets.tables import TABLE_SPECS
from pipelines.lake import Lake
from pipelines.lake.models import create_views
from pipelines.lake.view_cache import view_columns
from sandbox.world import World
from testkit.world_lake import closed_days, load_traffic_day

TABLE = "air_traffic_daily"


def _view_sql(con: duckdb.DuckDBPyConnection) -> str:
    ((sql,),) = con.execute("SELECT sql FROM duckdb_views() WHERE view_name = ?", [TABLE]).fetchall()
    return str(sql)


@pytest.mark.s3
def test_two_lakes_with_equal_files_get_their_own_views_on_one_connection(s3_bucket: str) -> None:
    """On an object store a copied file has the same size and ETag, so the files' stamps alone
    would call the second lake's view the first one's."""
    import s3fs

    world = World(seed=42, sims=6, now=datetime(2026, 11, 30, tzinfo=UTC), coverages=("jp",))
    first = Lake(s3_bucket + "/first")
    for day in closed_days(world, 2):
        load_traffic_day(first, world, day)
    s3fs.S3FileSystem(skip_instance_cache=True).copy(
        f"{s3_bucket}/first", f"{s3_bucket}/second", recursive=True
    )
    second = Lake(s3_bucket + "/second")
    assert sorted(first.storage.stamps(TABLE).values()) == sorted(second.storage.stamps(TABLE).values())
    con = duckdb.connect()
    create_views(con, first, [TABLE], TABLE_SPECS, MODELS)
    assert "/first/" in _view_sql(con)
    create_views(con, second, [TABLE], TABLE_SPECS, MODELS)
    assert "/second/" in _view_sql(con) and "/first/" not in _view_sql(con)


def test_view_columns_are_the_views_own_without_binding_it_again() -> None:
    """`view_columns` reads a TEMP view's columns from the catalog (what it was bound to when
    made); a view re-made over other columns shows those; anything else is bound."""
    con = duckdb.connect()
    con.execute("CREATE TABLE plain AS SELECT 1 AS a, 'x' AS b")
    con.execute("CREATE TEMP VIEW v AS SELECT b, a, a + 1 AS c FROM plain")
    assert view_columns(con, "v") == ("b", "a", "c") == tuple(con.table("v").columns)
    con.execute("CREATE OR REPLACE TEMP VIEW v AS SELECT a AS only_a FROM plain")
    assert view_columns(con, "v") == ("only_a",)
    assert view_columns(con, "plain") == ("a", "b")  # not a TEMP view: bound
    with pytest.raises(duckdb.CatalogException):
        view_columns(con, "nothing")
