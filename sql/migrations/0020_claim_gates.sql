-- Flow control (docs/concepts/flow-control.md): the gates a claim passes, held in PostgreSQL so
-- that every pool on every host obeys the same ones. A gate is a row per team or per category;
-- a board without rows here claims exactly as before.
CREATE TABLE phoenix.claim_gates (
    scope_kind text NOT NULL CONSTRAINT claim_gates_scope_kind CHECK (scope_kind IN ('team', 'category')),
    scope text NOT NULL CONSTRAINT claim_gates_scope_format CHECK (scope ~ '^[a-z][a-z0-9_.-]{0,62}$'),
    -- pause: no claim of this scope while set
    paused_at timestamptz,
    paused_reason text CONSTRAINT claim_gates_reason_length CHECK (length(paused_reason) <= 500),
    -- rate limit: claims per minute, kept by phoenix.claim_gate_slots (below); burst claims may go
    -- back to back after a quiet spell
    rate_per_minute integer CONSTRAINT claim_gates_rate_range CHECK (rate_per_minute BETWEEN 1 AND 1000000),
    rate_burst integer CONSTRAINT claim_gates_burst_range CHECK (rate_burst BETWEEN 1 AND 100000),
    -- budgets per UTC hour and per UTC day, in cost and in tokens (in + out); NULL: none
    budget_hour_cost numeric CONSTRAINT claim_gates_budget_hour_cost CHECK (budget_hour_cost >= 0),
    budget_day_cost numeric CONSTRAINT claim_gates_budget_day_cost CHECK (budget_day_cost >= 0),
    budget_hour_tokens bigint CONSTRAINT claim_gates_budget_hour_tokens CHECK (budget_hour_tokens >= 0),
    budget_day_tokens bigint CONSTRAINT claim_gates_budget_day_tokens CHECK (budget_day_tokens >= 0),
    -- what this scope spent in the current hour and day (usage_record keeps them in step)
    hour_start timestamptz,
    hour_cost numeric NOT NULL DEFAULT 0,
    hour_tokens bigint NOT NULL DEFAULT 0,
    day_start timestamptz,
    day_cost numeric NOT NULL DEFAULT 0,
    day_tokens bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (scope_kind, scope)
);

-- A rate limit's slots: the limit shared out over a few rows, each a generic cell rate algorithm
-- on one timestamp (tat, when its next claim is due). A claim takes the slot due first that no
-- other claim holds (SKIP LOCKED), so claims of one scope do not queue behind one row lock to
-- their commit; a slow rate has one slot, and is exact.
CREATE TABLE phoenix.claim_gate_slots (
    scope_kind text NOT NULL,
    scope text NOT NULL,
    slot integer NOT NULL,
    tat timestamptz NOT NULL DEFAULT '-infinity',
    PRIMARY KEY (scope_kind, scope, slot),
    FOREIGN KEY (scope_kind, scope) REFERENCES phoenix.claim_gates ON DELETE CASCADE
);

-- A concurrency key's slots, as many as its largest limit: a claim of a keyed task takes a slot
-- whose task is no longer in flight (SKIP LOCKED) and writes its task there. No foreign key to the
-- task: a task pruned away leaves its slot free.
CREATE TABLE phoenix.concurrency_slots (
    key text NOT NULL,
    slot integer NOT NULL,
    task_id uuid,
    PRIMARY KEY (key, slot)
);

-- What a task attempt spent, as its handler reported it in its result's "usage".
CREATE TABLE phoenix.task_usage (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id uuid NOT NULL REFERENCES phoenix.tasks (id),
    attempt integer NOT NULL,
    agent_id uuid REFERENCES phoenix.agents (id),
    team text NOT NULL,
    category text NOT NULL,
    model text CONSTRAINT task_usage_model_length CHECK (length(model) BETWEEN 1 AND 200),
    tokens_in bigint NOT NULL DEFAULT 0 CHECK (tokens_in >= 0),
    tokens_out bigint NOT NULL DEFAULT 0 CHECK (tokens_out >= 0),
    cost numeric NOT NULL DEFAULT 0 CHECK (cost >= 0),
    at timestamptz NOT NULL,
    UNIQUE (task_id, attempt)
);
-- budget_set's recount of the current day, and the usage reports by team and by category
CREATE INDEX task_usage_team_idx ON phoenix.task_usage (team, at);
CREATE INDEX task_usage_category_idx ON phoenix.task_usage (category, at);
-- agents show: an agent's usage
CREATE INDEX task_usage_agent_idx ON phoenix.task_usage (agent_id, at);

-- A concurrency key: at most concurrency_limit tasks with the same key in flight across the fleet.
ALTER TABLE phoenix.tasks
    ADD COLUMN concurrency_key text
        CONSTRAINT tasks_concurrency_key_length CHECK (length(concurrency_key) BETWEEN 1 AND 200),
    ADD COLUMN concurrency_limit integer
        CONSTRAINT tasks_concurrency_limit_range CHECK (concurrency_limit BETWEEN 1 AND 10000),
    ADD CONSTRAINT tasks_concurrency_pair CHECK ((concurrency_key IS NULL) = (concurrency_limit IS NULL));
