-- The $top strongest traffic anomalies of $month (rule in sql/marts/traffic_anomalies.sql).
SELECT date, coverage, sim_id, name, round(total_bytes / 1e6, 1), round(baseline_bytes / 1e6, 2),
       round(total_bytes / baseline_bytes, 1)
FROM traffic_anomalies
WHERE strftime(date, '%Y-%m') = $month
ORDER BY total_bytes / baseline_bytes DESC, date, sim_id
LIMIT $top
