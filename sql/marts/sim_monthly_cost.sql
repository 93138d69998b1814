-- Per SIM and billing month: cost by bill item (basic fees, data, other), total, data volume, cost per MB
-- grain: coverage, year_month, sim_id, unmapped_imsi
-- not null: coverage, month, year_month, total_amount, data_bytes
-- partitioned by: month(year_month)
-- partition inputs: billing_items(month), bills(month)
-- dimensions: stg_sims(coverage, sim_id, name, group_id, group_name, status, speed_class), stg_sim_imsis, stg_billing_summaries(coverage, year_month, summary, bill_item_name, bill_item_category)
-- From the detailed billing CSV; lines without an IMSI (VPG fees, discounts) are not a SIM's and
-- appear in cost_by_group_monthly under '(not a SIM)'. data_bytes is the billed volume (data lines
-- are priced per byte); cost_per_mb uses 1 MB = 1,000,000 bytes. preliminary: the month's bill is
-- not closed yet (the open month changes daily). IMSIs no snapshot knows: sim_id NULL, unmapped_imsi set.
WITH lines AS (
    SELECT
        coverage, month, year_month, sim_id, CASE WHEN sim_id IS NULL THEN imsi END AS unmapped_imsi,
        cost_category, quantity, amount, preliminary
    FROM stg_billing_items
    WHERE imsi IS NOT NULL
),
currencies AS (
    SELECT coverage, year_month, currency FROM stg_bills
)
SELECT
    l.coverage,
    l.month,
    l.year_month,
    l.sim_id,
    l.unmapped_imsi,
    s.name,
    s.group_id,
    s.group_name,
    s.status,
    s.speed_class,
    c.currency,
    sum(l.amount) FILTER (WHERE l.cost_category = 'basic_fee') AS basic_fee_amount,
    sum(l.amount) FILTER (WHERE l.cost_category = 'data') AS data_amount,
    sum(l.amount) FILTER (WHERE l.cost_category NOT IN ('basic_fee', 'data')) AS other_amount,
    sum(l.amount) AS total_amount,
    CAST(coalesce(sum(l.quantity) FILTER (WHERE l.cost_category = 'data'), 0) AS BIGINT) AS data_bytes,
    CAST(sum(l.amount) AS DOUBLE)
        / nullif(CAST(coalesce(sum(l.quantity) FILTER (WHERE l.cost_category = 'data'), 0) AS DOUBLE) / 1e6, 0)
        AS cost_per_mb,
    bool_or(l.preliminary) AS preliminary
FROM lines AS l
LEFT JOIN stg_sims AS s ON s.coverage = l.coverage AND s.sim_id = l.sim_id
LEFT JOIN currencies AS c ON c.coverage = l.coverage AND c.year_month = l.year_month
GROUP BY ALL
