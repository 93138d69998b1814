-- SIMs charged in the last N days of loaded traffic but with no traffic in them (savings candidates), and their cost
-- grain: coverage, sim_id
-- not null: coverage, sim_id, window_start, window_end, charges_in_window
-- N = report_params.idle_days. The window ends on the coverage's latest loaded traffic day (not
-- today, so the result only depends on the data) and starts N-1 days before, or on the first
-- loaded traffic day if that is later (no SIM is called idle for days the lake has no traffic of).
-- Charged: a positive sum of the SIM's billing lines dated in the window plus its monthly lines
-- (basic fees) of the months the window touches. traffic_days_loaded: loaded days in the window.
-- months_charged: the months of those lines, comma-separated (a flat column for BI tools).
WITH traffic_days AS (
    -- Traffic per SIM and day from sim_daily_usage (already summed per SIM-day, one column read)
    -- rather than stg_air_traffic_daily's rows of every IMSI and usage type over all history:
    -- total_bytes is not NULL exactly on the days traffic is loaded for the coverage, and a
    -- SIM-day's sum is positive exactly when one of its rows is (bytes are never negative).
    SELECT coverage, date, sim_id, total_bytes
    FROM sim_daily_usage
    WHERE total_bytes IS NOT NULL
),
bounds AS (
    SELECT
        t.coverage,
        max(t.date) AS window_end,
        greatest(CAST(max(t.date) - to_days(any_value(p.idle_days) - 1) AS DATE), min(t.date)) AS window_start
    FROM traffic_days AS t
    CROSS JOIN report_params AS p
    GROUP BY t.coverage
),
window_lines AS (
    -- The billing lines that count, as join keys: (date, NULL) for each day of the window and
    -- (NULL, month) for each month it touches (undated lines), so billing lines are matched by
    -- hash on equal keys instead of testing a range-or-month condition on every line.
    SELECT coverage, CAST(day AS DATE) AS date, CAST(NULL AS VARCHAR) AS month
    FROM (SELECT coverage, unnest(generate_series(window_start, window_end, INTERVAL 1 DAY)) AS day FROM bounds)
    UNION ALL
    SELECT DISTINCT coverage, CAST(NULL AS DATE), strftime(day, '%Y-%m')
    FROM (SELECT coverage, unnest(generate_series(window_start, window_end, INTERVAL 1 DAY)) AS day FROM bounds)
),
loaded AS (
    SELECT b.coverage, count(DISTINCT t.date) AS traffic_days_loaded
    FROM bounds AS b
    JOIN traffic_days AS t
        ON t.coverage = b.coverage AND t.date BETWEEN b.window_start AND b.window_end
    GROUP BY b.coverage
),
charges AS (
    SELECT
        i.coverage,
        i.sim_id,
        sum(i.amount) AS charges_in_window,
        coalesce(sum(i.amount) FILTER (WHERE i.cost_category = 'basic_fee'), 0) AS basic_fee_in_window,
        string_agg(DISTINCT i.month, ',' ORDER BY i.month) AS months_charged
    FROM stg_billing_items AS i
    JOIN window_lines AS w
        ON w.coverage = i.coverage AND w.date IS NOT DISTINCT FROM i.date
        AND w.month IS NOT DISTINCT FROM (CASE WHEN i.date IS NULL THEN i.month END)
    WHERE i.sim_id IS NOT NULL
    GROUP BY i.coverage, i.sim_id
    HAVING sum(i.amount) > 0
),
traffic AS (
    SELECT t.coverage, t.sim_id, CAST(sum(t.total_bytes) AS BIGINT) AS bytes
    FROM traffic_days AS t
    JOIN bounds AS b ON b.coverage = t.coverage AND t.date BETWEEN b.window_start AND b.window_end
    WHERE t.sim_id IS NOT NULL
    GROUP BY ALL
),
last_traffic AS (
    SELECT coverage, sim_id, max(date) AS last_traffic_date
    FROM traffic_days
    WHERE total_bytes > 0 AND sim_id IS NOT NULL
    GROUP BY ALL
)
SELECT
    c.coverage,
    c.sim_id,
    s.name,
    s.group_id,
    s.group_name,
    s.status,
    s.speed_class,
    b.window_start,
    b.window_end,
    l.traffic_days_loaded,
    c.charges_in_window,
    c.basic_fee_in_window,
    cur.currency,
    c.months_charged,
    lt.last_traffic_date
FROM charges AS c
JOIN bounds AS b ON b.coverage = c.coverage
JOIN loaded AS l ON l.coverage = c.coverage
LEFT JOIN traffic AS t ON t.coverage = c.coverage AND t.sim_id = c.sim_id
LEFT JOIN stg_sims AS s ON s.coverage = c.coverage AND s.sim_id = c.sim_id
LEFT JOIN last_traffic AS lt ON lt.coverage = c.coverage AND lt.sim_id = c.sim_id
LEFT JOIN (
    SELECT coverage, any_value(currency ORDER BY year_month DESC) AS currency FROM stg_bills GROUP BY coverage
) AS cur ON cur.coverage = c.coverage
WHERE coalesce(t.bytes, 0) = 0
