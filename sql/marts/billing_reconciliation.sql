-- Per coverage and billing month: billing CSV total vs monthly bill vs sum of daily bills, with the differences
-- grain: coverage, year_month
-- not null: coverage, month, year_month
-- partitioned by: month(year_month)
-- partition inputs: billing_items(month), bills(month), daily_bills(month)
-- dimensions: stg_sim_imsis, stg_billing_summaries(coverage, year_month, summary, bill_item_name, bill_item_category)
-- Daily bills hold only usage-based charges, so they are compared with the CSV's daily lines (those
-- with a date), and the CSV total with the monthly bill. reconciled: both differences within the
-- tolerance of report_params (1 currency unit by default); NULL when a source is missing.
WITH csv AS (
    SELECT
        coverage, year_month, any_value(month) AS month,
        sum(amount) AS csv_total,
        coalesce(sum(amount) FILTER (WHERE date IS NOT NULL), 0) AS csv_daily_total,
        count(*) AS csv_lines,
        bool_or(preliminary) AS csv_preliminary
    FROM stg_billing_items
    GROUP BY coverage, year_month
),
daily AS (
    SELECT coverage, strftime(date, '%Y%m') AS year_month, sum(amount) AS daily_bills_total,
        count(*) AS daily_bills
    FROM stg_daily_bills
    GROUP BY ALL
),
months AS (
    SELECT coverage, year_month FROM csv
    UNION SELECT coverage, year_month FROM stg_bills
    UNION SELECT coverage, year_month FROM daily
),
joined AS (
    SELECT
        m.coverage,
        coalesce(b.month, c.month, substr(m.year_month, 1, 4) || '-' || substr(m.year_month, 5, 2)) AS month,
        m.year_month,
        b.currency,
        b.state AS bill_state,
        coalesce(b.preliminary, c.csv_preliminary) AS preliminary,
        b.amount AS bill_amount,
        c.csv_total,
        c.csv_daily_total,
        d.daily_bills_total,
        c.csv_lines,
        d.daily_bills,
        c.csv_total - b.amount AS csv_minus_bill,
        d.daily_bills_total - c.csv_daily_total AS daily_bills_minus_csv_daily
    FROM months AS m
    LEFT JOIN stg_bills AS b ON b.coverage = m.coverage AND b.year_month = m.year_month
    LEFT JOIN csv AS c ON c.coverage = m.coverage AND c.year_month = m.year_month
    LEFT JOIN daily AS d ON d.coverage = m.coverage AND d.year_month = m.year_month
)
SELECT
    j.*,
    p.reconciliation_tolerance AS tolerance,
    abs(j.csv_minus_bill) <= p.reconciliation_tolerance
        AND abs(coalesce(j.daily_bills_minus_csv_daily, 0)) <= p.reconciliation_tolerance AS reconciled
FROM joined AS j
CROSS JOIN report_params AS p
