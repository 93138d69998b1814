-- Napter audit log entries (no natural key: a reload replaces its hour), with the SIM of the IMSI
-- not null: coverage, date, hour, created_at_ms, type
SELECT
    n.coverage,
    n.date,
    n.hour,
    n.created_at,
    n.created_at_ms,
    n.type,
    n.connection_id,
    n.imsi,
    m.sim_id,
    n.tls,
    n.source_ip_address,
    n.source_port,
    n.destination_ip_address,
    n.destination_port
FROM napter_audit_logs AS n
LEFT JOIN stg_sim_imsis AS m
    ON m.coverage = n.coverage AND m.imsi = n.imsi
