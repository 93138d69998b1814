-- IMSI to SIM map over every snapshot (an IMSI keeps the SIM it was last seen on), to attribute traffic and bills
-- grain: coverage, imsi
-- not null: coverage, imsi, sim_id
WITH seen AS (
    SELECT coverage, unnest(imsis) AS imsi, sim_id, date, _loaded_at
    FROM sims
    UNION ALL
    SELECT coverage, primary_imsi, sim_id, date, _loaded_at
    FROM sims
    WHERE primary_imsi IS NOT NULL
)
SELECT coverage, imsi, sim_id
FROM seen
WHERE imsi IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY coverage, imsi ORDER BY date DESC, _loaded_at DESC, sim_id) = 1
