-- Fewer index writes per task (issue 18, item 2; docs/costs.md has the figures). Each cut
-- below was measured with `phoenix-board bench board` (WAL bytes and index inserts per step, by
-- relation) and kept because it helped; each index dropped or narrowed was checked with EXPLAIN on
-- every named query that could use it.

-- The counters' delta rows (0011) are appended by every status change (two rows: the old status's
-- -1 and the new one's +1) and only ever read whole: the beat's fold deletes them all, the exporter
-- sums them all. Their identity key was an index insert per row, two per transition, for a lookup
-- nothing makes.
ALTER TABLE phoenix.task_count_deltas DROP COLUMN id;

-- (status, team) for open work was written on every submit, claim and start (status is in its
-- predicate, so no transition is a HOT update for it anyway) and served only the teams overview's
-- count of live tasks, which now reads the kept counts (sql/queries/teams.sql, teams_overview).
-- The board's status filter is served by the sort indexes, or by tasks_lease_idx and
-- tasks_review_idx for the short-lived statuses.
DROP INDEX phoenix.tasks_status_idx;

-- An outbox row has no stream entry id until the relay assigns it, and every reader of this index
-- asks for rows that have one (the topic's head, re-publishing, pruning): leaving the unassigned
-- rows out saves an index insert per event row when it is written. Uniqueness is unchanged: rows
-- without an id never collided.
DROP INDEX phoenix.outbox_stream_idx;
CREATE UNIQUE INDEX outbox_stream_idx ON phoenix.outbox (topic, stream_ms, stream_seq) WHERE stream_ms IS NOT NULL;

-- The audit chains (0003) already identify every row: (task_id, seq) for task_events, (agent_to,
-- seq) for agent_interactions, unique and written with every row. The surrogate ids stay as
-- columns (the event stream's payloads name task_event_id and interaction_id) but nothing looks a
-- row up by them, so their own key index was one more insert per event and per rating. The chain
-- index becomes the primary key.
ALTER TABLE phoenix.task_events ALTER COLUMN seq SET NOT NULL;
ALTER TABLE phoenix.task_events DROP CONSTRAINT task_events_pkey;
ALTER TABLE phoenix.task_events ADD CONSTRAINT task_events_chain_idx PRIMARY KEY USING INDEX task_events_chain_idx;
ALTER TABLE phoenix.agent_interactions ALTER COLUMN seq SET NOT NULL;
ALTER TABLE phoenix.agent_interactions DROP CONSTRAINT agent_interactions_pkey;
ALTER TABLE phoenix.agent_interactions ADD CONSTRAINT agent_interactions_chain_idx PRIMARY KEY USING INDEX agent_interactions_chain_idx;

-- An agent's row is updated at every claim, result, heartbeat and vote on its work, and none of
-- those changes an indexed column, so each can be a HOT update (no index insert) if its page has
-- room for the new version. At the default fillfactor of 100 the pages are packed, and an update
-- that finds no room moves the row to another page and inserts into all four of its indexes
-- (measured: 3 index inserts per task for freshly registered agents). Half of each page is kept
-- free: agents are thousands of rows, not millions. Pages written from now on keep the room; an
-- existing board's pages get it at their next rewrite (VACUUM FULL phoenix.agents, off-peak).
ALTER TABLE phoenix.agents SET (fillfactor = 50);

-- The outbox's rows are found by the relay through outbox_unpublished_idx (id, while unpublished)
-- and outbox_stream_idx (once they have a stream id), and every statement that names rows by id
-- also asks for unpublished ones; pruning takes rows by their place (sql/queries/outbox.sql). The
-- primary key on id served none of them, and as neither of the relay's two updates of a row can
-- be HOT, it cost an insert at the row's write and again at each update: three per event. The id
-- stays unique as it always was, by its identity (GENERATED ALWAYS: no statement can choose one),
-- and remains the events' stable event_id.
ALTER TABLE phoenix.outbox DROP CONSTRAINT outbox_pkey;
