-- The relay's mark is a HOT update (issue 18, item 2; docs/costs.md, "The fifth round").
--
-- bench board's relay step found the relay writing more WAL per task than the claim and the result
-- together: each of a task's five outbox rows was rewritten twice, by the entry id's assignment and
-- by the mark, and neither could be a HOT update, because outbox_unpublished_idx named published_at
-- in its predicate. Each mark wrote the whole row again (its payload included) and a stream index
-- entry. The relay never needed that index for assigned rows: a topic's unpublished rows are
-- exactly those above its last published entry id (ids are handed out in order and published in
-- order; a refused id that Redis lacks is taken back, a lost tail is marked again from the top), so
-- the stream index finds them (phoenix.outbox_unpublished, sql/functions/50_outbox.sql). The index
-- that stays holds the rows waiting for an id, which the assignment takes out of it anyway.
-- With published_at in no index, and room left on each page for it, the mark changes the row in
-- place: a few dozen bytes of WAL and no index entry.
DROP INDEX phoenix.outbox_unpublished_idx;
CREATE INDEX outbox_unassigned_idx ON phoenix.outbox (id) WHERE stream_ms IS NULL;
ALTER TABLE phoenix.outbox SET (fillfactor = 50);
