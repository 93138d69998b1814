-- Per SIM and UTC day: traffic, sessions, online minutes, cells, Harvest entries (per usage type: sim_daily_traffic_by_type)
-- grain: coverage, date, sim_id, unmapped_imsi
-- not null: coverage, date
-- partitioned by: day(date)
-- partition inputs: air_traffic_daily(date), harvest_entries(date), session_events(date) -1..end carried by carry/session_events.sql
-- dimensions: stg_sims(coverage, sim_id, name, group_id, group_name, speed_class, status), stg_sim_imsis
-- A day counts for a source only when that source has rows for the day in the coverage; where it
-- has none, the source's columns are NULL (not loaded), not 0. IMSIs that no SIM snapshot knows
-- are kept under sim_id NULL with their IMSI in unmapped_imsi. Online minutes and cells come from
-- stg_session_segments (sessions clipped to the day, robust to late Deleted stamps).
-- Built to scan each source once and join on plain keys: traffic is summed per SIM-day in one
-- pass, and the session and Harvest figures, whose rows always have a SIM, are full-joined to it.
-- Flat columns only (no MAP or LIST), so SQLAlchemy-based BI tools show every column.
WITH traffic AS (
    SELECT
        coverage, date, sim_id, CASE WHEN sim_id IS NULL THEN imsi END AS unmapped_imsi,
        CAST(sum(upload_bytes) AS BIGINT) AS upload_bytes,
        CAST(sum(download_bytes) AS BIGINT) AS download_bytes,
        CAST(sum(upload_packets) AS BIGINT) AS upload_packets,
        CAST(sum(download_packets) AS BIGINT) AS download_packets
    FROM stg_air_traffic_daily
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
session_days AS (SELECT DISTINCT coverage, date FROM stg_session_events),
online AS (
    -- only on loaded session days: elsewhere the session columns are NULL (not loaded)
    SELECT coverage, sim_id, date, CAST(sum(online_ms) AS BIGINT) AS online_ms, count(DISTINCT cell_id) AS distinct_cells
    FROM segment_days
    SEMI JOIN session_days USING (coverage, date)
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
sessions AS (
    SELECT
        coalesce(o.coverage, st.coverage) AS coverage,
        coalesce(o.date, st.date) AS date,
        coalesce(o.sim_id, st.sim_id) AS sim_id,
        o.online_ms, o.distinct_cells, st.sessions_started
    FROM online AS o
    FULL JOIN started AS st ON st.coverage = o.coverage AND st.date = o.date AND st.sim_id = o.sim_id
),
activity AS (
    SELECT
        coalesce(s.coverage, h.coverage) AS coverage,
        coalesce(s.date, h.date) AS date,
        coalesce(s.sim_id, h.sim_id) AS sim_id,
        s.online_ms, s.distinct_cells, s.sessions_started, h.harvest_entries, h.harvest_bytes
    FROM sessions AS s
    FULL JOIN harvest AS h ON h.coverage = s.coverage AND h.date = s.date AND h.sim_id = s.sim_id
),
traffic_days AS (SELECT DISTINCT coverage, date FROM stg_air_traffic_daily),
harvest_days AS (SELECT DISTINCT coverage, date FROM stg_harvest_entries),
joined AS (
    -- activity rows always have a SIM, so they can only meet traffic that is mapped to one
    SELECT
        coalesce(t.coverage, a.coverage) AS coverage,
        coalesce(t.date, a.date) AS date,
        coalesce(t.sim_id, a.sim_id) AS sim_id,
        t.unmapped_imsi,
        t.upload_bytes, t.download_bytes, t.upload_packets, t.download_packets,
        a.online_ms, a.distinct_cells, a.sessions_started, a.harvest_entries, a.harvest_bytes
    FROM traffic AS t
    FULL JOIN activity AS a ON a.coverage = t.coverage AND a.date = t.date AND a.sim_id = t.sim_id
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
    CASE WHEN td.date IS NOT NULL THEN coalesce(k.upload_bytes, 0) END AS upload_bytes,
    CASE WHEN td.date IS NOT NULL THEN coalesce(k.download_bytes, 0) END AS download_bytes,
    CASE WHEN td.date IS NOT NULL THEN coalesce(k.upload_bytes + k.download_bytes, 0) END AS total_bytes,
    CASE WHEN td.date IS NOT NULL THEN coalesce(k.upload_packets, 0) END AS upload_packets,
    CASE WHEN td.date IS NOT NULL THEN coalesce(k.download_packets, 0) END AS download_packets,
    CASE WHEN td.date IS NOT NULL THEN coalesce(k.upload_packets + k.download_packets, 0) END AS total_packets,
    CASE WHEN sd.date IS NOT NULL THEN coalesce(k.sessions_started, 0) END AS sessions_started,
    CASE WHEN sd.date IS NOT NULL THEN coalesce(k.online_ms, 0) / 60000.0 END AS online_minutes,
    CASE WHEN sd.date IS NOT NULL THEN coalesce(k.distinct_cells, 0) END AS distinct_cells,
    CASE WHEN hd.date IS NOT NULL THEN coalesce(k.harvest_entries, 0) END AS harvest_entries,
    CASE WHEN hd.date IS NOT NULL THEN coalesce(k.harvest_bytes, 0) END AS harvest_bytes
FROM joined AS k
LEFT JOIN stg_sims AS s ON s.coverage = k.coverage AND s.sim_id = k.sim_id
LEFT JOIN traffic_days AS td ON td.coverage = k.coverage AND td.date = k.date
LEFT JOIN session_days AS sd ON sd.coverage = k.coverage AND sd.date = k.date
LEFT JOIN harvest_days AS hd ON hd.coverage = k.coverage AND hd.date = k.date
