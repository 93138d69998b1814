-- Harvest Data entries and bytes per resource and UTC day (bytes: the stored content's UTF-8 length)
-- grain: coverage, date, resource_type, resource_id
-- not null: coverage, date, resource_type, resource_id, entries
-- partitioned by: day(date)
-- partition inputs: harvest_entries(date)
-- dimensions: stg_sim_imsis
SELECT
    coverage,
    date,
    resource_type,
    resource_id,
    any_value(sim_id) AS sim_id,
    count(*) AS entries,
    CAST(sum(content_bytes) AS BIGINT) AS bytes,
    min(time) AS first_entry_at,
    max(time) AS last_entry_at
FROM stg_harvest_entries
GROUP BY coverage, date, resource_type, resource_id
