"""The transports' edges: a websocket may sign in with its handshake's header, a bad one is closed
before anything runs; GET serves queries, never mutations."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
import websockets

from phoenix_board.api import client as api_client


def test_a_websocket_signs_in_with_its_handshake_header(api):
    token = api.token("reader")

    async def handshake(header: str) -> dict:
        async with websockets.connect(api_client.ws_url(api.base), subprotocols=["graphql-transport-ws"],
                                      additional_headers={"Authorization": header}, open_timeout=30) as ws:
            await ws.send(json.dumps({"type": "connection_init"}))
            return json.loads(await ws.recv())

    assert asyncio.run(handshake(f"Bearer {token}"))["type"] == "connection_ack"
    with pytest.raises(websockets.exceptions.InvalidStatus):  # refused before the upgrade
        asyncio.run(handshake("Bearer pbt_" + "y" * 43))


def test_get_serves_queries_but_never_mutations(api):
    token = api.token("operator")
    headers = {"Authorization": f"Bearer {token}"}
    r = httpx.get(f"{api.base}/graphql", params={"query": "{ teams { name } }"}, headers=headers, timeout=30)
    assert r.status_code == 200 and r.json()["data"]["teams"]
    q = "mutation { createTask(input: {title: \"by GET\", team: \"iota\"}) { created } }"
    r = httpx.get(f"{api.base}/graphql", params={"query": q}, headers=headers, timeout=30)
    assert r.status_code in (400, 405) and r.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    board = "{ taskBoard(team: \"iota\", sortBy: NEW) { nodes { title } } }"
    titles = [n["title"] for n in api.gql(board, None, token)["taskBoard"]["nodes"]]
    assert "by GET" not in titles
