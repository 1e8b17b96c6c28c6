-- Tamper-evident history (README "Audit: the hash chains").
--
-- task_events is one hash chain per task and agent_interactions one per rated agent (agent_to).
-- Each row carries its place in its chain (seq, from 1), the previous row's hash and its own:
--   hash = sha256(prev_hash || canonical content), with prev_hash = 32 zero bytes for seq 1.
-- A chain per task, not one for the whole table: every transition that writes an event already
-- holds its task's row lock (and every rating its agent's), so linking costs one index probe and
-- no new lock; one global chain would make all writers queue on its head row until they commit.
-- The unique (chain, seq) index is the backstop: two writers that raced past the lock would
-- collide there instead of forking a chain. BEFORE INSERT triggers fill the three columns, so no
-- code path can write an unlinked row.

ALTER TABLE phoenix.task_events
    ADD COLUMN seq integer,
    ADD COLUMN prev_hash bytea,
    ADD COLUMN hash bytea;
ALTER TABLE phoenix.agent_interactions
    ADD COLUMN seq integer,
    ADD COLUMN prev_hash bytea,
    ADD COLUMN hash bytea;

-- The content each hash covers: the row's fields in a fixed order as JSON text (jsonb prints
-- keys and numbers the same way on every server), times as integer microseconds and floats as
-- their 8 bytes, so that no session setting (TimeZone, DateStyle, extra_float_digits) can change
-- a hash. These define the format of the stored chains, so they live here, not in a replaceable
-- function file: a new format needs a new migration.
CREATE FUNCTION phoenix.chain_genesis() RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $f$ SELECT '\x0000000000000000000000000000000000000000000000000000000000000000'::bytea $f$;

CREATE FUNCTION phoenix.task_event_hash(
    p_prev bytea, p_task uuid, p_seq integer, p_kind text, p_agent uuid, p_attempt integer, p_at timestamptz,
    p_detail jsonb)
RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $f$
    SELECT sha256(p_prev || convert_to(jsonb_build_array(
        p_task, p_seq, p_kind, p_agent, p_attempt, (extract(epoch FROM p_at) * 1000000)::bigint, p_detail)::text, 'UTF8'))
$f$;

CREATE FUNCTION phoenix.interaction_hash(
    p_prev bytea, p_agent_to uuid, p_seq integer, p_agent_from uuid, p_type text, p_task uuid,
    p_trust_delta float8, p_hormones jsonb, p_success boolean, p_metadata jsonb, p_at timestamptz)
RETURNS bytea
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $f$
    SELECT sha256(p_prev || convert_to(jsonb_build_array(
        p_agent_to, p_seq, p_agent_from, p_type, p_task, encode(float8send(p_trust_delta), 'hex'),
        p_hormones, p_success, p_metadata, (extract(epoch FROM p_at) * 1000000)::bigint)::text, 'UTF8'))
$f$;

-- Links a new row to the head of its chain. The caller holds the chain owner's row lock (the
-- task's or the rated agent's), so the head cannot move under it.
CREATE FUNCTION phoenix.task_events_link() RETURNS trigger
LANGUAGE plpgsql AS $f$
DECLARE
    v_seq integer;
    v_prev bytea;
BEGIN
    SELECT seq, hash INTO v_seq, v_prev FROM phoenix.task_events
     WHERE task_id = NEW.task_id ORDER BY seq DESC LIMIT 1;
    NEW.seq := coalesce(v_seq, 0) + 1;
    NEW.prev_hash := coalesce(v_prev, phoenix.chain_genesis());
    NEW.hash := phoenix.task_event_hash(NEW.prev_hash, NEW.task_id, NEW.seq, NEW.kind, NEW.agent_id, NEW.attempt,
                                        NEW.at, NEW.detail);
    RETURN NEW;
END;
$f$;

CREATE FUNCTION phoenix.agent_interactions_link() RETURNS trigger
LANGUAGE plpgsql AS $f$
DECLARE
    v_seq integer;
    v_prev bytea;
BEGIN
    SELECT seq, hash INTO v_seq, v_prev FROM phoenix.agent_interactions
     WHERE agent_to = NEW.agent_to ORDER BY seq DESC LIMIT 1;
    NEW.seq := coalesce(v_seq, 0) + 1;
    NEW.prev_hash := coalesce(v_prev, phoenix.chain_genesis());
    NEW.hash := phoenix.interaction_hash(NEW.prev_hash, NEW.agent_to, NEW.seq, NEW.agent_from, NEW.interaction_type,
                                         NEW.task_id, NEW.trust_delta, NEW.hormone_exchange, NEW.success,
                                         NEW.metadata, NEW.at);
    RETURN NEW;
END;
$f$;

CREATE FUNCTION phoenix.append_only() RETURNS trigger
LANGUAGE plpgsql AS $f$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'PBFB0',
        MESSAGE = format('%s is append-only (a hash chain): %s refused', TG_TABLE_NAME, TG_OP);
END;
$f$;

-- Rows written before this migration join their chains in id order (a one-off rewrite; the
-- append-only trigger is held off for it).
ALTER TABLE phoenix.task_events DISABLE TRIGGER task_events_append_only;

DO $$
DECLARE
    r record;
    v_prev bytea;
    v_key uuid;
    v_seq integer;
BEGIN
    FOR r IN SELECT * FROM phoenix.task_events ORDER BY task_id, id LOOP
        IF v_key IS DISTINCT FROM r.task_id THEN
            v_key := r.task_id; v_seq := 0; v_prev := phoenix.chain_genesis();
        END IF;
        v_seq := v_seq + 1;
        UPDATE phoenix.task_events
           SET seq = v_seq, prev_hash = v_prev,
               hash = phoenix.task_event_hash(v_prev, r.task_id, v_seq, r.kind, r.agent_id, r.attempt, r.at, r.detail)
         WHERE id = r.id
        RETURNING hash INTO v_prev;
    END LOOP;
    v_key := NULL;
    FOR r IN SELECT * FROM phoenix.agent_interactions ORDER BY agent_to, id LOOP
        IF v_key IS DISTINCT FROM r.agent_to THEN
            v_key := r.agent_to; v_seq := 0; v_prev := phoenix.chain_genesis();
        END IF;
        v_seq := v_seq + 1;
        UPDATE phoenix.agent_interactions
           SET seq = v_seq, prev_hash = v_prev,
               hash = phoenix.interaction_hash(v_prev, r.agent_to, v_seq, r.agent_from, r.interaction_type, r.task_id,
                                               r.trust_delta, r.hormone_exchange, r.success, r.metadata, r.at)
         WHERE id = r.id
        RETURNING hash INTO v_prev;
    END LOOP;
END;
$$;

ALTER TABLE phoenix.task_events ENABLE TRIGGER task_events_append_only;

ALTER TABLE phoenix.task_events
    ALTER COLUMN seq SET NOT NULL, ALTER COLUMN prev_hash SET NOT NULL, ALTER COLUMN hash SET NOT NULL;
ALTER TABLE phoenix.agent_interactions
    ALTER COLUMN seq SET NOT NULL, ALTER COLUMN prev_hash SET NOT NULL, ALTER COLUMN hash SET NOT NULL;

-- The chain order replaces (task_id, id) for show TASK and is the trigger's probe for the head.
DROP INDEX phoenix.task_events_task_idx;
CREATE UNIQUE INDEX task_events_chain_idx ON phoenix.task_events (task_id, seq);
CREATE UNIQUE INDEX agent_interactions_chain_idx ON phoenix.agent_interactions (agent_to, seq);

-- agent_interactions becomes append-only too: a chain that may be rewritten proves nothing.
CREATE TRIGGER agent_interactions_append_only BEFORE UPDATE OR DELETE ON phoenix.agent_interactions
    FOR EACH ROW EXECUTE FUNCTION phoenix.append_only();
CREATE TRIGGER agent_interactions_no_truncate BEFORE TRUNCATE ON phoenix.agent_interactions
    FOR EACH STATEMENT EXECUTE FUNCTION phoenix.append_only();

CREATE TRIGGER task_events_link BEFORE INSERT ON phoenix.task_events
    FOR EACH ROW EXECUTE FUNCTION phoenix.task_events_link();
CREATE TRIGGER agent_interactions_link BEFORE INSERT ON phoenix.agent_interactions
    FOR EACH ROW EXECUTE FUNCTION phoenix.agent_interactions_link();
-- ALWAYS: bulk loads that run with session_replication_role = replica (to skip foreign-key
-- checks) must still link their rows.
ALTER TABLE phoenix.task_events ENABLE ALWAYS TRIGGER task_events_link;
ALTER TABLE phoenix.agent_interactions ENABLE ALWAYS TRIGGER agent_interactions_link;
