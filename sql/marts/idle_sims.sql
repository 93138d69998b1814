-- SIMs charged in the last N days of loaded traffic but with no traffic in them (savings candidates), and their cost
-- grain: coverage, sim_id
-- not null: coverage, sim_id, window_start, window_end, charges_in_window
-- N = report_params.idle_days. The window ends on the coverage's latest loaded traffic day (not
-- today, so the result only depends on the data) and starts N-1 days before, or on the first
-- loaded traffic day if that is later (no SIM is called idle for days the lake has no traffic of).
-- Charged: a positive sum of the SIM's billing lines dated in the window plus its monthly lines
-- (basic fees) of the months the window touches. traffic_days_loaded: loaded days in the window.
-- months_charged: the months of those lines, comma-separated (a flat column for BI tools).
WITH months AS (
    -- Per SIM and month (sim_traffic_monthly, a month recomputed per new day) rather than a year
    -- of sim_daily_usage's SIM-days: the loaded days as a bit mask, the last day with traffic.
    SELECT coverage, year_month, sim_id, loaded_days_mask, last_traffic_date
    FROM sim_traffic_monthly
),
traffic_days AS (
    -- the coverage's loaded traffic days: the days set in any of its SIMs' masks of the month
    SELECT m.coverage, CAST(strptime(m.year_month, '%Y%m') + to_days(d.day - 1) AS DATE) AS date
    FROM (SELECT coverage, year_month, bit_or(loaded_days_mask) AS mask FROM months GROUP BY ALL) AS m
    CROSS JOIN range(1, 32) AS d(day)
    WHERE (m.mask >> CAST(d.day - 1 AS INTEGER)) & 1 = 1
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
last_traffic AS (
    -- A SIM had traffic in the window exactly when its last day with traffic is in it: the window
    -- ends on the coverage's latest loaded day, and a sum of bytes is positive exactly when one
    -- of its days is (bytes are never negative).
    SELECT coverage, sim_id, max(last_traffic_date) AS last_traffic_date
    FROM months
    WHERE sim_id IS NOT NULL
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
LEFT JOIN stg_sims AS s ON s.coverage = c.coverage AND s.sim_id = c.sim_id
LEFT JOIN last_traffic AS lt ON lt.coverage = c.coverage AND lt.sim_id = c.sim_id
LEFT JOIN (
    SELECT coverage, any_value(currency ORDER BY year_month DESC) AS currency FROM stg_bills GROUP BY coverage
) AS cur ON cur.coverage = c.coverage
WHERE lt.last_traffic_date IS NULL OR lt.last_traffic_date < b.window_start
