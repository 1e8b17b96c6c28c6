-- task_submit takes a submission's flow fields itself (a not-before time, a concurrency key and its
-- limit: docs/concepts/flow-control.md), so the insert that makes the task stores them.
-- task_submit_flow, which called task_submit and then updated the row it had just inserted (a
-- second row version and its index entries per such submission, and a second home for the rule),
-- goes; task_submit's new signature is in sql/functions/20_task_submit.sql.
DROP FUNCTION IF EXISTS phoenix.task_submit_flow(text, text, text, jsonb, integer, text, uuid, real, integer, integer,
                                                 uuid[], timestamptz, integer, text, timestamptz, text, integer,
                                                 timestamptz, boolean);
DROP FUNCTION IF EXISTS phoenix.task_submit(text, text, text, jsonb, integer, text, uuid, real, integer, integer,
                                            uuid[], timestamptz, integer, text, timestamptz, boolean);
