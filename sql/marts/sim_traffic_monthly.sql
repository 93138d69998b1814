-- Per SIM and month of loaded traffic: the days it has traffic rows for and its last day with traffic (idle_sims reads this, not a year of days)
-- grain: coverage, year_month, sim_id
-- not null: coverage, year_month, loaded_days_mask
-- partitioned by: month(year_month)
-- partition inputs: sim_daily_usage(date)
-- loaded_days_mask: bit d-1 is set when day d of the month has a traffic row of the SIM in
-- sim_daily_usage (traffic loaded that day); OR-ed over a coverage's rows it gives the coverage's
-- loaded traffic days, which idle_sims' window is made of. last_traffic_date: the SIM's last day
-- of the month with more than 0 bytes (NULL: none). sim_id NULL: the traffic of every IMSI no SIM
-- snapshot knows, together (it counts for the loaded days only). A new day recomputes only its
-- month (a few hundred thousand SIM-days), so the idle window never re-reads a year of them.
SELECT
    coverage,
    strftime(date, '%Y%m') AS year_month,
    sim_id,
    CAST(bit_or(CAST(1 AS INTEGER) << (dayofmonth(date) - 1)) AS INTEGER) AS loaded_days_mask,
    max(date) FILTER (WHERE total_bytes > 0) AS last_traffic_date
FROM sim_daily_usage
WHERE total_bytes IS NOT NULL
GROUP BY ALL
