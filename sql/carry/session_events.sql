-- Session events to carry into a bounded rebuild of sim_daily_usage (see sql/README.md, "Incremental builds")
-- The rebuild reads the session files from the day before its first recomputed day on
-- (`carry_newer`); this query picks, from the older files (`carry_older`), the raw events of
-- every session that may still be open at their end (`carry_boundary.boundary_ms`): no Deleted
-- and no later session of its SIM starting by then, or itself starting at or after it. Every
-- other older session ended before the boundary, so it adds nothing to the days rebuilt, and the
-- kept sessions have all their events. Two cases break that argument, and then every older row
-- is returned (the whole history, as without a carry): a session of the newer files with older
-- events that is not kept (a late Deleted after the SIM reconnected before midnight), or a
-- session only in the newer files starting before the boundary (its createdTime). `carry_whole`
-- says which (the build then stores no carry to start the next one from).
WITH b AS (SELECT boundary_ms FROM carry_boundary),
sessions AS (
    SELECT
        coverage, sim_id, session_id,
        coalesce(
            min(time_ms) FILTER (WHERE event = 'Created'), min(try_cast(created_time AS BIGINT)), min(time_ms)
        ) AS start_ms,
        max(time_ms) FILTER (WHERE event = 'Deleted') AS deleted_ms
    FROM carry_older
    GROUP BY ALL
),
ordered AS (
    SELECT *, lead(start_ms) OVER (PARTITION BY coverage, sim_id ORDER BY start_ms, session_id) AS next_ms
    FROM sessions
),
kept AS (
    SELECT coverage, sim_id, session_id
    FROM ordered, b
    WHERE (deleted_ms IS NULL AND (next_ms IS NULL OR next_ms > b.boundary_ms)) OR start_ms >= b.boundary_ms
),
newer AS (
    SELECT
        coverage, sim_id, session_id,
        coalesce(
            min(time_ms) FILTER (WHERE event = 'Created'), min(try_cast(created_time AS BIGINT)), min(time_ms)
        ) AS start_ms
    FROM carry_newer
    GROUP BY ALL
),
broken AS (
    SELECT count(*) > 0 AS whole
    FROM newer AS n, b
    WHERE EXISTS (
        SELECT 1 FROM sessions AS o
        WHERE o.coverage = n.coverage AND o.sim_id = n.sim_id AND o.session_id = n.session_id
    )
    AND NOT EXISTS (
        SELECT 1 FROM kept AS k
        WHERE k.coverage = n.coverage AND k.sim_id = n.sim_id AND k.session_id = n.session_id
    )
    OR (
        n.start_ms < b.boundary_ms
        AND NOT EXISTS (
            SELECT 1 FROM sessions AS o
            WHERE o.coverage = n.coverage AND o.sim_id = n.sim_id AND o.session_id = n.session_id
        )
    )
)
SELECT o.*, w.whole AS carry_whole
FROM carry_older AS o, (SELECT whole FROM broken) AS w
WHERE w.whole
    OR EXISTS (
        SELECT 1 FROM kept AS k
        WHERE k.coverage = o.coverage AND k.sim_id = o.sim_id AND k.session_id = o.session_id
    )
