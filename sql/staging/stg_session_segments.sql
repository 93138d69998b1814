-- Online time per session and cell: [start_ms, end_ms) segments that tile each session, robust to late Deleted stamps
-- grain: coverage, sim_id, session_id, segment
-- not null: coverage, sim_id, start_ms, end_ms
-- A session starts at its Created event (else the createdTime its events carry, else its first
-- event). It ends at its Deleted event, but never after the SIM's next session starts: Soracom may
-- stamp a Deleted a few seconds after the next Created when a SIM reconnects quickly. A session
-- with no Deleted yet is online until the end of the loaded session-event days of its coverage.
-- Each Created/Modified event starts a segment on its cell; the first segment starts with the session.
WITH data_end AS (
    SELECT coverage, epoch_ms(CAST(max(date) AS TIMESTAMP)) + 86400000 AS end_ms
    FROM stg_session_events
    GROUP BY coverage
),
sessions AS (
    SELECT
        coverage,
        sim_id,
        session_id,
        min(time_ms) FILTER (WHERE event = 'Created') AS created_ms,
        min(session_created_ms) AS stamped_created_ms,
        min(time_ms) AS first_event_ms,
        max(time_ms) FILTER (WHERE event = 'Deleted') AS deleted_ms,
        arg_min(cell_id, time_ms) AS first_cell_id,
        arg_min(imsi, time_ms) AS imsi
    FROM stg_session_events
    GROUP BY coverage, sim_id, session_id
),
started AS (
    SELECT *, coalesce(created_ms, stamped_created_ms, first_event_ms) AS start_ms
    FROM sessions
),
bounded AS (
    SELECT
        s.*,
        lead(s.start_ms) OVER (PARTITION BY s.coverage, s.sim_id ORDER BY s.start_ms, s.session_id)
            AS next_start_ms,
        d.end_ms AS data_end_ms
    FROM started AS s
    JOIN data_end AS d USING (coverage)
),
timed AS (
    -- least() skips NULLs: no Deleted and no next session leaves only the end of the data
    SELECT *, least(deleted_ms, next_start_ms, CASE WHEN deleted_ms IS NULL THEN data_end_ms END) AS end_ms
    FROM bounded
),
starts AS (
    -- Created/Modified events start segments; a session with none starts one with its first cell
    SELECT e.coverage, e.sim_id, e.session_id, e.time_ms AS at_ms, e.cell_id
    FROM stg_session_events AS e
    WHERE e.event IN ('Created', 'Modified')
    UNION ALL
    SELECT t.coverage, t.sim_id, t.session_id, t.start_ms, t.first_cell_id
    FROM timed AS t
    WHERE NOT EXISTS (
        SELECT 1 FROM stg_session_events AS e
        WHERE e.coverage = t.coverage AND e.sim_id = t.sim_id AND e.session_id = t.session_id
            AND e.event IN ('Created', 'Modified')
    )
),
segments AS (
    SELECT
        t.coverage,
        t.sim_id,
        t.session_id,
        t.imsi,
        s.cell_id,
        row_number() OVER w AS segment,
        CASE WHEN row_number() OVER w = 1 THEN t.start_ms ELSE greatest(s.at_ms, t.start_ms) END AS start_ms,
        least(coalesce(lead(s.at_ms) OVER w, t.end_ms), t.end_ms) AS end_ms,
        t.start_ms AS session_start_ms,
        t.end_ms AS session_end_ms,
        t.deleted_ms IS NOT NULL AS session_closed
    FROM timed AS t
    JOIN starts AS s USING (coverage, sim_id, session_id)
    WINDOW w AS (PARTITION BY t.coverage, t.sim_id, t.session_id ORDER BY s.at_ms, s.cell_id)
)
SELECT *
FROM segments
WHERE end_ms > start_ms
