-- The board: teams, agents, tasks, votes, comments, reviews, interactions and the task history.
--
-- Fixes to the seed (DATABASE_INTELLIGENCE_NEEDS.md), see README "Schema":
--   * inline ENUM(...) is not PostgreSQL: teams are rows, status is a CREATE TYPE enum;
--   * hot_score cannot be a generated column calling now(): it is stored, set by
--     phoenix.hot_rank() on every vote and refreshed in batches;
--   * every timestamp is timestamptz and NOT NULL where something reads it.

-- Time-ordered ids (UUID version 7: 48 bits of Unix milliseconds, then random bits), made from
-- core functions since PostgreSQL before 18 has no uuidv7(). New rows' keys land on the newest
-- index pages instead of random ones, which writes far fewer full-page images to the WAL.
-- A version-4 UUID has the version nibble 0100 (bit 54 of the bytes, counted from the low end of
-- each byte); setting bits 52 and 53 makes it 0111; the variant bits stay as they are.
CREATE FUNCTION phoenix.uuid_v7(at timestamptz DEFAULT clock_timestamp())
RETURNS uuid
LANGUAGE sql VOLATILE PARALLEL SAFE
AS $$
    SELECT encode(
        set_bit(set_bit(
            overlay(uuid_send(gen_random_uuid())
                    PLACING substring(int8send(floor(extract(epoch FROM at) * 1000)::bigint) FROM 3)
                    FROM 1 FOR 6),
            52, 1), 53, 1),
        'hex')::uuid
$$;

CREATE TABLE phoenix.teams (
    name text PRIMARY KEY CONSTRAINT teams_name_format CHECK (name ~ '^[a-z][a-z0-9_]{0,62}$'),
    description text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO phoenix.teams (name, description) VALUES
    ('alpha_delta', 'seeded team'),
    ('epsilon_zeta', 'seeded team'),
    ('iota', 'seeded team');

CREATE TABLE phoenix.agents (
    id uuid PRIMARY KEY DEFAULT phoenix.uuid_v7(),
    codename text NOT NULL CONSTRAINT agents_codename_key UNIQUE
        CONSTRAINT agents_codename_format CHECK (codename ~ '^[A-Za-z0-9][A-Za-z0-9_.:@-]{0,99}$'),
    team text NOT NULL REFERENCES phoenix.teams (name),
    role text NOT NULL DEFAULT 'worker' CONSTRAINT agents_role_length CHECK (length(role) BETWEEN 1 AND 100),
    specialization text[] NOT NULL DEFAULT '{}',
    -- hormones: the seed's JSONB with its baselines; decayed by phoenix.hormones_decay()
    hormone_levels jsonb NOT NULL DEFAULT '{"dopamine": 1.0, "oxytocin": 1.0, "adrenaline": 1.0, "cortisol": 0.3}',
    hormones_at timestamptz NOT NULL DEFAULT now(),
    -- trust: beta reputation, trust_coefficient = (trust_r + 1) / (trust_r + trust_s + 2)
    trust_coefficient double precision NOT NULL DEFAULT 0.5
        CONSTRAINT agents_trust_range CHECK (trust_coefficient BETWEEN 0 AND 1),
    trust_r double precision NOT NULL DEFAULT 0 CONSTRAINT agents_trust_r CHECK (trust_r >= 0),
    trust_s double precision NOT NULL DEFAULT 0 CONSTRAINT agents_trust_s CHECK (trust_s >= 0),
    -- performance counters, changed in the transaction of the event
    tasks_completed integer NOT NULL DEFAULT 0 CHECK (tasks_completed >= 0),
    tasks_failed integer NOT NULL DEFAULT 0 CHECK (tasks_failed >= 0),
    success_rate double precision CHECK (success_rate BETWEEN 0 AND 1),
    average_response_time interval,
    fibonacci_level integer NOT NULL DEFAULT 1 CHECK (fibonacci_level >= 1),
    current_task uuid,
    idle_since timestamptz DEFAULT now(),
    last_heartbeat timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    decommissioned_at timestamptz,
    CONSTRAINT agents_hormones_shape CHECK (
        jsonb_typeof(hormone_levels -> 'dopamine') = 'number'
        AND jsonb_typeof(hormone_levels -> 'oxytocin') = 'number'
        AND jsonb_typeof(hormone_levels -> 'adrenaline') = 'number'
        AND jsonb_typeof(hormone_levels -> 'cortisol') = 'number'
    )
);

-- serves agents list --team and the (later) per-team gauges
CREATE INDEX agents_team_idx ON phoenix.agents (team) WHERE decommissioned_at IS NULL;

CREATE TYPE phoenix.task_status AS ENUM ('open', 'claimed', 'in_progress', 'review', 'complete', 'failed');

CREATE TABLE phoenix.tasks (
    id uuid PRIMARY KEY DEFAULT phoenix.uuid_v7(),
    title text NOT NULL CONSTRAINT tasks_title_length CHECK (length(title) BETWEEN 1 AND 200),
    description text NOT NULL DEFAULT '' CONSTRAINT tasks_description_length CHECK (length(description) <= 10000),
    category text NOT NULL DEFAULT 'general'
        CONSTRAINT tasks_category_format CHECK (category ~ '^[a-z][a-z0-9_.-]{0,62}$'),
    payload jsonb NOT NULL DEFAULT '{}',
    priority smallint NOT NULL DEFAULT 5 CONSTRAINT tasks_priority_range CHECK (priority BETWEEN 1 AND 10),
    team text NOT NULL REFERENCES phoenix.teams (name),
    created_by uuid REFERENCES phoenix.agents (id),
    assigned_to uuid REFERENCES phoenix.agents (id),
    -- ranking (Lemmy): score = upvotes - downvotes
    upvotes integer NOT NULL DEFAULT 0 CHECK (upvotes >= 0),
    downvotes integer NOT NULL DEFAULT 0 CHECK (downvotes >= 0),
    score integer GENERATED ALWAYS AS (upvotes - downvotes) STORED,
    comment_count integer NOT NULL DEFAULT 0 CHECK (comment_count >= 0),
    hot_score real NOT NULL DEFAULT 0,
    active_score real NOT NULL DEFAULT 0,
    controversy real NOT NULL DEFAULT 0,
    last_activity_at timestamptz NOT NULL DEFAULT now(),
    -- the claim order's sort key (phoenix.claim_key), see README "Claim order"
    claim_key timestamptz NOT NULL DEFAULT now(),
    dopamine_reward real NOT NULL DEFAULT 1.0 CONSTRAINT tasks_dopamine_reward_range CHECK (dopamine_reward BETWEEN 0 AND 10),
    -- lifecycle
    status phoenix.task_status NOT NULL DEFAULT 'open',
    attempt integer NOT NULL DEFAULT 0 CHECK (attempt >= 0),   -- the fencing token
    max_attempts integer NOT NULL DEFAULT 3 CONSTRAINT tasks_max_attempts_range CHECK (max_attempts BETWEEN 1 AND 100),
    available_at timestamptz NOT NULL DEFAULT now(),           -- not claimable before (retry backoff)
    lease_expires_at timestamptz,
    claimed_at timestamptz,
    started_at timestamptz,
    completed_at timestamptz,
    review_quorum smallint NOT NULL DEFAULT 0 CONSTRAINT tasks_review_quorum_range CHECK (review_quorum BETWEEN 0 AND 15),
    -- dependencies: depends_on as given; blocks kept in step; pending_deps counts unfinished ones
    depends_on uuid[] NOT NULL DEFAULT '{}',
    blocks uuid[] NOT NULL DEFAULT '{}',
    pending_deps integer NOT NULL DEFAULT 0 CHECK (pending_deps >= 0),
    -- results
    output jsonb,
    quality_score real CONSTRAINT tasks_quality_range CHECK (quality_score BETWEEN 0 AND 1),
    last_error text,
    deadline timestamptz,
    fibonacci_size smallint NOT NULL DEFAULT 1
        CONSTRAINT tasks_fibonacci_size CHECK (fibonacci_size IN (1, 2, 3, 5, 8, 13, 21)),
    idempotency_key text CONSTRAINT tasks_idempotency_key_length CHECK (length(idempotency_key) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT tasks_claim_consistent CHECK (
        (status IN ('claimed', 'in_progress')) = (assigned_to IS NOT NULL AND lease_expires_at IS NOT NULL)
    )
);

ALTER TABLE phoenix.agents
    ADD CONSTRAINT agents_current_task_fkey FOREIGN KEY (current_task) REFERENCES phoenix.tasks (id);

-- task_submit: resubmitting with the same key returns the existing task
CREATE UNIQUE INDEX tasks_idempotency_key_idx ON phoenix.tasks (idempotency_key) WHERE idempotency_key IS NOT NULL;
-- task_claim: the claim order, only claimable rows (the index stays as small as the open backlog)
CREATE INDEX tasks_claim_idx ON phoenix.tasks (team, claim_key, id) WHERE status = 'open' AND pending_deps = 0;
-- task_release_expired: only live claims
CREATE INDEX tasks_lease_idx ON phoenix.tasks (lease_expires_at) WHERE status IN ('claimed', 'in_progress');
-- board listings (ranking.py): each sort has an index on its positive part; rows at zero are
-- read through the created_at index, so tasks without votes or comments stay out of them.
CREATE INDEX tasks_new_idx ON phoenix.tasks (created_at DESC, id DESC);
CREATE INDEX tasks_hot_idx ON phoenix.tasks (hot_score DESC, created_at DESC, id DESC) WHERE hot_score > 0;
CREATE INDEX tasks_active_idx ON phoenix.tasks (active_score DESC, created_at DESC, id DESC) WHERE active_score > 0;
CREATE INDEX tasks_top_pos_idx ON phoenix.tasks (score DESC, created_at DESC, id DESC) WHERE score > 0;
CREATE INDEX tasks_top_neg_idx ON phoenix.tasks (score DESC, created_at DESC, id DESC) WHERE score < 0;
CREATE INDEX tasks_controversy_idx ON phoenix.tasks (controversy DESC, created_at DESC, id DESC) WHERE controversy > 0;
CREATE INDEX tasks_comments_idx ON phoenix.tasks (comment_count DESC, created_at DESC, id DESC) WHERE comment_count > 0;
-- status counts for the board and the later gauges
CREATE INDEX tasks_status_idx ON phoenix.tasks (status, team) WHERE status <> 'complete';

CREATE TABLE phoenix.task_votes (
    task_id uuid NOT NULL REFERENCES phoenix.tasks (id),
    agent_id uuid NOT NULL REFERENCES phoenix.agents (id),
    vote smallint NOT NULL CONSTRAINT task_votes_vote_range CHECK (vote IN (-1, 1)),
    reason text CHECK (length(reason) <= 1000),
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, agent_id)
);

-- Review verdicts are not board votes: they judge one attempt's result (README "Review").
CREATE TABLE phoenix.task_reviews (
    task_id uuid NOT NULL REFERENCES phoenix.tasks (id),
    attempt integer NOT NULL,
    agent_id uuid NOT NULL REFERENCES phoenix.agents (id),
    verdict smallint NOT NULL CONSTRAINT task_reviews_verdict_range CHECK (verdict IN (-1, 1)),
    weight double precision NOT NULL CHECK (weight BETWEEN 0 AND 1),   -- the reviewer's trust when it voted
    reason text CHECK (length(reason) <= 1000),
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, attempt, agent_id)
);

CREATE TABLE phoenix.task_comments (
    id uuid PRIMARY KEY DEFAULT phoenix.uuid_v7(),
    task_id uuid NOT NULL REFERENCES phoenix.tasks (id),
    agent_id uuid NOT NULL REFERENCES phoenix.agents (id),
    parent_comment_id uuid REFERENCES phoenix.task_comments (id),
    depth smallint NOT NULL DEFAULT 0 CHECK (depth BETWEEN 0 AND 8),
    content text NOT NULL CONSTRAINT task_comments_content_length CHECK (length(content) BETWEEN 1 AND 10000),
    upvotes integer NOT NULL DEFAULT 0 CHECK (upvotes >= 0),
    downvotes integer NOT NULL DEFAULT 0 CHECK (downvotes >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    edited_at timestamptz
);

-- show TASK: the thread in order
CREATE INDEX task_comments_task_idx ON phoenix.task_comments (task_id, created_at, id);

CREATE TABLE phoenix.comment_votes (
    comment_id uuid NOT NULL REFERENCES phoenix.task_comments (id),
    agent_id uuid NOT NULL REFERENCES phoenix.agents (id),
    vote smallint NOT NULL CONSTRAINT comment_votes_vote_range CHECK (vote IN (-1, 1)),
    at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (comment_id, agent_id)
);

-- Who changed whose trust, why, and by how much (the seed's federation graph).
-- agent_from is NULL when the board itself rated an outcome.
CREATE TABLE phoenix.agent_interactions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    agent_from uuid REFERENCES phoenix.agents (id),
    agent_to uuid NOT NULL REFERENCES phoenix.agents (id),
    interaction_type text NOT NULL CONSTRAINT agent_interactions_type CHECK (
        interaction_type IN ('outcome', 'review', 'consensus', 'vote', 'collaboration', 'delegation', 'sync')),
    task_id uuid REFERENCES phoenix.tasks (id),
    trust_delta double precision NOT NULL DEFAULT 0,
    hormone_exchange jsonb,
    success boolean,
    metadata jsonb NOT NULL DEFAULT '{}',
    at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX agent_interactions_to_idx ON phoenix.agent_interactions (agent_to, at);

-- Append-only history: one row per transition, written in the transition's transaction.
CREATE TABLE phoenix.task_events (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    task_id uuid NOT NULL REFERENCES phoenix.tasks (id),
    kind text NOT NULL,
    agent_id uuid REFERENCES phoenix.agents (id),
    attempt integer NOT NULL,
    at timestamptz NOT NULL,
    detail jsonb NOT NULL DEFAULT '{}'
);

-- show TASK: its history in order
CREATE INDEX task_events_task_idx ON phoenix.task_events (task_id, id);
-- throughput over a time window (CLI summary, later the timeline)
CREATE INDEX task_events_at_idx ON phoenix.task_events USING brin (at);

CREATE FUNCTION phoenix.task_events_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'task_events is append-only: % refused', TG_OP USING ERRCODE = 'PBFB0';
END;
$$;

CREATE TRIGGER task_events_append_only BEFORE UPDATE OR DELETE ON phoenix.task_events
    FOR EACH ROW EXECUTE FUNCTION phoenix.task_events_append_only();
CREATE TRIGGER task_events_no_truncate BEFORE TRUNCATE ON phoenix.task_events
    FOR EACH STATEMENT EXECUTE FUNCTION phoenix.task_events_append_only();
