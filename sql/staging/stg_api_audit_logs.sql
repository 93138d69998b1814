-- API audit log entries (no natural key: a reload replaces its hour), with auth and failure flags
-- not null: coverage, date, hour, requested_time_ms
SELECT
    coverage,
    date,
    hour,
    requested_time,
    requested_time_ms,
    user_name,
    api_kind,
    request_path,
    status_code,
    remote_ip_address,
    operator_id,
    api_kind = '/v1/auth' OR request_path = '/v1/auth' AS is_auth,
    status_code >= 400 AS failed
FROM api_audit_logs
