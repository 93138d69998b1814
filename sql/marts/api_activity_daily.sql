-- API calls per UTC day, user, API and status code, with failed authentications
-- grain: coverage, date, user_name, api_kind, status_code
-- not null: coverage, date, calls
-- partitioned by: day(date)
-- partition inputs: api_audit_logs(date)
-- status_code is NULL where the log entry does not carry one (Soracom's schema spelling omits it),
-- so failed_auths counts only auth calls whose status is logged as 4xx/5xx.
SELECT
    coverage,
    date,
    user_name,
    api_kind,
    status_code,
    count(*) AS calls,
    count(*) FILTER (WHERE is_auth AND failed) AS failed_auths,
    count(DISTINCT remote_ip_address) AS remote_ips,
    min(requested_time) AS first_call_at,
    max(requested_time) AS last_call_at
FROM stg_api_audit_logs
GROUP BY coverage, date, user_name, api_kind, status_code
