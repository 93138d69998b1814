-- Air traffic per IMSI, ~5-minute bucket and speed class, one row per key, with the SIM it belongs to
-- grain: coverage, imsi, time, speed_class
-- not null: coverage, date, imsi, time
SELECT
    t.coverage,
    t.date,
    t.time,
    t.unixtime,
    t.imsi,
    m.sim_id,
    t.speed_class,
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
