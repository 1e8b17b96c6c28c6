#!/bin/sh
# A program that hands the board a job and waits for its answer, with no consumer of its own:
# createTask(waitSeconds) returns when the task ends or the wait runs out.
#   PHOENIX_API=http://127.0.0.1:8470 PHOENIX_TOKEN=pbt_... ./submit_and_wait.sh TITLE TEAM [SECONDS]
# Prints the task's output (JSON) and exits 0 when it completed; 1 when it failed or the wait ran out.
set -eu
API="${PHOENIX_API:-http://127.0.0.1:8470}/graphql"
: "${PHOENIX_TOKEN:?set PHOENIX_TOKEN to an operator or agent token}"
[ $# -ge 2 ] || { echo "usage: submit_and_wait.sh TITLE TEAM [SECONDS]" >&2; exit 2; }

query='mutation($input: CreateTaskInput!, $wait: Float) {
  createTask(input: $input, waitSeconds: $wait) { ended task { id status output lastError } } }'
# an idempotency key: running this again after a timeout waits for the same task, never a second one
key="${PHOENIX_IDEMPOTENCY_KEY:-$(cat /proc/sys/kernel/random/uuid 2>/dev/null || date +%s%N)}"
body=$(jq -nc --arg q "$query" --arg title "$1" --arg team "$2" --arg key "$key" --argjson wait "${3:-60}" \
    '{query: $q, variables: {input: {title: $title, team: $team, idempotencyKey: $key}, wait: $wait}}')
answer=$(printf 'Authorization: Bearer %s\n' "$PHOENIX_TOKEN" |
    curl -sS -H @- -H 'Content-Type: application/json' --data "$body" "$API") || exit 1
if ! printf '%s' "$answer" | jq -e 'type == "object"' >/dev/null 2>&1; then
    echo "submit_and_wait.sh: not a GraphQL answer: $answer" >&2; exit 1
fi
if [ "$(printf '%s' "$answer" | jq '.errors | length')" != 0 ]; then
    printf '%s' "$answer" | jq -r '.errors[0] | "submit_and_wait.sh: \(.extensions.code): \(.message)"' >&2
    exit 1
fi
task=$(printf '%s' "$answer" | jq -c '.data.createTask.task')
case "$(printf '%s' "$task" | jq -r '.status')" in
    COMPLETE) printf '%s' "$task" | jq -c '.output' ;;
    FAILED|CANCELLED) printf '%s' "$task" | jq -r '"task \(.id) \(.status): \(.lastError // "")"' >&2; exit 1 ;;
    *) printf '%s' "$task" | jq -r '"task \(.id) still \(.status) after the wait; run again to wait more"' >&2; exit 1 ;;
esac
