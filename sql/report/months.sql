-- The months with loaded data: billed months and months with loaded traffic days.
SELECT month FROM monthly_summary
UNION
SELECT DISTINCT strftime(date, '%Y-%m') FROM sim_daily_usage WHERE total_bytes IS NOT NULL
ORDER BY 1
