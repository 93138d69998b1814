-- Idle SIMs and their charges per coverage (the idle section's title).
SELECT coverage, count(*), sum(charges_in_window)
FROM idle_sims
GROUP BY coverage
ORDER BY coverage
