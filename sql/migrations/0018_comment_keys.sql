-- Comments take an optional idempotency key (README "Comments"), so that a client that retries a
-- comment after a lost reply, or a redelivered queue message, posts it once. Keys belong to their
-- author, as task keys belong to their submitter (0013): another agent's key is another comment.
ALTER TABLE phoenix.task_comments
    ADD COLUMN idempotency_key text
        CONSTRAINT task_comments_idempotency_key_length CHECK (length(idempotency_key) BETWEEN 1 AND 200);
-- comment_add: a key already used by its author returns that comment
CREATE UNIQUE INDEX task_comments_idempotency_key_idx ON phoenix.task_comments (agent_id, idempotency_key)
    WHERE idempotency_key IS NOT NULL;
-- comment_add gains the key (sql/functions/28_comments.sql makes the new one)
DROP FUNCTION IF EXISTS phoenix.comment_add(uuid, uuid, uuid, text, timestamptz);
