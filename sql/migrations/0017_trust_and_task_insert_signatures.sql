-- One home per SQL rule (issue 14): two functions changed signature, and the function files
-- (CREATE OR REPLACE, applied after this migration) would otherwise leave the old one beside the
-- new. trust_rate takes the interaction's success and hormones, so that an outcome rates trust
-- through it (sql/functions/14_trust.sql); task_resubmitted compares against the row
-- phoenix.task_new makes, the one home of a new task's defaults (sql/functions/20_task_submit.sql).
DROP FUNCTION IF EXISTS phoenix.trust_rate(uuid, float8, float8, uuid, text, uuid, timestamptz, jsonb);
DROP FUNCTION IF EXISTS phoenix.task_resubmitted(
    phoenix.tasks, text, text, text, jsonb, integer, text, real, integer, integer, uuid[], timestamptz, integer);
