-- Monitoring (README "Alerts and runbooks", "Metrics").
--
-- The beat no longer evaluates alerts of its own: metrics/prometheus/alerts.yml is the one
-- definition of every alert, so an SRE is told once. Its table and its job's record go.
DROP TABLE IF EXISTS phoenix.alerts_firing;
DELETE FROM phoenix.beat_runs WHERE job = 'alerts';
