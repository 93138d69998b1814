-- Idle SIMs of $month and their month's cost per coverage (the idle section's title; rule in idle_sims.sql).
WITH loaded AS (
    SELECT DISTINCT coverage
    FROM sim_daily_usage
    WHERE strftime(date, '%Y-%m') = $month AND total_bytes IS NOT NULL
),
used AS (
    SELECT coverage, sim_id, sum(total_bytes) AS bytes
    FROM sim_daily_usage
    WHERE strftime(date, '%Y-%m') = $month AND sim_id IS NOT NULL
    GROUP BY ALL
)
SELECT c.coverage, count(*), sum(c.total_amount)
FROM sim_monthly_cost AS c
SEMI JOIN loaded AS l ON l.coverage = c.coverage
LEFT JOIN used AS u ON u.coverage = c.coverage AND u.sim_id = c.sim_id
WHERE c.month = $month AND c.sim_id IS NOT NULL AND c.total_amount > 0 AND coalesce(u.bytes, 0) = 0
GROUP BY c.coverage
ORDER BY c.coverage
