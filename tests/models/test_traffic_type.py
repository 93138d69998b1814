"""The Air usage export's `type` keeps its meaning per coverage: the speed class on jp, the
subscription (e.g. plan01s) on g, as Soracom sends it (issue 16 item 8)."""

from __future__ import annotations

import duckdb

from sandbox.world.air_stats import G_EXPORT_TYPES
from sandbox.world.pricing import SPEED_CLASSES


def test_staging_names_the_type_speed_class_on_jp_and_subscription_on_g(con: duckdb.DuckDBPyConnection):
    for table in ("stg_air_traffic_daily", "stg_air_traffic_5min"):
        got = dict(
            con.execute(
                f"SELECT coverage, list(DISTINCT [type, speed_class, subscription]) FROM {table} GROUP BY ALL"
            ).fetchall()
        )
        assert got["jp"] and all(t == sc and t in SPEED_CLASSES and sub is None for t, sc, sub in got["jp"])
        assert got["g"] and all(t == sub and t in G_EXPORT_TYPES and sc is None for t, sc, sub in got["g"])


def test_the_mart_maps_traffic_by_type(con: duckdb.DuckDBPyConnection):
    keys = dict(
        con.execute(
            "SELECT coverage, list(DISTINCT k) FROM "
            "(SELECT coverage, unnest(map_keys(traffic_by_type)) AS k FROM sim_daily_usage) GROUP BY ALL"
        ).fetchall()
    )
    assert set(keys["jp"]) <= set(SPEED_CLASSES)
    assert set(keys["g"]) <= set(G_EXPORT_TYPES) and keys["g"]
