-- Cost per SIM group in $month.
SELECT coverage, group_name, currency, sims, total_amount, basic_fee_amount, data_amount,
       other_amount, round(data_bytes / 1e6, 1)
FROM cost_by_group_monthly
WHERE month = $month
ORDER BY coverage, total_amount DESC, group_name
