-- SIM-days whose traffic is far above that SIM's trailing median (rule in the file; parameters in report_params)
-- grain: coverage, sim_id, date
-- not null: coverage, sim_id, date, total_bytes, trailing_median, baseline_bytes
-- partitioned by: day(date)
-- partition inputs: sim_daily_usage(date) 0..report_params.anomaly_trailing_days
-- dimensions: stg_sims(coverage, sim_id, name, group_id, group_name)
-- Rule: over a dense grid of the coverage's loaded traffic days (a loaded day without traffic
-- counts as 0 bytes), day D of a SIM is anomalous when
--   * the trailing window (the anomaly_trailing_days days before D, default 14) holds at least
--     anomaly_min_history_days loaded days (default 7),
--   * D's total bytes > anomaly_factor (default 5) x the baseline, where the baseline is the
--     median of the SIM's daily total bytes over those loaded days, but at least
--     anomaly_baseline_min_bytes (default 3 MB, so small SIMs' noise is not an anomaly).
-- The SIMs considered are those with traffic on some loaded day of the coverage.
-- Daily bytes come from sim_daily_usage (total_bytes is non-NULL exactly on loaded traffic days),
-- so the traffic is summed once for both marts. Only days above anomaly_factor x
-- anomaly_baseline_min_bytes can pass (the baseline is at least that floor), so only those
-- candidate days get their trailing window: a few rows per candidate instead of a window median
-- over every SIM-day.
WITH days AS (
    SELECT DISTINCT coverage, date FROM sim_daily_usage WHERE total_bytes IS NOT NULL
),
daily AS (
    SELECT coverage, sim_id, date, total_bytes
    FROM sim_daily_usage
    WHERE sim_id IS NOT NULL AND total_bytes IS NOT NULL
),
candidates AS (
    SELECT d.coverage, d.sim_id, d.date, d.total_bytes
    FROM daily AS d
    CROSS JOIN report_params AS p
    WHERE d.total_bytes > 0
        AND (p.anomaly_factor < 0 OR d.total_bytes > p.anomaly_factor * p.anomaly_baseline_min_bytes)
),
offsets AS (
    -- 1 .. trailing days back from D (no rows when the window is empty)
    SELECT CAST(unnest(range(1, anomaly_trailing_days + 1)) AS INTEGER) AS back
    FROM report_params
),
judged AS (
    -- The trailing window: the loaded days in [D - trailing days, D - 1 day], joined by equality
    -- on each day back (a range join would compare every candidate with every loaded day); a
    -- loaded day without the SIM's traffic counts as 0 bytes.
    SELECT
        c.coverage, c.sim_id, c.date, c.total_bytes,
        median(coalesce(t.total_bytes, 0)) FILTER (WHERE h.date IS NOT NULL) AS trailing_median,
        count(h.date) AS history_days
    FROM candidates AS c
    LEFT JOIN offsets AS o ON true
    LEFT JOIN days AS h ON h.coverage = c.coverage AND h.date = c.date - o.back
    LEFT JOIN daily AS t ON t.coverage = c.coverage AND t.sim_id = c.sim_id AND t.date = h.date
    GROUP BY c.coverage, c.sim_id, c.date, c.total_bytes
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
