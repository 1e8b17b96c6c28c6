-- The CHECK constraints of columns that claims, starts, results and failures never set move to
-- triggers that fire only when a statement sets one of those columns (phoenix.tasks_check_row and
-- phoenix.agents_check_row, sql/functions/06_task_limits.sql, applied after this migration in the
-- same transaction): PostgreSQL prepares every CHECK of a table again for each statement that
-- writes a row, and a claim and a result write the task and the agent twice each
-- (docs/costs.md). The rules, their names and their errors stay; the rows already stored met them.
ALTER TABLE phoenix.tasks
    DROP CONSTRAINT tasks_category_format,
    DROP CONSTRAINT tasks_child_has_key,
    DROP CONSTRAINT tasks_child_key_length,
    DROP CONSTRAINT tasks_concurrency_key_length,
    DROP CONSTRAINT tasks_concurrency_limit_range,
    DROP CONSTRAINT tasks_concurrency_pair,
    DROP CONSTRAINT tasks_depth_range,
    DROP CONSTRAINT tasks_description_length,
    DROP CONSTRAINT tasks_dopamine_reward_range,
    DROP CONSTRAINT tasks_fibonacci_size,
    DROP CONSTRAINT tasks_idempotency_key_length,
    DROP CONSTRAINT tasks_join_k_range,
    DROP CONSTRAINT tasks_max_attempts_range,
    DROP CONSTRAINT tasks_on_child_failure,
    DROP CONSTRAINT tasks_priority_range,
    DROP CONSTRAINT tasks_review_quorum_range,
    DROP CONSTRAINT tasks_title_length,
    DROP CONSTRAINT tasks_tree_consistent;
ALTER TABLE phoenix.agents
    DROP CONSTRAINT agents_codename_format,
    DROP CONSTRAINT agents_kind,
    DROP CONSTRAINT agents_not_own_partner,
    DROP CONSTRAINT agents_not_own_supervisor,
    DROP CONSTRAINT agents_role_length;
