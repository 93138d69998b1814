-- Detailed billing CSV lines with the SIM of the IMSI and a cost category (basic_fee, data, discount, other)
-- not null: coverage, year_month, bill_item_name, cost_category, amount
-- Lines have no natural key (identical lines can be legitimate); a reload replaces the whole month.
-- Data lines are priced per byte, so their quantity is the billed data volume in bytes.
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
    CASE
        WHEN b.imsi IS NOT NULL AND b.bill_item_name ILIKE '%data usage%' THEN 'data'
        WHEN b.bill_item_name ILIKE '%basic fee%' THEN 'basic_fee'
        WHEN b.amount < 0 OR b.bill_item_name ILIKE '%discount%' THEN 'discount'
        ELSE 'other'
    END AS cost_category,
    b.unit_price,
    b.quantity,
    b.amount,
    b.preliminary
FROM billing_items AS b
LEFT JOIN stg_sim_imsis AS m
    ON m.coverage = b.coverage AND m.imsi = b.imsi
