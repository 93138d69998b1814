-- Per coverage and billing month: bill, data volume, active SIMs and cost per active SIM
-- grain: coverage, year_month
-- not null: coverage, month, year_month
-- partitioned by: month(year_month)
-- partition inputs: billing_reconciliation(year_month), sim_monthly_cost(year_month)
-- bill_amount is the monthly bill (the preliminary running total for the open month), else the
-- billing CSV total. data_bytes is the billed data volume; active SIMs are SIMs billed for data
-- in the month; billed SIMs are SIMs with any charge.
WITH sims AS (
    SELECT
        coverage, year_month,
        count(DISTINCT coalesce(sim_id, unmapped_imsi)) FILTER (WHERE data_bytes > 0) AS active_sims,
        count(DISTINCT coalesce(sim_id, unmapped_imsi)) AS billed_sims,
        CAST(sum(data_bytes) AS BIGINT) AS data_bytes
    FROM sim_monthly_cost
    GROUP BY ALL
)
SELECT
    r.coverage,
    r.month,
    r.year_month,
    r.currency,
    r.preliminary,
    coalesce(r.bill_amount, r.csv_total) AS bill_amount,
    coalesce(s.data_bytes, 0) AS data_bytes,
    round(coalesce(s.data_bytes, 0) / 1e6, 3) AS data_mb,
    coalesce(s.active_sims, 0) AS active_sims,
    coalesce(s.billed_sims, 0) AS billed_sims,
    coalesce(r.bill_amount, r.csv_total) / nullif(s.active_sims, 0) AS cost_per_active_sim,
    r.reconciled
FROM billing_reconciliation AS r
LEFT JOIN sims AS s ON s.coverage = r.coverage AND s.year_month = r.year_month
