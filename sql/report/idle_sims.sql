-- The $top idle SIMs of $month: charged in the month but without traffic on its loaded days, costliest first.
-- Only coverages with traffic loaded in $month count (without it nothing can be called idle).
WITH loaded AS (
    SELECT coverage, count(DISTINCT date) AS days, max(date) AS last_day
    FROM sim_daily_usage
    WHERE strftime(date, '%Y-%m') = $month AND total_bytes IS NOT NULL
    GROUP BY coverage
),
used AS (
    SELECT coverage, sim_id, sum(total_bytes) AS bytes
    FROM sim_daily_usage
    WHERE strftime(date, '%Y-%m') = $month AND sim_id IS NOT NULL
    GROUP BY ALL
),
last_traffic AS (
    SELECT coverage, sim_id, max(date) AS last_traffic_date
    FROM sim_daily_usage
    WHERE total_bytes > 0 AND sim_id IS NOT NULL AND strftime(date, '%Y-%m') <= $month
    GROUP BY ALL
)
SELECT c.coverage, c.sim_id, c.name, c.group_name, c.status, c.currency, c.total_amount,
       l.days AS traffic_days, lt.last_traffic_date
FROM sim_monthly_cost AS c
JOIN loaded AS l ON l.coverage = c.coverage
LEFT JOIN used AS u ON u.coverage = c.coverage AND u.sim_id = c.sim_id
LEFT JOIN last_traffic AS lt ON lt.coverage = c.coverage AND lt.sim_id = c.sim_id
WHERE c.month = $month AND c.sim_id IS NOT NULL AND c.total_amount > 0 AND coalesce(u.bytes, 0) = 0
ORDER BY c.total_amount DESC, c.sim_id
LIMIT $top
