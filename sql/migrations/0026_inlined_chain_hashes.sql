-- Less CPU per task (issue 18, item 2; docs/costs.md has the figures).
--
-- The audit chains' hash functions (0003) were declared IMMUTABLE, but their bodies call
-- jsonb_build_array, which PostgreSQL declares STABLE (it can format timestamps). The planner
-- inlines a sql function only when its body is no more volatile than the function, so every link
-- of a task event or a trust delta called the function instead: a sql function that is not
-- inlined is planned again on each call, about a tenth of a millisecond, three times per claim
-- and result. STABLE is what the body is; the hash, its input and the stored chains are the same.
ALTER FUNCTION phoenix.task_event_hash(bytea, uuid, integer, text, uuid, integer, timestamptz, jsonb) STABLE;
ALTER FUNCTION phoenix.interaction_hash(bytea, uuid, integer, uuid, text, uuid, float8, jsonb, boolean, jsonb, timestamptz) STABLE;
