-- Statements on phoenix.schema_version (the migrations applied; board/migrate.py writes it).

-- name: schema_versions_applied
-- The migrations applied, by file name: the API's /readyz compares them with those it ships.
SELECT version FROM phoenix.schema_version ORDER BY version;
