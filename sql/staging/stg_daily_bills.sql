-- Daily bills (usage-based charges per day), one per coverage and day
-- grain: coverage, date
-- not null: coverage, date, amount
SELECT coverage, month, date, amount, currency, preliminary
FROM daily_bills
QUALIFY row_number() OVER (PARTITION BY coverage, date ORDER BY _loaded_at DESC) = 1
