-- Monthly bills, one per coverage and month (the latest load), with the month as YYYY-MM
-- grain: coverage, year_month
-- not null: coverage, year_month, amount
SELECT
    coverage,
    month,
    year_month,
    amount,
    currency,
    state,
    preliminary,
    payment_status,
    applied_coupon_amount,
    last_evaluated_time
FROM bills
QUALIFY row_number() OVER (PARTITION BY coverage, year_month ORDER BY _loaded_at DESC) = 1
