-- The month's bill per coverage: amount, state, traffic and SIM counts ($month: YYYY-MM).
SELECT coverage, currency, bill_amount,
       CASE WHEN preliminary THEN 'preliminary' ELSE 'closed' END,
       data_mb, active_sims, billed_sims, cost_per_active_sim
FROM monthly_summary
WHERE month = $month
ORDER BY coverage
