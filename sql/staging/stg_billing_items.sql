-- Detailed billing CSV lines with the SIM of the IMSI and a cost category from the seed bill_item_categories (unmatched: other)
-- not null: coverage, year_month, bill_item_name, cost_category, amount
-- Lines have no natural key (identical lines can be legitimate); a reload replaces the whole month.
-- Data lines are priced per byte, so their quantity is the billed data volume in bytes.
-- Categories: the first rule of sql/seeds/bill_item_categories.csv (file order) whose pattern
-- (ILIKE) matches the item's name; failing that, the first matching the billItemCategory Soracom's
-- /bills/summaries gives the item that month; failing both, 'other' with category_pattern NULL
-- (the billing_items check `bill_items_categorised` lists those names and their share).
WITH summary_categories AS (
    SELECT coverage, year_month, bill_item_name, min(bill_item_category) AS bill_item_category
    FROM stg_billing_summaries
    WHERE summary = 'bill_items' AND bill_item_category IS NOT NULL
    GROUP BY ALL
),
names AS (
    SELECT DISTINCT b.coverage, b.year_month, b.bill_item_name, s.bill_item_category
    FROM billing_items AS b
    LEFT JOIN summary_categories AS s
        ON s.coverage = b.coverage AND s.year_month = b.year_month AND s.bill_item_name = b.bill_item_name
),
ranked AS (
    SELECT
        n.coverage,
        n.year_month,
        n.bill_item_name,
        r.category,
        r.pattern,
        CASE WHEN n.bill_item_name ILIKE r.pattern THEN 0 ELSE 1 END AS by_category,
        r.seed_row
    FROM names AS n
    JOIN bill_item_categories AS r
        ON n.bill_item_name ILIKE r.pattern OR n.bill_item_category ILIKE r.pattern
),
categorised AS (
    SELECT
        coverage,
        year_month,
        bill_item_name,
        arg_min(category, by_category * 1000000 + seed_row) AS cost_category,
        arg_min(pattern, by_category * 1000000 + seed_row) AS category_pattern
    FROM ranked
    GROUP BY ALL
)
SELECT
    b.coverage,
    b.month,
    b.year_month,
    b.date,
    b.date_text,
    b.imsi,
    m.sim_id,
    b.vpg_id,
    b.bill_item_name,
    coalesce(c.cost_category, 'other') AS cost_category,
    c.category_pattern,
    b.unit_price,
    b.quantity,
    b.amount,
    b.preliminary
FROM billing_items AS b
LEFT JOIN categorised AS c
    ON c.coverage = b.coverage AND c.year_month = b.year_month AND c.bill_item_name = b.bill_item_name
LEFT JOIN stg_sim_imsis AS m
    ON m.coverage = b.coverage AND m.imsi = b.imsi
