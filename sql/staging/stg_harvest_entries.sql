-- Harvest Data entries, one row per key, with their size in bytes and the SIM that sent them
-- grain: coverage, resource_type, resource_id, time_ms
-- not null: coverage, date, resource_type, resource_id, time_ms
SELECT
    h.coverage,
    h.date,
    h.resource_type,
    h.resource_id,
    CASE h.resource_type WHEN 'Sim' THEN h.resource_id WHEN 'Subscriber' THEN m.sim_id END AS sim_id,
    h.time,
    h.time_ms,
    h.content_type,
    h.category,
    h.content,
    coalesce(strlen(h.content), 0) AS content_bytes
FROM harvest_entries AS h
LEFT JOIN stg_sim_imsis AS m
    ON h.resource_type = 'Subscriber' AND m.coverage = h.coverage AND m.imsi = h.resource_id
QUALIFY row_number() OVER (
    PARTITION BY h.coverage, h.resource_type, h.resource_id, h.time_ms ORDER BY h._loaded_at DESC
) = 1
