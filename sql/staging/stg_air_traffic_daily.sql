-- Air traffic per IMSI, UTC day and speed class, one row per key, with the SIM it belongs to
-- grain: coverage, date, imsi, speed_class
-- not null: coverage, date, imsi
SELECT
    t.coverage,
    t.date,
    t.imsi,
    m.sim_id,
    t.speed_class,
    t.upload_bytes,
    t.download_bytes,
    t.upload_bytes + t.download_bytes AS total_bytes,
    t.upload_packets,
    t.download_packets,
    t.upload_packets + t.download_packets AS total_packets
FROM air_traffic_daily AS t
LEFT JOIN stg_sim_imsis AS m
    ON m.coverage = t.coverage AND m.imsi = t.imsi
QUALIFY row_number() OVER (
    PARTITION BY t.coverage, t.date, t.imsi, t.speed_class ORDER BY t._loaded_at DESC
) = 1
