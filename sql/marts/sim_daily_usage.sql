-- Per SIM and UTC day: traffic by speed class and total, sessions, online minutes, cells, Harvest entries
-- grain: coverage, date, sim_id, unmapped_imsi
-- not null: coverage, date
-- A day counts for a source only when that source has rows for the day in the coverage; where it
-- has none, the source's columns are NULL (not loaded), not 0. IMSIs that no SIM snapshot knows
-- are kept under sim_id NULL with their IMSI in unmapped_imsi. Online minutes and cells come from
-- stg_session_segments (sessions clipped to the day, robust to late Deleted stamps).
WITH traffic_class AS (
    SELECT
        coverage, date, sim_id, CASE WHEN sim_id IS NULL THEN imsi END AS unmapped_imsi, speed_class,
        CAST(sum(upload_bytes) AS BIGINT) AS upload_bytes,
        CAST(sum(download_bytes) AS BIGINT) AS download_bytes,
        CAST(sum(upload_packets) AS BIGINT) AS upload_packets,
        CAST(sum(download_packets) AS BIGINT) AS download_packets
    FROM stg_air_traffic_daily
    GROUP BY ALL
),
traffic AS (
    SELECT
        coverage, date, sim_id, unmapped_imsi,
        CAST(sum(upload_bytes) AS BIGINT) AS upload_bytes,
        CAST(sum(download_bytes) AS BIGINT) AS download_bytes,
        CAST(sum(upload_packets) AS BIGINT) AS upload_packets,
        CAST(sum(download_packets) AS BIGINT) AS download_packets,
        map_from_entries(list(
            (speed_class, {
                'upload_bytes': upload_bytes, 'download_bytes': download_bytes,
                'upload_packets': upload_packets, 'download_packets': download_packets
            })
            ORDER BY speed_class
        )) AS traffic_by_speed_class
    FROM traffic_class
    GROUP BY ALL
),
segment_days AS (
    SELECT
        coverage, sim_id, cell_id,
        CAST(to_timestamp(day * 86400) AS DATE) AS date,
        least(end_ms, (day + 1) * 86400000) - greatest(start_ms, day * 86400000) AS online_ms
    FROM (
        SELECT *, unnest(range(start_ms // 86400000, (end_ms - 1) // 86400000 + 1)) AS day
        FROM stg_session_segments
    )
),
online AS (
    SELECT coverage, sim_id, date, CAST(sum(online_ms) AS BIGINT) AS online_ms, count(DISTINCT cell_id) AS distinct_cells
    FROM segment_days
    GROUP BY ALL
),
started AS (
    SELECT coverage, sim_id, date, count(*) FILTER (WHERE event = 'Created') AS sessions_started
    FROM stg_session_events
    GROUP BY ALL
),
harvest AS (
    SELECT coverage, sim_id, date, count(*) AS harvest_entries, CAST(sum(content_bytes) AS BIGINT) AS harvest_bytes
    FROM stg_harvest_entries
    WHERE sim_id IS NOT NULL
    GROUP BY ALL
),
traffic_days AS (SELECT DISTINCT coverage, date FROM stg_air_traffic_daily),
session_days AS (SELECT DISTINCT coverage, date FROM stg_session_events),
harvest_days AS (SELECT DISTINCT coverage, date FROM stg_harvest_entries),
keys AS (
    SELECT coverage, date, sim_id, unmapped_imsi FROM traffic
    UNION
    SELECT o.coverage, o.date, o.sim_id, NULL FROM online AS o JOIN session_days USING (coverage, date)
    UNION
    SELECT coverage, date, sim_id, NULL FROM started
    UNION
    SELECT coverage, date, sim_id, NULL FROM harvest
)
SELECT
    k.coverage,
    k.date,
    k.sim_id,
    k.unmapped_imsi,
    s.name,
    s.group_id,
    s.group_name,
    s.speed_class,
    s.status,
    CASE WHEN td.date IS NOT NULL THEN coalesce(t.upload_bytes, 0) END AS upload_bytes,
    CASE WHEN td.date IS NOT NULL THEN coalesce(t.download_bytes, 0) END AS download_bytes,
    CASE WHEN td.date IS NOT NULL THEN coalesce(t.upload_bytes + t.download_bytes, 0) END AS total_bytes,
    CASE WHEN td.date IS NOT NULL THEN coalesce(t.upload_packets, 0) END AS upload_packets,
    CASE WHEN td.date IS NOT NULL THEN coalesce(t.download_packets, 0) END AS download_packets,
    CASE WHEN td.date IS NOT NULL THEN coalesce(t.upload_packets + t.download_packets, 0) END AS total_packets,
    t.traffic_by_speed_class,
    CASE WHEN sd.date IS NOT NULL THEN coalesce(st.sessions_started, 0) END AS sessions_started,
    CASE WHEN sd.date IS NOT NULL THEN coalesce(o.online_ms, 0) / 60000.0 END AS online_minutes,
    CASE WHEN sd.date IS NOT NULL THEN coalesce(o.distinct_cells, 0) END AS distinct_cells,
    CASE WHEN hd.date IS NOT NULL THEN coalesce(h.harvest_entries, 0) END AS harvest_entries,
    CASE WHEN hd.date IS NOT NULL THEN coalesce(h.harvest_bytes, 0) END AS harvest_bytes
FROM keys AS k
LEFT JOIN traffic AS t
    ON t.coverage = k.coverage AND t.date = k.date AND t.sim_id IS NOT DISTINCT FROM k.sim_id
    AND t.unmapped_imsi IS NOT DISTINCT FROM k.unmapped_imsi
LEFT JOIN online AS o ON o.coverage = k.coverage AND o.date = k.date AND o.sim_id = k.sim_id
LEFT JOIN started AS st ON st.coverage = k.coverage AND st.date = k.date AND st.sim_id = k.sim_id
LEFT JOIN harvest AS h ON h.coverage = k.coverage AND h.date = k.date AND h.sim_id = k.sim_id
LEFT JOIN stg_sims AS s ON s.coverage = k.coverage AND s.sim_id = k.sim_id
LEFT JOIN traffic_days AS td ON td.coverage = k.coverage AND td.date = k.date
LEFT JOIN session_days AS sd ON sd.coverage = k.coverage AND sd.date = k.date
LEFT JOIN harvest_days AS hd ON hd.coverage = k.coverage AND hd.date = k.date
