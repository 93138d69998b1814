-- Session events (Created/Modified/Deleted), one row per key, with a cell id and the SIM attached
-- grain: coverage, sim_id, time_ms, event, session_id
-- not null: coverage, date, sim_id, time_ms, event
SELECT
    coverage,
    date,
    sim_id,
    imsi,
    time,
    time_ms,
    event,
    session_id,
    try_cast(created_time AS BIGINT) AS session_created_ms,
    imei,
    apn,
    subscription,
    ue_ip_address,
    vpg_id,
    nullif(
        concat_ws('-', cell_mcc, cell_mnc, coalesce(cell_tac, cell_lac), coalesce(cell_eci, cell_ci)), ''
    ) AS cell_id,
    cell_mcc,
    cell_mnc,
    cell_tac,
    cell_eci,
    cell_lac,
    cell_ci,
    cell_radio_type
FROM session_events
QUALIFY row_number() OVER (
    PARTITION BY coverage, sim_id, time_ms, event, session_id ORDER BY _loaded_at DESC
) = 1
