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


def test_the_flat_mart_has_traffic_by_type(con: duckdb.DuckDBPyConnection):
    keys = dict(
        con.execute(
            "SELECT coverage, list(DISTINCT type) FROM sim_daily_traffic_by_type GROUP BY ALL"
        ).fetchall()
    )
    assert set(keys["jp"]) <= set(SPEED_CLASSES)
    assert set(keys["g"]) <= set(G_EXPORT_TYPES) and keys["g"]
    # its rows of a SIM-day add up to sim_daily_usage's total (flat companion, not a MAP column)
    (mismatches,) = con.execute(
        "SELECT count(*) FROM sim_daily_usage AS u LEFT JOIN ("
        "  SELECT coverage, date, sim_id, unmapped_imsi, sum(total_bytes) AS bytes"
        "  FROM sim_daily_traffic_by_type GROUP BY ALL) AS t"
        " ON t.coverage = u.coverage AND t.date = u.date AND t.sim_id IS NOT DISTINCT FROM u.sim_id"
        " AND t.unmapped_imsi IS NOT DISTINCT FROM u.unmapped_imsi"
        " WHERE u.total_bytes > 0 AND t.bytes IS DISTINCT FROM u.total_bytes"
    ).fetchone()
    assert mismatches == 0
