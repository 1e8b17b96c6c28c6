-- The event stream's outbox writers and the relay's id assignment (docs/concepts/event-stream.md).
-- Triggers, so the lifecycle functions stay as they are: each row lands in the transaction of the
-- fact it reports and disappears with it on rollback.

-- The task events' rows: task.created for a submission; task.completed for a completion; and
-- task.updated, with the task's status after the change, for every event after the submission (the
-- API's taskUpdated subscription and createTask's wait, api/subscriptions.py). The submission
-- itself is task.created's alone: a second row for it would double the outbox of every submit for
-- nothing a follower needs. The status is read from the task row, which the lifecycle function
-- has updated before it appends the event.
-- A row names its event (task_id, seq) and carries no payload: everything the payload says is in
-- the event row and the task's columns that never change, except the status, which the row keeps.
-- The relay builds the payload when it assigns the row its entry id (outbox_assign, below), an
-- update that rewrites the row anyway; copying the event here cost about 250 bytes of WAL per row,
-- three times over its life (migration 0033, docs/costs.md).
-- One trigger writes every row of an event, a completion's two in one INSERT, task.completed first
-- (their ids in that order, as when two triggers wrote them), reading the task row only for the
-- status task.updated keeps. Plain statements, each of them cheap to start: one INSERT ... SELECT
-- over a VALUES list sorted for the ids' order cost twice the CPU per event (docs/costs.md).
CREATE OR REPLACE FUNCTION phoenix.outbox_task_event() RETURNS trigger
LANGUAGE plpgsql AS $f$
DECLARE
    v_status phoenix.task_status;
BEGIN
    IF NEW.kind = 'submitted' THEN
        INSERT INTO phoenix.outbox (topic, task_id, seq, at) VALUES ('task.created', NEW.task_id, NEW.seq, NEW.at);
        RETURN NULL;
    END IF;
    SELECT status INTO v_status FROM phoenix.tasks WHERE id = NEW.task_id;
    IF NEW.kind = 'completed' THEN
        INSERT INTO phoenix.outbox (topic, task_id, seq, status, at)
        VALUES ('task.completed', NEW.task_id, NEW.seq, NULL, NEW.at),
               ('task.updated', NEW.task_id, NEW.seq, v_status, NEW.at);
    ELSE
        INSERT INTO phoenix.outbox (topic, task_id, seq, status, at)
        VALUES ('task.updated', NEW.task_id, NEW.seq, v_status, NEW.at);
    END IF;
    RETURN NULL;
END;
$f$;

-- The payload of a task event's entry (docs/concepts/event-stream.md), the one place its shape is
-- written: the event's id, kind, agent and attempt, the task's team, category and title, and the
-- event's detail (task.created, task.completed) or the status after it (task.updated). With the
-- event row gone (deleted by hand: retention builds the payloads of unassigned rows before it
-- deletes their events) the values are null, so that the relay still publishes the entry, whose
-- fields name the task and the event's seq, rather than stopping on it.
CREATE OR REPLACE FUNCTION phoenix.outbox_task_payload(
    p_topic text, e phoenix.task_events, t phoenix.tasks, p_status phoenix.task_status)
RETURNS jsonb
LANGUAGE sql STABLE
AS $$
    SELECT CASE WHEN p_topic = 'task.updated'
        THEN jsonb_build_object('task_event_id', e.id, 'kind', e.kind, 'status', p_status, 'agent_id', e.agent_id,
                                'attempt', e.attempt, 'team', t.team, 'category', t.category, 'title', t.title)
        ELSE jsonb_build_object('task_event_id', e.id, 'kind', e.kind, 'agent_id', e.agent_id,
                                'attempt', e.attempt, 'team', t.team, 'category', t.category, 'title', t.title,
                                'detail', e.detail)
    END
$$;

CREATE OR REPLACE TRIGGER task_events_outbox AFTER INSERT ON phoenix.task_events
    FOR EACH ROW EXECUTE FUNCTION phoenix.outbox_task_event();

CREATE OR REPLACE FUNCTION phoenix.outbox_consciousness() RETURNS trigger
LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO phoenix.outbox (topic, payload, at) VALUES ('consciousness.update', to_jsonb(NEW), NEW.time);
    RETURN NULL;
END;
$f$;

CREATE OR REPLACE TRIGGER consciousness_timeline_outbox AFTER INSERT ON phoenix.consciousness_timeline
    FOR EACH ROW EXECUTE FUNCTION phoenix.outbox_consciousness();

-- Hormone cascades are a later part of the issue; whatever writes a 'sync' interaction (one agent's
-- hormones passed on to another) is published as one, so the topic has a producer to build on.
CREATE OR REPLACE FUNCTION phoenix.outbox_hormone_sync() RETURNS trigger
LANGUAGE plpgsql AS $f$
BEGIN
    INSERT INTO phoenix.outbox (topic, task_id, payload, at)
    VALUES ('hormone.cascade', NEW.task_id,
            jsonb_build_object('interaction_id', NEW.id, 'agent_from', NEW.agent_from, 'agent_to', NEW.agent_to,
                               'hormones', NEW.hormone_exchange, 'metadata', NEW.metadata),
            NEW.at);
    RETURN NULL;
END;
$f$;

CREATE OR REPLACE TRIGGER agent_interactions_outbox AFTER INSERT ON phoenix.agent_interactions
    FOR EACH ROW WHEN (NEW.interaction_type = 'sync')
    EXECUTE FUNCTION phoenix.outbox_hormone_sync();

-- Gives committed, unassigned rows their stream entry ids, in id order, after the topic's last id.
-- Only committed rows are visible here, so a row whose transaction commits later simply gets a
-- later id when it shows up: nothing is skipped however transactions interleave, and ids grow in
-- the order the relay will XADD them (Redis accepts only growing ids). The millisecond part is
-- the assignment time (never below the topic's last), so MINID trimming works on it.
-- The caller (the relay) holds the relay's advisory lock; the xact lock here only guards a
-- careless second caller from colliding on the unique (topic, stream_ms, stream_seq) index. With
-- it, no row lock is needed: nothing else gives ids, and the one other writer of an unassigned row
-- (retention, building its payload) is met by the update below, which keeps that payload. A row
-- lock per row was a WAL record per row (docs/costs.md).
CREATE OR REPLACE FUNCTION phoenix.outbox_assign(p_limit integer, p_now timestamptz DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql AS $f$
DECLARE
    v_now_ms bigint := floor(extract(epoch FROM coalesce(p_now, clock_timestamp())) * 1000);
    v_heads jsonb := '{}';
    v_head jsonb;
    v_ms bigint;
    v_seq bigint;
    r record;
    n integer := 0;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('phoenix.outbox_assign'));
    -- a task event's row gets its payload here, with its id (outbox_task_event, above)
    FOR r IN SELECT o.id, o.topic,
                    CASE WHEN o.payload IS NULL THEN phoenix.outbox_task_payload(o.topic, e, t, o.status) END AS payload
               FROM phoenix.outbox o
               LEFT JOIN phoenix.task_events e ON o.payload IS NULL AND e.task_id = o.task_id AND e.seq = o.seq
               LEFT JOIN phoenix.tasks t ON o.payload IS NULL AND t.id = o.task_id
              WHERE o.stream_ms IS NULL
              ORDER BY o.id LIMIT p_limit
    LOOP
        v_head := v_heads -> r.topic;
        IF v_head IS NULL THEN
            SELECT jsonb_build_array(h.stream_ms, h.stream_seq) INTO v_head FROM phoenix.outbox h
             WHERE h.topic = r.topic AND h.stream_ms IS NOT NULL
             ORDER BY h.stream_ms DESC, h.stream_seq DESC LIMIT 1;
            v_head := coalesce(v_head, '[0, -1]');
        END IF;
        v_ms := (v_head ->> 0)::bigint;
        v_seq := (v_head ->> 1)::bigint;
        IF v_now_ms > v_ms THEN
            v_ms := v_now_ms; v_seq := 0;
        ELSE
            v_seq := v_seq + 1;
        END IF;
        -- (saying the row has no id yet lets outbox_unassigned_idx find it)
        UPDATE phoenix.outbox SET stream_ms = v_ms, stream_seq = v_seq, payload = coalesce(payload, r.payload)
         WHERE id = r.id AND stream_ms IS NULL;
        v_heads := jsonb_set(v_heads, ARRAY[r.topic], jsonb_build_array(v_ms, v_seq));
        n := n + 1;
    END LOOP;
    RETURN n;
END;
$f$;

-- The last entry id of a topic that PostgreSQL believes Redis holds; no row when none is left.
CREATE OR REPLACE FUNCTION phoenix.outbox_published_head(p_topic text)
RETURNS TABLE (stream_ms bigint, stream_seq bigint)
LANGUAGE sql STABLE
AS $$
    SELECT h.stream_ms, h.stream_seq FROM phoenix.outbox h
     WHERE h.topic = p_topic AND h.stream_ms IS NOT NULL AND h.published_at IS NOT NULL
     ORDER BY h.stream_ms DESC, h.stream_seq DESC LIMIT 1
$$;

-- A topic's rows that have an entry id and are not in Redis yet, in the order they must be XADDed
-- (at most p_limit; NULL: all). They are exactly the rows above the topic's published head: ids
-- are handed out in order and published in order, a refused id that Redis lacks loses its id
-- (outbox_reassign) and gets a later one, and a tail Redis lost is marked again from the top
-- (outbox_republish_after). So the stream index finds them, and no index needs to name
-- published_at, which keeps the mark a HOT update (migration 0034).
-- plpgsql: the head is read first, so that the rows after it are one range of the stream index
-- (a head joined in the same statement left the planner scanning the topic's every row).
CREATE OR REPLACE FUNCTION phoenix.outbox_unpublished(p_topic text, p_limit integer)
RETURNS SETOF phoenix.outbox
LANGUAGE plpgsql STABLE
AS $$
DECLARE
    v_ms bigint := -1;
    v_seq bigint := -1;
BEGIN
    SELECT h.stream_ms, h.stream_seq INTO v_ms, v_seq FROM phoenix.outbox_published_head(p_topic) h;
    RETURN QUERY
        SELECT o.* FROM phoenix.outbox o
         WHERE o.topic = p_topic AND o.stream_ms IS NOT NULL
           AND (o.stream_ms, o.stream_seq) > (coalesce(v_ms, -1), coalesce(v_seq, -1))
         ORDER BY o.stream_ms, o.stream_seq
         LIMIT p_limit;
END;
$$;
