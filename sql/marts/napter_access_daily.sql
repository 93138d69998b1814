-- Napter remote access per SIM and UTC day: connections, accesses, connected, denied and refused
-- grain: coverage, date, imsi
-- not null: coverage, date, connections
-- partitioned by: day(date)
-- partition inputs: napter_audit_logs(date)
-- dimensions: stg_sim_imsis
SELECT
    coverage,
    date,
    imsi,
    any_value(sim_id) AS sim_id,
    count(DISTINCT connection_id) AS connections,
    count(*) FILTER (WHERE type = 'ACCESS') AS accesses,
    count(*) FILTER (WHERE type = 'CONNECTED') AS connected,
    count(*) FILTER (WHERE type = 'DENIED') AS denied,
    count(*) FILTER (WHERE type = 'REFUSED') AS refused,
    count(DISTINCT connection_id) FILTER (WHERE tls) AS tls_connections,
    count(DISTINCT source_ip_address) AS source_ips,
    count(*) AS events
FROM stg_napter_audit_logs
GROUP BY coverage, date, imsi
