-- Statements on phoenix.hormone_cascades (docs/concepts/cascades.md). A cascade locks the
-- cascade's row, then agents in id order.

-- name: hormone_cascade
-- The operator's cascade from one agent or a team, spread at once; a known id changes nothing.
SELECT * FROM phoenix.hormone_cascade(%(id)s::uuid, %(hormone)s::text, %(intensity)s::float8,
                                      %(team)s::text, %(agent)s::uuid, %(now)s::timestamptz);

-- name: hormone_cascade_run
-- Spread one cascade (an event's, left pending by its transaction); an applied one is returned as is.
SELECT * FROM phoenix.hormone_cascade_run(%(id)s::uuid, %(now)s::timestamptz);

-- name: hormone_cascades_pending
-- Cascades that events started and the beat has not spread yet, oldest first.
SELECT id FROM phoenix.hormone_cascades WHERE applied_at IS NULL ORDER BY created_at, id LIMIT %(limit)s::integer;

-- name: hormone_cascade_get
-- One cascade by id.
SELECT * FROM phoenix.hormone_cascades WHERE id = %(id)s::uuid;
