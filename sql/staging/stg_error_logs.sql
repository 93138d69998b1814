-- Error logs (no natural key: a reload replaces its day), with the SIM of a Subscriber's IMSI
-- not null: coverage, date, time_ms, service, log_level
SELECT
    e.coverage,
    e.date,
    e.time,
    e.time_ms,
    e.service,
    e.log_level,
    e.resource_type,
    e.resource_id,
    m.sim_id,
    e.body
FROM error_logs AS e
LEFT JOIN stg_sim_imsis AS m
    ON e.resource_type = 'Subscriber' AND m.coverage = e.coverage AND m.imsi = e.resource_id
