-- Votes and comments on the event stream (docs/concepts/event-stream.md): task.voted (a vote on a
-- task or on one of its comments) and task.commented (a comment or reply), one outbox row each,
-- written by phoenix.task_vote, phoenix.comment_vote and phoenix.comment_add in the transaction
-- of the vote or comment, so an open page follows them without re-reading (web/static/web.js).
ALTER TABLE phoenix.outbox DROP CONSTRAINT outbox_topic;
ALTER TABLE phoenix.outbox ADD CONSTRAINT outbox_topic CHECK (
    topic IN ('task.created', 'task.completed', 'task.updated', 'task.voted', 'task.commented',
              'consciousness.update', 'hormone.cascade'));
