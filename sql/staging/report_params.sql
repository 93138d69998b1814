-- Report parameters (one row): idle-SIM window, anomaly rule, reconciliation tolerance; models join it
-- not null: idle_days, anomaly_trailing_days, anomaly_min_history_days, anomaly_factor, anomaly_baseline_min_bytes, reconciliation_tolerance
-- Parameters are data, not templates: change a value here (or query the marts' inputs yourself);
-- no value is ever spliced into SQL text. Every model that uses one joins this row.
SELECT
    30 AS idle_days,                      -- idle_sims: charged in the last N days of loaded traffic, no traffic
    14 AS anomaly_trailing_days,          -- traffic_anomalies: length of the trailing window (days before the day)
    7 AS anomaly_min_history_days,        -- ... loaded days the trailing window must hold to judge a day
    5.0 AS anomaly_factor,                -- ... a day is anomalous above factor x its baseline:
    3000000 AS anomaly_baseline_min_bytes, -- ... the trailing median, but at least this many bytes
    1.0 AS reconciliation_tolerance       -- billing_reconciliation: allowed difference, in currency units
