-- Cost per tag key and value in $month ('(no value)' for SIMs without the key): the $top costliest
-- values of each key (a key like `name` has a value per SIM).
SELECT coverage, tag_key, coalesce(tag_value, '(no value)'), currency, sims, total_amount,
       round(data_bytes / 1e6, 1)
FROM cost_by_tag_monthly
WHERE month = $month
QUALIFY row_number() OVER (PARTITION BY coverage, tag_key ORDER BY total_amount DESC, tag_value) <= $top
ORDER BY coverage, tag_key, total_amount DESC, 3
