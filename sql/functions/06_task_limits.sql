-- Limits on what a task row holds, enforced in the database (docs/errors.md) so they
-- hold through every door: board/models.py checks the same limits first, with friendlier
-- messages, but an agent calling the agent API in SQL meets these. The numbers are constants.py's.

-- How deeply objects and arrays nest in a JSON value (a scalar is 0, {} is 1, {"a": []} is 2),
-- counted level by level without recursion, so a document 3,000 levels deep is measured, not a
-- stack overflow; with p_stop, counting stops once past it.
CREATE OR REPLACE FUNCTION phoenix.jsonb_depth(p jsonb, p_stop integer DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    level jsonb[] := CASE WHEN jsonb_typeof(p) IN ('object', 'array') THEN ARRAY[p] ELSE '{}' END;
    depth integer := 0;
BEGIN
    WHILE cardinality(level) > 0 LOOP
        depth := depth + 1;
        EXIT WHEN depth > p_stop;
        level := ARRAY(
            SELECT e.v FROM unnest(level) AS x (doc),
                   LATERAL (SELECT value FROM jsonb_each(CASE WHEN jsonb_typeof(x.doc) = 'object' THEN x.doc END)
                            UNION ALL
                            SELECT value FROM jsonb_array_elements(CASE WHEN jsonb_typeof(x.doc) = 'array' THEN x.doc END)
                           ) AS e (v)
             WHERE jsonb_typeof(e.v) IN ('object', 'array'));
    END LOOP;
    RETURN depth;
END;
$$;

-- What is wrong with a stored JSON document, or NULL: too long (PostgreSQL's text form, see
-- PAYLOAD_STORED_MAX_BYTES) or nested deeper than PAYLOAD_DEPTH_MAX. Size first: it is cheap.
CREATE OR REPLACE FUNCTION phoenix.json_limits_error(p jsonb)
RETURNS text
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
DECLARE
    v_text text;
    v_bytes bigint;
BEGIN
    IF p IS NULL THEN
        RETURN NULL;
    END IF;
    v_text := p::text;
    v_bytes := octet_length(v_text);
    IF v_bytes > phoenix.k_payload_stored_max_bytes() THEN
        RETURN format('is %s bytes as stored; the limit is %s', v_bytes, phoenix.k_payload_stored_max_bytes()::bigint);
    END IF;
    -- every level of nesting opens with its own { or [, so a text with no more of them than the
    -- limit cannot nest deeper (brackets inside strings only count too many): almost every
    -- document is passed here without the level-by-level walk, which cost a result a fifth of a
    -- millisecond (docs/costs.md)
    IF length(v_text) - length(translate(v_text, '{[', '')) <= phoenix.k_payload_depth_max() THEN
        RETURN NULL;
    END IF;
    IF phoenix.jsonb_depth(p, phoenix.k_payload_depth_max()::integer) > phoenix.k_payload_depth_max() THEN
        RETURN format('nests more than %s levels of objects and arrays', phoenix.k_payload_depth_max()::integer);
    END IF;
    RETURN NULL;
END;
$$;

-- The row check: payload an object, payload and output within the JSON limits, deadline before TIME_MAX (a time
-- past year 9999 in UTC would be stored and then break every reader: listing, agents, the CLI).
CREATE OR REPLACE FUNCTION phoenix.tasks_check_limits()
RETURNS trigger
LANGUAGE plpgsql
AS $$
DECLARE
    v_error text;
BEGIN
    IF TG_OP = 'INSERT' OR NEW.payload IS DISTINCT FROM OLD.payload THEN
        -- agents load the payload as an object (models.Task): anything else could never be worked
        IF jsonb_typeof(NEW.payload) IS DISTINCT FROM 'object' THEN
            RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = 'payload must be a JSON object';
        END IF;
        v_error := phoenix.json_limits_error(NEW.payload);
        IF v_error IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = 'payload ' || v_error;
        END IF;
    END IF;
    IF TG_OP = 'INSERT' OR NEW.output IS DISTINCT FROM OLD.output THEN
        v_error := phoenix.json_limits_error(NEW.output);
        IF v_error IS NOT NULL THEN
            RAISE EXCEPTION USING ERRCODE = 'PBIN0', MESSAGE = 'output ' || v_error;
        END IF;
    END IF;
    IF NEW.deadline >= to_timestamp(phoenix.k_time_max_epoch_seconds()) THEN
        RAISE EXCEPTION USING ERRCODE = 'PBIN0',
            MESSAGE = format('deadline must be before %s; give an earlier deadline or none',
                             to_char(to_timestamp(phoenix.k_time_max_epoch_seconds()) AT TIME ZONE 'UTC',
                                     'YYYY-MM-DD"T"HH24:MI:SS"Z"'));
    END IF;
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER tasks_check_limits BEFORE INSERT OR UPDATE OF payload, output, deadline ON phoenix.tasks
    FOR EACH ROW EXECUTE FUNCTION phoenix.tasks_check_limits();
