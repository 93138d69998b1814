-- The $top SIMs that cost most in $month.
SELECT coverage, coalesce(sim_id, 'IMSI ' || unmapped_imsi), name, group_name, currency,
       total_amount, basic_fee_amount, data_amount, round(data_bytes / 1e6, 1), cost_per_mb
FROM sim_monthly_cost
WHERE month = $month
ORDER BY total_amount DESC, sim_id
LIMIT $top
