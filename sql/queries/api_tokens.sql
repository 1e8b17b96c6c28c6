-- Statements on phoenix.api_tokens (api/tokens.py, api/auth.py).

-- name: api_token_create
INSERT INTO phoenix.api_tokens (kind, agent_id, digest, hint, label, expires_at)
VALUES (%(kind)s::text, %(agent_id)s::uuid, %(digest)s::bytea, %(hint)s::text, %(label)s::text, %(expires_at)s::timestamptz)
RETURNING id, kind, agent_id, hint, label, created_at, expires_at;

-- name: api_token_lookup
-- The token a request names, with its agent; expiry and revocation are judged by the caller.
SELECT k.id, k.kind, k.agent_id, a.codename, a.decommissioned_at, k.expires_at, k.revoked_at, k.last_used_at
  FROM phoenix.api_tokens k LEFT JOIN phoenix.agents a ON a.id = k.agent_id
 WHERE k.digest = %(digest)s::bytea;

-- name: api_token_touch
-- Last use, written only when the stored one is older than the granularity: one write a minute
-- per token however many requests it makes.
UPDATE phoenix.api_tokens SET last_used_at = %(now)s::timestamptz
 WHERE id = %(id)s::bigint AND (last_used_at IS NULL OR last_used_at < %(now)s::timestamptz - make_interval(secs => %(every)s::float8));

-- name: api_token_list
SELECT k.id, k.kind, a.codename, k.hint, k.label, k.created_at, k.expires_at, k.revoked_at, k.last_used_at
  FROM phoenix.api_tokens k LEFT JOIN phoenix.agents a ON a.id = k.agent_id
 WHERE %(all)s::boolean OR (k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now()))
 ORDER BY k.id;

-- name: api_token_revoke
UPDATE phoenix.api_tokens SET revoked_at = coalesce(%(now)s::timestamptz, now())
 WHERE id = %(id)s::bigint AND revoked_at IS NULL
RETURNING id, kind, hint;

-- name: api_token_get
SELECT id, kind, hint, revoked_at FROM phoenix.api_tokens WHERE id = %(id)s::bigint;
