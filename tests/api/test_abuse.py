"""Bad input and abuse at the endpoint: limits on depth, cost, aliases and page size, and fuzzing
with hypothesis as tests/fuzz does for the command line. Every refusal is a GraphQL error with a
known ``extensions.code`` (never INTERNAL), in one line, and writes nothing."""

from __future__ import annotations

import json
import string

import httpx
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from phoenix_board.board import models
from tests.conftest import snapshot
from tests.strategies import bad_submissions, bad_votes, fuzz_settings

KNOWN = {"UNAUTHENTICATED", "FORBIDDEN", "NOT_FOUND", "INVALID_INPUT", "CONFLICT", "ILLEGAL_TRANSITION", "STALE_CLAIM",
         "QUERY_TOO_COMPLEX", "GRAPHQL_PARSE_FAILED", "GRAPHQL_VALIDATION_FAILED", "RATE_LIMITED", "BODY_TOO_LARGE", "BAD_REQUEST"}
CREATE = "mutation($input: CreateTaskInput!) { createTask(input: $input) { task { id } } }"


@pytest.fixture(scope="module")
def operator(api) -> str:
    return api.token("operator")


def refused(r: httpx.Response) -> list[dict]:
    """The response's errors, each with a known code and a one-line message."""
    assert r.status_code in (200, 400, 401, 413), (r.status_code, r.text[:500])
    body = r.json()
    assert body.get("errors"), body
    for err in body["errors"]:
        assert err["extensions"]["code"] in KNOWN, err
        assert err["message"] and "\n" not in err["message"], err
    return body["errors"]


def test_too_deep_too_costly_too_many_aliases_and_too_big_a_page(api, operator):
    deep = "{ taskBoard { nodes { task { dependencies { dependencies { dependencies { dependencies { dependencies { id } } } } } } } } }"
    costly = ("{ taskBoard(first: 500) { nodes { task { votes { codename } comments { content } history { kind } "
              "reviews { verdict } delegationTree { id } } } } }")
    aliases = "{ " + " ".join(f"a{i}: teams {{ name }}" for i in range(31)) + " }"
    for query in (deep, costly, aliases):
        errs = refused(api.post(query, token=operator))
        assert [e["extensions"]["code"] for e in errs] == ["QUERY_TOO_COMPLEX"], errs
    errs = refused(api.post("{ taskBoard(first: 501) { nodes { id } } }", token=operator))
    assert errs[0]["extensions"]["code"] == "INVALID_INPUT" and "500" in errs[0]["message"]


def test_parse_and_validation_failures_and_fragment_cycles(api, operator):
    assert refused(api.post("{ teams { name ", token=operator))[0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
    assert refused(api.post("{ nope }", token=operator))[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    cycle = "query { taskBoard { nodes { ...A } } } fragment A on BoardTask { task { id } ...B } " \
            "fragment B on BoardTask { ...A }"
    assert refused(api.post(cycle, token=operator))[0]["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    # fragments spread twice at each of 25 levels: measured once each, not 2**25 times
    frags = " ".join(f"fragment F{i} on Team {{ ...F{i + 1} ...F{i + 1} }}" for i in range(25))
    wide = "{ teams { ...F0 } } " + frags + " fragment F25 on Team { name }"
    assert refused(api.post(wide, token=operator))[0]["extensions"]["code"] in ("QUERY_TOO_COMPLEX",
                                                                                 "GRAPHQL_VALIDATION_FAILED")


def test_malformed_requests(api, operator):
    headers = {"Authorization": f"Bearer {operator}", "Content-Type": "application/json"}
    # b"\xff\xfe" reads as UTF-16 and fails as JSON; the next two are UTF-8 with a byte that is not
    # (a 500 before: json.loads raised UnicodeDecodeError, which Strawberry does not catch)
    for body in (b"{", b"[]", b'{"query": 1}', b'{"query": "{ teams { name } }", "variables": []}', b"\xff\xfe",
                 b'{"query": "{ teams { name } }"\xff}', b'{"query": "{ teams { na\xc3me } }"}'):
        refused(httpx.post(f"{api.base}/graphql", content=body, headers=headers, timeout=30))
    deep = ("[" * 100_000 + "]" * 100_000).encode()
    r = httpx.post(f"{api.base}/graphql", content=b'{"query": "{ teams { name } }", "variables": {"v": ' + deep + b"}}",
                   headers=headers, timeout=30)
    assert r.status_code in (400, 413), r.status_code
    assert refused(r)[0]["extensions"]["code"] in ("BAD_REQUEST", "BODY_TOO_LARGE")


def _send(api, token: str, query: str, variables: object) -> httpx.Response:
    try:
        body = json.dumps({"query": query, "variables": variables}, default=str)
    except (RecursionError, TypeError, ValueError):  # no JSON can say it (tuple keys, 10**400, 10,000 levels)
        assume(False)
    return httpx.post(f"{api.base}/graphql", content=body.encode("utf-8", "surrogatepass"),
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"}, timeout=60)


INT_FIELDS = {"priority", "max_attempts", "review_quorum", "fibonacci_size"}


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(p.title() for p in rest)


@fuzz_settings(60)
@given(data=bad_submissions())
def test_fuzzed_submissions_are_refused_and_write_nothing(api, operator, api_sql, data):
    given_data = data
    if isinstance(data, dict):  # the board's field names as the schema spells them
        data = {_camel(k) if isinstance(k, str) else k: v for k, v in data.items()}
    before = snapshot(api_sql)
    r = _send(api, operator, CREATE, {"input": data})
    if r.status_code == 200 and not r.json().get("errors"):
        # JSON made it valid (an int key is a text key there) or a field is null, which the schema
        # takes as left out: the board must agree that what is left is valid
        sent = json.loads(json.dumps(given_data, default=str))
        # and GraphQL's Int takes 1.0 as 1
        sent = {k: int(v) if k in INT_FIELDS and isinstance(v, float) and v.is_integer() else v for k, v in sent.items()}
        models.parse(models.TaskSubmit, {k: v for k, v in sent.items() if v is not None})
        return
    refused(r)
    assert snapshot(api_sql) == before


@fuzz_settings(30)
@given(value=bad_votes, task=st.one_of(st.text(max_size=40), st.just("00000000-0000-0000-0000-000000000001")))
def test_fuzzed_votes_are_refused_and_write_nothing(api, operator, api_sql, value, task):
    before = snapshot(api_sql)
    q = "mutation($t: ID!, $v: Int!) { voteTask(taskId: $t, vote: $v, agent: \"nobody-here\") { score } }"
    refused(_send(api, operator, q, {"t": task, "v": value}))
    assert snapshot(api_sql) == before


GRAPHQL_BITS = st.sampled_from(["{", "}", "(", ")", ":", "$", "...", "@", "!", "[", "]", "=", '"', "query", "mutation",
                                "subscription", "fragment", "on", "taskBoard", "task", "createTask", "claim", "nodes",
                                "id", "first", "500", "-1", "1e400", "null", "true", " ", "\n", "#", "\\u0000"])


@fuzz_settings(60)
@given(parts=st.lists(st.one_of(GRAPHQL_BITS, st.text(string.printable, max_size=5)), max_size=40))
def test_fuzzed_documents_never_break_the_server(api, operator, api_sql, parts):
    before = snapshot(api_sql)
    r = _send(api, operator, "".join(parts), {})
    if r.status_code == 200 and not r.json().get("errors"):
        return  # a valid read-only document: nothing to refuse
    refused(r)
    assert snapshot(api_sql) == before
