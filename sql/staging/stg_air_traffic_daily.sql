-- Air traffic per IMSI, UTC day and speed class, one row per key, with the SIM it belongs to
-- grain: coverage, date, imsi, speed_class
-- not null: coverage, date, imsi
-- No de-duplication is needed: the table's key (coverage, imsi, speed_class) is unique within its
-- date partition (the lake refuses a partition with duplicate keys) and a date has one file, so the
-- grain is unique as loaded. (A `QUALIFY row_number()` here cost a sort of every row per read.)
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
