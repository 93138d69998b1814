-- Billing summaries (cost per bill item and top SIMs) from the latest snapshot that holds each month
-- not null: coverage, year_month, summary
SELECT
    coverage,
    date AS snapshot_date,
    summary,
    year_month,
    currency,
    updated_time,
    bill_item_category,
    bill_item_name,
    sim_id,
    amount
FROM billing_summaries
QUALIFY date = max(date) OVER (PARTITION BY coverage, year_month)
