-- Air traffic per IMSI, UTC day and usage type, one row per key, with the SIM it belongs to
-- `type` is the export's column as Soracom sends it: the speed class on jp, the subscription
-- (e.g. plan01s) on g; `speed_class` / `subscription` say which (the other is NULL). The lake
-- column keeps its old name `speed_class` and holds `type`.
-- grain: coverage, date, imsi, type
-- not null: coverage, date, imsi
-- No de-duplication is needed: the table's key (coverage, imsi, speed_class) is unique within its
-- date partition (the lake refuses a partition with duplicate keys) and a date has one file, so the
-- grain is unique as loaded. (A `QUALIFY row_number()` here cost a sort of every row per read.)
SELECT
    t.coverage,
    t.date,
    t.imsi,
    m.sim_id,
    t.speed_class AS type,
    CASE WHEN t.coverage <> 'g' THEN t.speed_class END AS speed_class,
    CASE WHEN t.coverage = 'g' THEN t.speed_class END AS subscription,
    t.upload_bytes,
    t.download_bytes,
    t.upload_bytes + t.download_bytes AS total_bytes,
    t.upload_packets,
    t.download_packets,
    t.upload_packets + t.download_packets AS total_packets
FROM air_traffic_daily AS t
LEFT JOIN stg_sim_imsis AS m
    ON m.coverage = t.coverage AND m.imsi = t.imsi
