-- SIM groups: the latest snapshot of every group, with its name tag, tags and configuration (JSON)
-- grain: coverage, group_id
-- not null: coverage, group_id
SELECT
    coverage,
    group_id,
    name,
    tags,
    configuration,
    created_time,
    last_modified_time,
    operator_id,
    date AS snapshot_date
FROM groups
QUALIFY row_number() OVER (PARTITION BY coverage, group_id ORDER BY date DESC, _loaded_at DESC) = 1
