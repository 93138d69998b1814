-- Traffic per loaded day and coverage in $month (the daily traffic chart), MB.
SELECT date, coverage, round(sum(total_bytes) / 1e6, 1) AS mb, count(DISTINCT sim_id) FILTER (WHERE total_bytes > 0)
FROM sim_daily_usage
WHERE strftime(date, '%Y-%m') = $month AND total_bytes IS NOT NULL
GROUP BY ALL
ORDER BY date, coverage
