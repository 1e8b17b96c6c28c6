-- Hormone cascades (README "Hormone cascades"). One row per cascade: its id is the idempotency
-- key (a replayed id changes nothing), and a row without applied_at is a cascade that an event
-- started and the beat has not spread yet. Event transactions only insert here; the spread, which
-- locks many agents, runs in a transaction of its own (see phoenix.hormone_cascade_run).
CREATE TABLE phoenix.hormone_cascades (
    id uuid PRIMARY KEY,
    kind text NOT NULL CONSTRAINT hormone_cascades_kind CHECK (kind IN ('operator', 'event')),
    hormone text NOT NULL CONSTRAINT hormone_cascades_hormone CHECK (
        hormone IN ('dopamine', 'oxytocin', 'adrenaline', 'cortisol')),
    -- the change at the sources; receivers get it attenuated per hop
    intensity double precision NOT NULL CONSTRAINT hormone_cascades_intensity CHECK (intensity <> 0),
    sources uuid[] NOT NULL,
    team text,
    task_id uuid REFERENCES phoenix.tasks (id),
    created_at timestamptz NOT NULL,
    applied_at timestamptz,
    reached integer
);

-- the beat's sweep: pending cascades, oldest first
CREATE INDEX hormone_cascades_pending_idx ON phoenix.hormone_cascades (created_at) WHERE applied_at IS NULL;

-- recent collaborators and a pair's shared record look interactions up from either side;
-- agent_interactions_to_idx serves the agent_to side
CREATE INDEX agent_interactions_from_idx ON phoenix.agent_interactions (agent_from, at) WHERE agent_from IS NOT NULL;
