-- Schedules (board/schedules.py, docs/concepts/schedules.md): recurring tasks fired by the beat.

-- name: schedule_clock
-- The database's clock: every beat judges due slots by the one clock they share.
SELECT clock_timestamp() AS now;

-- name: schedule_add
-- A new schedule (no row when the name is taken).
INSERT INTO phoenix.schedules (name, cron, timezone, catch_up, task, team, created_at, next_slot)
VALUES (%(schedule)s::text, %(cron)s::text, %(timezone)s::text, %(catch_up)s::text, %(task)s::jsonb, %(team)s::text,
        %(now)s::timestamptz, %(next_slot)s::timestamptz)
ON CONFLICT (name) DO NOTHING
RETURNING *;

-- name: schedule_get
-- One schedule by name.
SELECT * FROM phoenix.schedules WHERE name = %(schedule)s::text;

-- name: schedules_list
-- Every schedule, by name.
SELECT * FROM phoenix.schedules ORDER BY name;

-- name: schedule_pause
-- Pauses a schedule; the row either way (paused_at kept when it was paused already).
UPDATE phoenix.schedules SET paused_at = coalesce(paused_at, %(now)s::timestamptz)
 WHERE name = %(schedule)s::text
RETURNING *;

-- name: schedule_resume
-- Resumes a paused schedule from its next slot after now: slots that passed while it was paused
-- are not caught up. A schedule not paused is returned unchanged.
UPDATE phoenix.schedules
   SET paused_at = NULL,
       next_slot = CASE WHEN paused_at IS NULL THEN next_slot ELSE %(next_slot)s::timestamptz END
 WHERE name = %(schedule)s::text
RETURNING *;

-- name: schedule_remove
-- Deletes a schedule and its runs; its tasks stay.
DELETE FROM phoenix.schedules WHERE name = %(schedule)s::text RETURNING id, name;

-- name: schedules_due
-- The ids of live schedules with a slot due at now, for the beat's tick.
SELECT id FROM phoenix.schedules
 WHERE paused_at IS NULL AND next_slot <= %(now)s::timestamptz
 ORDER BY next_slot;

-- name: schedule_lock_due
-- One due schedule, locked for this tick's transaction; no row when it is no longer due, paused,
-- removed, or another beat holds it (that beat fires it; this one moves on).
SELECT * FROM phoenix.schedules
 WHERE id = %(id)s::uuid AND paused_at IS NULL AND next_slot <= %(now)s::timestamptz
   FOR UPDATE SKIP LOCKED;

-- name: schedule_fire
-- Fires one slot: its key and its task in the caller's transaction (sql/functions/62_schedules.sql).
SELECT * FROM phoenix.schedule_fire(%(id)s::uuid, %(kind)s::text, %(slot)s::timestamptz, %(now)s::timestamptz,
                                     %(key)s::text);

-- name: schedule_advance
-- Moves the schedule's cursor past the slots this tick considered.
UPDATE phoenix.schedules
   SET next_slot = greatest(next_slot, %(next_slot)s::timestamptz),
       last_slot = CASE WHEN %(fired_slot)s::timestamptz IS NULL THEN last_slot
                        ELSE greatest(last_slot, %(fired_slot)s::timestamptz) END,
       last_fired_at = CASE WHEN %(fired_slot)s::timestamptz IS NULL THEN last_fired_at
                            ELSE %(now)s::timestamptz END,
       missed = missed + %(missed)s::bigint
 WHERE id = %(id)s::uuid;

-- name: schedule_runs_prunable
-- Whether any run is old enough to forget: read first, so that a tick writes only when there is
-- something to delete.
SELECT EXISTS (SELECT 1 FROM phoenix.schedule_runs WHERE fired_at < %(before)s::timestamptz) AS found;

-- name: schedule_runs_prune
-- Forgets runs fired long ago, a batch at a time. Safe for exactly-once: a slot this old is behind
-- its schedule's cursor (next_slot), which never moves back, so no beat considers it again.
DELETE FROM phoenix.schedule_runs r
 USING (SELECT schedule_id, kind, slot FROM phoenix.schedule_runs
         WHERE fired_at < %(before)s::timestamptz LIMIT %(limit)s::integer) AS old
 WHERE (r.schedule_id, r.kind, r.slot) = (old.schedule_id, old.kind, old.slot);

-- name: schedule_runs_recent
-- A schedule's latest runs, newest first.
SELECT r.kind, r.slot, r.fired_at, r.task_id, r.error
  FROM phoenix.schedule_runs r JOIN phoenix.schedules s ON s.id = r.schedule_id
 WHERE s.name = %(schedule)s::text
 ORDER BY r.fired_at DESC, r.slot DESC
 LIMIT %(limit)s::integer;

-- name: metrics_schedules
-- Each schedule's figures for the scrape: its lag (how long its earliest unfired due slot has
-- waited; 0 when none is due or it is paused), its last fire and the slots its catch-up passed over.
SELECT name,
       CASE WHEN paused_at IS NULL AND next_slot < now()
            THEN extract(epoch FROM now() - next_slot)::float8 ELSE 0 END AS lag_seconds,
       last_fired_at, missed
  FROM phoenix.schedules
 ORDER BY name;
