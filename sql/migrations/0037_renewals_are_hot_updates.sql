-- A lease renewal sets lease_expires_at and nothing else of the task row. tasks_lease_idx had that
-- column as its key, so no renewal could be a HOT update: each one wrote the whole row again and
-- an entry in every index the row is in (the primary key, tasks_new_idx, the lease index, the
-- BRIN of completed_at, and the idempotency key's two where it has one), every third of a lease
-- for every task at work: a thousand agents on long tasks renewed a hundred rows a second.
-- The in-flight tasks are as few as the agents holding them, so the readers of the lease index
-- (the lease sweep, the flow gates' in-flight counts, the board's filter on those statuses) read
-- them all through an index whose key a renewal does not change, and check the lease on the row.
DROP INDEX phoenix.tasks_lease_idx;
CREATE INDEX tasks_in_flight_idx ON phoenix.tasks (team) WHERE status IN ('claimed', 'in_progress');
-- A HOT update needs room on the row's own page. Left full by inserts, a page often had none when
-- its tasks were renewed (3 % of renewals in bench board still wrote index entries); a tenth of
-- each new page is kept for the versions that updates write there.
ALTER TABLE phoenix.tasks SET (fillfactor = 90);
