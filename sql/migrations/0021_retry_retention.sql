-- Retry and retention (docs/operations/retry.md, docs/operations/retention.md).
--
-- Retry: a task's attempt number is its fencing token and never goes back, so a fresh attempt
-- budget is a new base instead: attempts_before counts the attempts made before the latest retry,
-- and a task fails for good when attempt - attempts_before reaches max_attempts.
-- phoenix.task_new's parameter default is of the tasks row type, which blocks a new column: it is
-- dropped here and 20_task_submit.sql, forgotten as applied, creates it again after the migrations.
DROP FUNCTION IF EXISTS phoenix.task_new(text, text, text, jsonb, integer, text, uuid, real, integer, integer,
    timestamptz, integer, timestamptz, uuid[], text, phoenix.tasks, text, uuid[], timestamptz);
DELETE FROM phoenix.schema_functions WHERE name = '20_task_submit.sql';
ALTER TABLE phoenix.tasks
    ADD COLUMN attempts_before integer NOT NULL DEFAULT 0 CONSTRAINT tasks_attempts_before_range
        CHECK (attempts_before >= 0 AND attempts_before <= attempt);

-- Retention deletes finished tasks with their history. The hash chains (migration 0003) must stay
-- verifiable, so every prune batch writes one checkpoint row in its own transaction:
--   * task_events chains go whole (a task and all its events), so what is kept is a digest of the
--     heads of the chains it deleted (sha256 over task id, last seq and last hash, in task id order);
--   * agent_interactions chains lose a prefix (the rows before a seq), so each agent's new base
--     (the last deleted seq and its hash, which the first kept row's prev_hash must equal) is kept,
--     in the checkpoint row and in audit_chain_bases, where `audit verify` starts each chain.
-- Checkpoints form a chain of their own (prev_hash, hash), append-only like the others, and are
-- never pruned: one small row per batch.
CREATE TABLE phoenix.audit_checkpoints (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at timestamptz NOT NULL,
    cutoff timestamptz NOT NULL,       -- what finished (and was rated) before this was pruned
    tasks integer NOT NULL,            -- task chains deleted whole
    task_heads bytea NOT NULL,         -- digest of their heads
    agent_heads jsonb NOT NULL,        -- {agent id: [seq, hash hex]}: the new bases of agent chains
    deleted jsonb NOT NULL,            -- rows deleted per table
    prev_hash bytea NOT NULL,
    hash bytea NOT NULL
);

-- The checkpoint's hash: like the chains' (0003), fields in a fixed order as JSON text, times as
-- integer microseconds, so no session setting changes it. Its format, so it lives here.
CREATE FUNCTION phoenix.checkpoint_hash(
    p_prev bytea, p_id bigint, p_at timestamptz, p_cutoff timestamptz, p_tasks integer, p_task_heads bytea,
    p_agent_heads jsonb, p_deleted jsonb)
RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $f$
    SELECT sha256(p_prev || convert_to(jsonb_build_array(
        p_id, (extract(epoch FROM p_at) * 1000000)::bigint, (extract(epoch FROM p_cutoff) * 1000000)::bigint,
        p_tasks, encode(p_task_heads, 'hex'), p_agent_heads, p_deleted)::text, 'UTF8'))
$f$;

CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON phoenix.audit_checkpoints
    FOR EACH ROW EXECUTE FUNCTION phoenix.append_only();
CREATE TRIGGER audit_checkpoints_no_truncate BEFORE TRUNCATE ON phoenix.audit_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION phoenix.append_only();

-- Where each pruned agent chain now starts: one row per agent, moved forward by each checkpoint
-- that prunes it (and checked against that checkpoint's agent_heads by `audit verify`).
CREATE TABLE phoenix.audit_chain_bases (
    agent_to uuid PRIMARY KEY REFERENCES phoenix.agents (id),
    seq integer NOT NULL CHECK (seq >= 1),
    hash bytea NOT NULL,
    checkpoint_id bigint NOT NULL REFERENCES phoenix.audit_checkpoints (id)
);

-- The append-only guards let the prune delete (phoenix.tasks_prune sets phoenix.pruning for its
-- own transaction): rewriting a row is still refused, and a deletion by anyone else too. Whoever
-- may set the setting may also DELETE from these tables, i.e. is the owner, who could disable
-- the triggers anyway; the checkpoint is what makes a prune visible to `audit verify`.
CREATE OR REPLACE FUNCTION phoenix.task_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND current_setting('phoenix.pruning', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'task_events is append-only: % refused', TG_OP USING ERRCODE = 'PBFB0';
END;
$$;

CREATE OR REPLACE FUNCTION phoenix.append_only() RETURNS trigger
LANGUAGE plpgsql AS $f$
BEGIN
    IF TG_OP = 'DELETE' AND TG_TABLE_NAME <> 'audit_checkpoints'
       AND current_setting('phoenix.pruning', true) = 'on' THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION USING ERRCODE = 'PBFB0',
        MESSAGE = format('%s is append-only (a hash chain): %s refused', TG_TABLE_NAME, TG_OP);
END;
$f$;

-- tasks_prune: finished tasks by age (the retention's candidates, oldest first)
CREATE INDEX tasks_finished_idx ON phoenix.tasks (completed_at, id)
    WHERE status IN ('complete', 'failed', 'cancelled') AND parent_id IS NULL;
-- tasks_retry_select: failed and cancelled tasks by team (the bulk retry's filter)
CREATE INDEX tasks_ended_idx ON phoenix.tasks (team, completed_at) WHERE status IN ('failed', 'cancelled');
-- tasks_prune: a task is kept while an interaction still names it (its rater's chain is pruned
-- only from the front), and while a hormone cascade it started waits to spread
CREATE INDEX agent_interactions_task_idx ON phoenix.agent_interactions (task_id) WHERE task_id IS NOT NULL;
CREATE INDEX hormone_cascades_task_idx ON phoenix.hormone_cascades (task_id) WHERE task_id IS NOT NULL;

-- A pruned agent chain may lose every row (its head too): the next rating then links to the
-- chain's base, the head the checkpoint recorded, instead of starting again at seq 1. The base is
-- read only when the chain is empty, so the usual link still costs one index probe.
CREATE OR REPLACE FUNCTION phoenix.agent_interactions_link() RETURNS trigger
LANGUAGE plpgsql AS $f$
DECLARE
    v_seq integer;
    v_prev bytea;
BEGIN
    SELECT seq, hash INTO v_seq, v_prev FROM phoenix.agent_interactions
     WHERE agent_to = NEW.agent_to ORDER BY seq DESC LIMIT 1;
    IF NOT FOUND THEN
        SELECT seq, hash INTO v_seq, v_prev FROM phoenix.audit_chain_bases WHERE agent_to = NEW.agent_to;
    END IF;
    NEW.seq := coalesce(v_seq, 0) + 1;
    NEW.prev_hash := coalesce(v_prev, phoenix.chain_genesis());
    NEW.hash := phoenix.interaction_hash(NEW.prev_hash, NEW.agent_to, NEW.seq, NEW.agent_from, NEW.interaction_type,
                                         NEW.task_id, NEW.trust_delta, NEW.hormone_exchange, NEW.success,
                                         NEW.metadata, NEW.at);
    RETURN NEW;
END;
$f$;
-- tasks_prune deletes tasks and comments: each deleted row's foreign-key check looks for rows
-- that still point at it, and without these a check scanned the whole table (a batch took 0.8 s
-- at 10,000 tasks instead of tens of ms)
CREATE INDEX tasks_root_idx ON phoenix.tasks (root_id) WHERE root_id IS NOT NULL;
CREATE INDEX task_comments_parent_idx ON phoenix.task_comments (parent_comment_id) WHERE parent_comment_id IS NOT NULL;
-- What a task attempt spent (phoenix.task_usage, flow control's migration 0020, where it is
-- there) points at its task too: tasks_prune deletes those rows with their task, and a deleted
-- task's foreign-key check finds them through this index instead of scanning the table.
DO $$
BEGIN
    IF to_regclass('phoenix.task_usage') IS NOT NULL THEN
        CREATE INDEX IF NOT EXISTS task_usage_task_idx ON phoenix.task_usage (task_id);
    END IF;
END $$;
