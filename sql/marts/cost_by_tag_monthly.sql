-- Per tag key, tag value and billing month: SIMs billed, cost and data volume (every tag key of the SIMs)
-- grain: coverage, year_month, tag_key, tag_value
-- not null: coverage, month, year_month, tag_key, total_amount
-- partitioned by: month(year_month)
-- partition inputs: sim_monthly_cost(year_month)
-- dimensions: stg_sims(coverage, sim_id, tags)
-- Tags are the SIMs' current tags (latest snapshot). For each tag key, every billed SIM appears
-- once: under its value, or under tag_value NULL when it lacks the key, so each key's rows add up
-- to the month's SIM cost (lines without an IMSI are not included).
WITH sim_tags AS (
    SELECT coverage, sim_id, CAST(tags::JSON AS MAP(VARCHAR, VARCHAR)) AS tag_map
    FROM stg_sims
),
tag_keys AS (
    SELECT DISTINCT coverage, unnest(map_keys(tag_map)) AS tag_key
    FROM sim_tags
),
costs AS (
    SELECT c.*, t.tag_map
    FROM sim_monthly_cost AS c
    LEFT JOIN sim_tags AS t ON t.coverage = c.coverage AND t.sim_id = c.sim_id
)
SELECT
    c.coverage,
    c.month,
    c.year_month,
    k.tag_key,
    map_extract_value(c.tag_map, k.tag_key) AS tag_value,
    any_value(c.currency) AS currency,
    count(*) AS sims,
    sum(coalesce(c.basic_fee_amount, 0)) AS basic_fee_amount,
    sum(coalesce(c.data_amount, 0)) AS data_amount,
    sum(coalesce(c.other_amount, 0)) AS other_amount,
    sum(c.total_amount) AS total_amount,
    CAST(sum(c.data_bytes) AS BIGINT) AS data_bytes,
    bool_or(c.preliminary) AS preliminary
FROM costs AS c
JOIN tag_keys AS k ON k.coverage = c.coverage
GROUP BY ALL
