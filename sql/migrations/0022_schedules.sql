-- Recurring tasks (docs/concepts/schedules.md): a schedule is a cron expression in a time zone and
-- the task it submits; the beat fires it (board/schedules.py). Exactly once per slot is this
-- table's key, not a timer: schedule_runs' primary key (schedule, kind, slot) is inserted in the
-- transaction that submits the slot's task, so a second beat, or a beat restarted mid-slot, finds
-- the slot taken (committed) or free (rolled back), never half of it.
CREATE TABLE phoenix.schedules (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name text NOT NULL CONSTRAINT schedules_name_format CHECK (name ~ '^[a-z][a-z0-9_.-]{0,63}$'),
    cron text NOT NULL CONSTRAINT schedules_cron_length CHECK (char_length(cron) BETWEEN 1 AND 200),
    timezone text NOT NULL DEFAULT 'UTC' CONSTRAINT schedules_timezone_length CHECK (char_length(timezone) BETWEEN 1 AND 100),
    catch_up text NOT NULL DEFAULT 'latest' CONSTRAINT schedules_catch_up CHECK (catch_up IN ('latest', 'all', 'none')),
    -- the task's fields as board/models.py TaskSubmit validated them (defaults filled in)
    task jsonb NOT NULL CONSTRAINT schedules_task_object CHECK (jsonb_typeof(task) = 'object'),
    team text NOT NULL REFERENCES phoenix.teams (name),
    created_at timestamptz NOT NULL,
    paused_at timestamptz,
    -- the earliest slot the beat has not yet considered: a cursor, always computed forward from
    -- the cron; only moves forward (the key below, not this column, keeps a slot from firing twice)
    next_slot timestamptz NOT NULL,
    last_slot timestamptz,          -- the latest slot the beat fired
    last_fired_at timestamptz,
    last_task_id uuid,
    last_error text,
    last_error_at timestamptz,
    missed bigint NOT NULL DEFAULT 0 -- slots passed over by the catch-up policy (a counter)
);

CREATE UNIQUE INDEX schedules_name_idx ON phoenix.schedules (name);
-- the beat's question every few seconds: which live schedules have a slot due
CREATE INDEX schedules_due_idx ON phoenix.schedules (next_slot) WHERE paused_at IS NULL;

-- One row per slot fired ('cron', the beat) or per run-now ('manual', keyed by the instant it was
-- asked). task_id is the task it submitted; NULL with error when the board refused the submission
-- (the slot is then spent, not retried). No foreign key to tasks: retention may delete old tasks.
CREATE TABLE phoenix.schedule_runs (
    schedule_id uuid NOT NULL REFERENCES phoenix.schedules (id) ON DELETE CASCADE,
    kind text NOT NULL CONSTRAINT schedule_runs_kind CHECK (kind IN ('cron', 'manual')),
    slot timestamptz NOT NULL,
    fired_at timestamptz NOT NULL,
    task_id uuid,
    error text,
    PRIMARY KEY (schedule_id, kind, slot)
);

CREATE INDEX schedule_runs_fired_idx ON phoenix.schedule_runs USING brin (fired_at);
