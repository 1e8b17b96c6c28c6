-- The rules of the columns that only some statements set leave CHECK constraints for triggers that
-- fire only for statements that set one of them, as 0031 did for the columns set at submission
-- (sql/functions/06_task_limits.sql, applied after this migration in the same transaction):
-- PostgreSQL prepares every CHECK of a table again for each statement that writes a row, whatever
-- it sets (docs/costs.md).
-- * The task's counters (votes, comments, children, descendants, pending dependencies):
--   phoenix.tasks_check_counts. No claim, start, result or failure sets a counter of its own row.
-- * The agent's outcome columns (hormones, trust, counters, level): phoenix.agents_check_outcome.
--   Outcomes, reviews, cascades and the beat's decay set them; claims, heartbeats, renewals and
--   the idle bookkeeping, most of the agent row's updates, do not.
-- The rules, their names and their errors stay; the rows stored met them.
ALTER TABLE phoenix.tasks
    DROP CONSTRAINT tasks_children_done_check,
    DROP CONSTRAINT tasks_children_failed_check,
    DROP CONSTRAINT tasks_children_total_check,
    DROP CONSTRAINT tasks_comment_count_check,
    DROP CONSTRAINT tasks_descendants_check,
    DROP CONSTRAINT tasks_downvotes_check,
    DROP CONSTRAINT tasks_join_counts,
    DROP CONSTRAINT tasks_pending_deps_check,
    DROP CONSTRAINT tasks_upvotes_check;
ALTER TABLE phoenix.agents
    DROP CONSTRAINT agents_fibonacci_level_check,
    DROP CONSTRAINT agents_hormones_shape,
    DROP CONSTRAINT agents_success_rate_check,
    DROP CONSTRAINT agents_tasks_completed_check,
    DROP CONSTRAINT agents_tasks_failed_check,
    DROP CONSTRAINT agents_trust_r,
    DROP CONSTRAINT agents_trust_range,
    DROP CONSTRAINT agents_trust_s;
