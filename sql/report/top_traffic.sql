-- The $top SIMs with most traffic over the loaded days of $month.
SELECT coverage, coalesce(sim_id, 'IMSI ' || unmapped_imsi), any_value(name), any_value(group_name),
       round(sum(total_bytes) / 1e6, 1) AS mb, count(total_bytes) AS days,
       round(sum(online_minutes) / 60, 1) AS online_h, sum(sessions_started) AS sessions
FROM sim_daily_usage
WHERE strftime(date, '%Y-%m') = $month AND total_bytes IS NOT NULL
GROUP BY ALL
ORDER BY mb DESC, 2
LIMIT $top
