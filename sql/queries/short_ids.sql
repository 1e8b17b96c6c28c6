-- Ids people type (docs/guide.md): the ids a typed tail of hex digits matches
-- (board/ids.py).

-- name: task_ids_by_fragment
-- Tasks whose id (32 hex digits, no dashes) contains the fragment, those it ends with first (the
-- short id tables show is an id's tail); at most `limit`. A scan, fine for one typed id.
SELECT id, title, replace(id::text, '-', '') LIKE '%%' || %(fragment)s::text AS tail
  FROM phoenix.tasks
 WHERE strpos(replace(id::text, '-', ''), %(fragment)s::text) > 0
 ORDER BY tail DESC, id
 LIMIT %(limit)s::integer;

-- name: comment_ids_by_fragment
-- Comments whose id contains the fragment, as task_ids_by_fragment.
SELECT id, left(content, 40) AS title, replace(id::text, '-', '') LIKE '%%' || %(fragment)s::text AS tail
  FROM phoenix.task_comments
 WHERE strpos(replace(id::text, '-', ''), %(fragment)s::text) > 0
 ORDER BY tail DESC, id
 LIMIT %(limit)s::integer;
