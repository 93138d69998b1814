-- Air traffic per IMSI, ~5-minute bucket and usage type, one row per key, with the SIM it belongs to
-- `type`: the speed class on jp, the subscription on g (see stg_air_traffic_daily).
-- grain: coverage, imsi, time, type
-- not null: coverage, date, imsi, time
SELECT
    t.coverage,
    t.date,
    t.time,
    t.unixtime,
    t.imsi,
    m.sim_id,
    t.speed_class AS type,
    CASE WHEN t.coverage <> 'g' THEN t.speed_class END AS speed_class,
    CASE WHEN t.coverage = 'g' THEN t.speed_class END AS subscription,
    t.upload_bytes,
    t.download_bytes,
    t.upload_bytes + t.download_bytes AS total_bytes,
    t.upload_packets,
    t.download_packets
FROM air_traffic_5min AS t
LEFT JOIN stg_sim_imsis AS m
    ON m.coverage = t.coverage AND m.imsi = t.imsi
QUALIFY row_number() OVER (
    PARTITION BY t.coverage, t.imsi, t.time, t.speed_class ORDER BY t._loaded_at DESC
) = 1
