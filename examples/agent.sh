#!/bin/sh
# An agent in any language, here sh + curl + jq: claims the board's tasks with its own agent token,
# renews the lease, posts a result; stops when nothing is left to claim.
#   PHOENIX_API=http://127.0.0.1:8470 PHOENIX_TOKEN=pbt_... ./agent.sh
# The token comes from the operator: phoenix-board tokens create --agent CODENAME
set -eu
API="${PHOENIX_API:-http://127.0.0.1:8470}/graphql"
: "${PHOENIX_TOKEN:?set PHOENIX_TOKEN to an agent token}"

# gql QUERY VARIABLES_JSON -> the response's data; an error is printed with its code and ends the script
gql() {
    body=$(jq -nc --arg q "$1" --argjson v "$2" '{query: $q, variables: $v}')
    # the token goes in a header read from stdin, so it shows in no process list
    answer=$(printf 'Authorization: Bearer %s\n' "$PHOENIX_TOKEN" |
        curl -sS -H @- -H 'Content-Type: application/json' --data "$body" "$API") || exit 1
    if ! printf '%s' "$answer" | jq -e 'type == "object"' >/dev/null 2>&1; then
        echo "agent.sh: not a GraphQL answer: $answer" >&2; exit 1
    fi
    if [ "$(printf '%s' "$answer" | jq '.errors | length')" != 0 ]; then
        printf '%s' "$answer" | jq -r '.errors[0] | "agent.sh: \(.extensions.code): \(.message)"' >&2
        exit 1
    fi
    printf '%s' "$answer" | jq -c '.data'
}

done_count=0
while :; do
    data=$(gql 'mutation { claim { id title attempt payload } }' '{}')
    task=$(printf '%s' "$data" | jq -c '.claim')
    [ "$task" = null ] && break
    id=$(printf '%s' "$task" | jq -r '.id')
    attempt=$(printf '%s' "$task" | jq -r '.attempt')  # the fencing token: every later call names it

    # the work takes a while: keep the claim alive, as a longer job would every few seconds
    gql 'mutation($id: ID!, $a: Int!) { renew(taskId: $id, attempt: $a, leaseSeconds: 60) { leaseExpiresAt } }' \
        "$(jq -nc --arg id "$id" --argjson a "$attempt" '{id: $id, a: $a}')" >/dev/null
    output=$(printf '%s' "$task" | jq -c '{answer: (.title | ascii_upcase), by: "agent.sh"}')

    gql 'mutation($id: ID!, $a: Int!, $o: JSON) { result(taskId: $id, attempt: $a, output: $o, quality: 0.9) { status } }' \
        "$(jq -nc --arg id "$id" --argjson a "$attempt" --argjson o "$output" '{id: $id, a: $a, o: $o}')" >/dev/null
    echo "completed $id"
    done_count=$((done_count + 1))
done
echo "nothing left to claim; completed $done_count"
