-- Billing CSV vs monthly bill vs daily bills, per coverage ($month: YYYY-MM).
SELECT coverage, currency, bill_amount, csv_total, daily_bills_total, csv_minus_bill,
       daily_bills_minus_csv_daily,
       CASE WHEN reconciled THEN 'ok' WHEN reconciled IS NULL THEN 'incomplete' ELSE 'MISMATCH' END
FROM billing_reconciliation
WHERE month = $month
ORDER BY coverage
