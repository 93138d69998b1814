-- SIM-days whose traffic is far above that SIM's trailing median (rule in the file; parameters in report_params)
-- grain: coverage, sim_id, date
-- not null: coverage, sim_id, date, total_bytes, trailing_median, baseline_bytes
-- Rule: over a dense grid of the coverage's loaded traffic days (a loaded day without traffic
-- counts as 0 bytes), day D of a SIM is anomalous when
--   * the trailing window (the anomaly_trailing_days days before D, default 14) holds at least
--     anomaly_min_history_days loaded days (default 7),
--   * D's total bytes > anomaly_factor (default 5) x the baseline, where the baseline is the
--     median of the SIM's daily total bytes over those loaded days, but at least
--     anomaly_baseline_min_bytes (default 3 MB, so small SIMs' noise is not an anomaly).
-- The SIMs considered are those with traffic on some loaded day of the coverage.
WITH days AS (
    SELECT DISTINCT coverage, date FROM stg_air_traffic_daily
),
sims AS (
    SELECT DISTINCT coverage, sim_id FROM stg_air_traffic_daily WHERE sim_id IS NOT NULL
),
daily AS (
    SELECT coverage, sim_id, date, CAST(sum(total_bytes) AS BIGINT) AS total_bytes
    FROM stg_air_traffic_daily
    WHERE sim_id IS NOT NULL
    GROUP BY ALL
),
grid AS (
    SELECT d.coverage, s.sim_id, d.date, coalesce(t.total_bytes, 0) AS total_bytes
    FROM days AS d
    JOIN sims AS s USING (coverage)
    LEFT JOIN daily AS t USING (coverage, sim_id, date)
),
judged AS (
    -- The trailing window as a window frame over the SIM's dense grid (one row per loaded day):
    -- the loaded days in [D - trailing days, D), without joining the grid to itself.
    SELECT
        g.coverage, g.sim_id, g.date, g.total_bytes,
        median(g.total_bytes) OVER recent AS trailing_median,
        count(*) OVER recent AS history_days
    FROM grid AS g
    CROSS JOIN report_params AS p
    WINDOW recent AS (
        PARTITION BY g.coverage, g.sim_id ORDER BY g.date
        RANGE BETWEEN to_days(p.anomaly_trailing_days) PRECEDING AND INTERVAL 1 DAY PRECEDING
    )
    QUALIFY g.total_bytes > 0
)
SELECT
    j.coverage,
    j.sim_id,
    j.date,
    s.name,
    s.group_id,
    s.group_name,
    j.total_bytes,
    j.trailing_median,
    j.history_days,
    greatest(j.trailing_median, p.anomaly_baseline_min_bytes) AS baseline_bytes,
    j.total_bytes / nullif(j.trailing_median, 0) AS ratio_to_median,
    p.anomaly_factor AS factor
FROM judged AS j
CROSS JOIN report_params AS p
LEFT JOIN stg_sims AS s ON s.coverage = j.coverage AND s.sim_id = j.sim_id
WHERE j.history_days >= p.anomaly_min_history_days
    AND j.total_bytes > p.anomaly_factor * greatest(j.trailing_median, p.anomaly_baseline_min_bytes)
