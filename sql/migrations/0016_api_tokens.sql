-- The HTTP API's tokens (api/tokens.py) and the stream topic its subscriptions follow.
--
-- A token is 32 random bytes shown once; only its SHA-256 is kept. A fast unsalted hash is right
-- here, unlike for passwords: a guess of a 256-bit random value is hopeless however fast the hash,
-- so a slow hash (argon2, bcrypt) would buy nothing and cost every request tens of milliseconds,
-- and being unsalted the digest can be looked up by an index.
CREATE TABLE phoenix.api_tokens (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    kind text NOT NULL CONSTRAINT api_tokens_kind CHECK (kind IN ('agent', 'operator', 'reader')),
    agent_id uuid REFERENCES phoenix.agents (id),
    digest bytea NOT NULL CONSTRAINT api_tokens_digest_length CHECK (octet_length(digest) = 32),
    hint text NOT NULL,           -- the token's first characters, so a person can tell tokens apart
    label text CONSTRAINT api_tokens_label_length CHECK (char_length(label) BETWEEN 1 AND 200),
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    -- recorded at most once a minute per token (api/auth.py), not a write per request
    last_used_at timestamptz,
    CONSTRAINT api_tokens_agent CHECK ((kind = 'agent') = (agent_id IS NOT NULL))
);

CREATE UNIQUE INDEX api_tokens_digest_idx ON phoenix.api_tokens (digest);
CREATE INDEX api_tokens_agent_idx ON phoenix.api_tokens (agent_id) WHERE agent_id IS NOT NULL;

-- task.updated: every change of a task after its submission, so a subscriber (or a program waiting for its
-- result) follows a task without polling; written by sql/functions/51_outbox_task_updated.sql.
ALTER TABLE phoenix.outbox DROP CONSTRAINT outbox_topic;
ALTER TABLE phoenix.outbox ADD CONSTRAINT outbox_topic CHECK (
    topic IN ('task.created', 'task.completed', 'task.updated', 'consciousness.update', 'hormone.cascade'));
