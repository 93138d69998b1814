-- The $top idle SIMs (charged in the window, no traffic) with the highest charges.
SELECT coverage, sim_id, name, group_name, status, currency, charges_in_window,
       window_start || '..' || window_end, last_traffic_date
FROM idle_sims
ORDER BY charges_in_window DESC, sim_id
LIMIT $top
