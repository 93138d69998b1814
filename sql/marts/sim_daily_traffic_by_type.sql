-- Per SIM, UTC day and usage type (speed class on jp, subscription on g): traffic bytes and packets
-- grain: coverage, date, sim_id, unmapped_imsi, type
-- not null: coverage, date, type, upload_bytes, download_bytes, total_bytes
-- partitioned by: day(date)
-- partition inputs: air_traffic_daily(date)
-- dimensions: stg_sim_imsis
-- The flat companion of sim_daily_usage (one row per type instead of a MAP column, which
-- SQLAlchemy-based BI tools hide); its rows of a SIM-day add up to that day's total_bytes there.
-- IMSIs that no SIM snapshot knows are kept under sim_id NULL with their IMSI in unmapped_imsi.
SELECT
    t.coverage,
    t.date,
    t.sim_id,
    CASE WHEN t.sim_id IS NULL THEN t.imsi END AS unmapped_imsi,
    t.type,
    CAST(sum(t.upload_bytes) AS BIGINT) AS upload_bytes,
    CAST(sum(t.download_bytes) AS BIGINT) AS download_bytes,
    CAST(sum(t.upload_bytes + t.download_bytes) AS BIGINT) AS total_bytes,
    CAST(sum(t.upload_packets) AS BIGINT) AS upload_packets,
    CAST(sum(t.download_packets) AS BIGINT) AS download_packets
FROM stg_air_traffic_daily AS t
GROUP BY ALL
