-- Per SIM group and billing month: SIMs billed, cost by bill item, total, data volume; rows sum to the billing CSV
-- grain: coverage, year_month, group_id, group_name
-- not null: coverage, month, year_month, group_name, total_amount
-- partitioned by: month(year_month)
-- partition inputs: sim_monthly_cost(year_month), billing_items(month), bills(month)
-- dimensions: stg_sim_imsis, stg_billing_summaries(coverage, year_month, summary, bill_item_name, bill_item_category)
-- Groups are the SIMs' current groups (latest snapshot). SIMs without a group are '(no group)';
-- lines without an IMSI (VPG fees, discounts) are '(not a SIM)', so a month's rows add up to its CSV.
WITH per_sim AS (
    SELECT
        coverage, month, year_month, currency, preliminary,
        group_id,
        coalesce(group_name, CASE WHEN group_id IS NULL THEN '(no group)' ELSE group_id END) AS group_name,
        coalesce(sim_id, unmapped_imsi) AS sim_key,
        coalesce(basic_fee_amount, 0) AS basic_fee_amount,
        coalesce(data_amount, 0) AS data_amount,
        coalesce(other_amount, 0) AS other_amount,
        total_amount,
        data_bytes
    FROM sim_monthly_cost
),
not_a_sim AS (
    SELECT
        b.coverage, b.month, b.year_month, c.currency, b.preliminary,
        NULL AS group_id, '(not a SIM)' AS group_name, NULL AS sim_key,
        CASE WHEN b.cost_category = 'basic_fee' THEN b.amount ELSE 0 END AS basic_fee_amount,
        CASE WHEN b.cost_category = 'data' THEN b.amount ELSE 0 END AS data_amount,
        CASE WHEN b.cost_category NOT IN ('basic_fee', 'data') THEN b.amount ELSE 0 END AS other_amount,
        b.amount AS total_amount,
        0 AS data_bytes
    FROM stg_billing_items AS b
    LEFT JOIN stg_bills AS c ON c.coverage = b.coverage AND c.year_month = b.year_month
    WHERE b.imsi IS NULL
)
SELECT
    coverage,
    month,
    year_month,
    group_id,
    group_name,
    any_value(currency) AS currency,
    count(DISTINCT sim_key) AS sims,
    sum(basic_fee_amount) AS basic_fee_amount,
    sum(data_amount) AS data_amount,
    sum(other_amount) AS other_amount,
    sum(total_amount) AS total_amount,
    CAST(sum(data_bytes) AS BIGINT) AS data_bytes,
    CAST(sum(total_amount) AS DOUBLE) / nullif(CAST(sum(data_bytes) AS DOUBLE) / 1e6, 0) AS cost_per_mb,
    bool_or(preliminary) AS preliminary
FROM (SELECT * FROM per_sim UNION ALL BY NAME SELECT * FROM not_a_sim)
GROUP BY coverage, month, year_month, group_id, group_name
