-- SIM dimension: the latest snapshot of every SIM, with its tags (JSON), group and IMSIs
-- grain: coverage, sim_id
-- not null: coverage, sim_id, snapshot_date
WITH latest AS (
    SELECT *
    FROM sims
    QUALIFY row_number() OVER (PARTITION BY coverage, sim_id ORDER BY date DESC, _loaded_at DESC) = 1
)
SELECT
    s.coverage,
    s.sim_id,
    s.name,
    s.status,
    s.speed_class,
    s.group_id,
    g.name AS group_name,
    s.type,
    s.module_type,
    s.primary_imsi,
    s.iccid,
    s.msisdn,
    s.imsis,
    s.tags,
    s.created_time,
    s.last_modified_time,
    s.session_online,
    s.operator_id,
    s.date AS snapshot_date
FROM latest AS s
LEFT JOIN stg_groups AS g
    ON g.coverage = s.coverage AND g.group_id = s.group_id
