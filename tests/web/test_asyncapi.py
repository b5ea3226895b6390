"""The AsyncAPI document against a live ``/ws``: its structure, and real frames (answers, errors,
every stream) held to the frame Structs and to the served message schemas.

One app per module; one socket, authenticated with AUTH, subscribes to every stream, sends
every method and a malformed frame, and trades, while a reader keeps every frame it gets.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import msgspec
import orjson
import pytest
import pytest_asyncio
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from exchange.client import Client
from exchange.signing import ws_auth_signature
from exchange.web.spec.asyncapi import message_name
from exchange.web.spec.frames import METHODS, STREAMS, ErrorAnswer
from tests.waiting import until
from tests.web.conftest import serve, trader

SOL = "SOL_USDC"
pytestmark = pytest.mark.asyncio(loop_scope="module")
#: Stream name -> its message name in the document.
SUBSCRIBED = {
    f"depth@{SOL}": "Depth", f"depth@{SOL}@100ms": "Depth100ms", f"trade@{SOL}": "Trade",
    f"ticker@{SOL}": "Ticker", f"bookTicker@{SOL}": "BookTicker", f"kline.1m@{SOL}": "Kline",
    "orders": "Orders", "balances": "Balances",
}  # fmt: skip


class Scene(msgspec.Struct):
    document: dict[str, Any]
    #: (message name in the document, the frame) for every request sent and frame received.
    sent: list[tuple[str, Any]]
    received: list[tuple[str, Any]]


class Socket:
    """One /ws connection that names every frame it sends and gets by its document message."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws, self.sent, self.received = ws, list[tuple[str, Any]](), list[tuple[str, Any]]()
        self.methods: dict[int, str] = {}
        self.next_id = 0

    async def ask(self, method: str, params: Any = None) -> None:
        self.next_id += 1
        request: dict[str, Any] = {"method": method, "id": self.next_id}
        if params is not None:
            request["params"] = params
        self.methods[self.next_id] = method
        self.sent.append((message_name(method) + "Request", request))
        await self.ws.send_str(orjson.dumps(request).decode())
        await until(lambda: any(f.get("id") == self.next_id for _, f in self.received))

    async def read(self) -> None:
        async for msg in self.ws:
            frame = orjson.loads(msg.data)
            if "stream" in frame:
                self.received.append((SUBSCRIBED[frame["stream"]] + "Stream", frame))
            elif "error" in frame:
                self.received.append(("Error", frame))
            else:
                self.received.append((message_name(self.methods[frame["id"]]) + "Result", frame))

    def seen(self) -> set[str]:
        return {name for name, _ in self.received}


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def scene(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Scene]:
    server, base_url = await serve(tmp_path_factory.mktemp("asyncapi"))
    maker, taker = await trader(base_url, "maker"), await trader(base_url, "taker")
    try:
        async with aiohttp.ClientSession() as http, http.ws_connect(base_url + "/ws") as ws:
            socket = Socket(ws)
            reader = asyncio.create_task(socket.read())
            await _session(socket, maker, taker)
            await until(lambda: {n + "Stream" for n in SUBSCRIBED.values()} <= socket.seen())
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
            document = await taker.request("GET", "/api/v1/asyncapi.json")
        yield Scene(document, socket.sent, socket.received)
    finally:
        await maker.close()
        await taker.close()
        await server.close()


async def _session(socket: Socket, maker: Client, taker: Client) -> None:
    """Every method, an error, and a trade that moves every stream."""
    await socket.ws.send_str("not json")  # answered {"id": null, "error": ...}
    await until(lambda: "Error" in socket.seen())
    assert taker.api_key and taker.secret
    stamp = time.time_ns() // 1_000_000
    await socket.ask("AUTH", {"apiKey": taker.api_key, "timestamp": stamp,
                              "signature": ws_auth_signature(taker.secret, stamp)})  # fmt: skip
    await socket.ask("SUBSCRIBE", list(SUBSCRIBED))
    await socket.ask("LIST_SUBSCRIPTIONS")
    await maker.place_order(SOL, "sell", price="100", quantity="5")
    await socket.ask("ORDER.PLACE", {"symbol": SOL, "side": "buy", "type": "limit", "price": "100",
                                     "quantity": "1"})  # fmt: skip
    await socket.ask("ORDER.PLACE", {"symbol": SOL, "side": "buy", "type": "limit", "price": "90",
                                     "quantity": "2", "clientOrderId": "bid-1"})  # fmt: skip
    await socket.ask("ORDER.AMEND", {"symbol": SOL, "clientOrderId": "bid-1", "quantity": "1"})
    await socket.ask("ORDER.CANCEL", {"symbol": SOL, "clientOrderId": "bid-1"})
    await socket.ask("ORDER.CANCEL_ALL")
    await socket.ask("ORDER.CANCEL", {"symbol": SOL, "orderId": "999"})  # ORDER_NOT_FOUND
    await socket.ask("UNSUBSCRIBE", [f"trade@{SOL}"])


async def test_every_method_stream_and_error_was_seen(scene: Scene) -> None:
    expected = {message_name(m) + "Result" for m in METHODS} | {n + "Stream" for n in STREAMS} | {"Error"}
    assert {name for name, _ in scene.received} == expected
    assert {name for name, _ in scene.sent} == {message_name(m) + "Request" for m in METHODS}


async def test_real_frames_decode_strictly_into_their_structs(scene: Scene) -> None:
    types: dict[str, Any] = {"Error": ErrorAnswer}
    for method, m in METHODS.items():
        types[message_name(method) + "Request"], types[message_name(method) + "Result"] = m.request, m.result
    for name, kind in STREAMS.items():
        types[name + "Stream"] = kind.frame
    for name, frame in scene.sent + scene.received:  # from the JSON text: amounts are raw JSON
        msgspec.json.decode(orjson.dumps(frame), type=types[name], strict=True)


async def test_real_frames_validate_against_the_served_message_schemas(scene: Scene) -> None:
    registry = Registry().with_resource("urn:doc", Resource.from_contents(scene.document, DRAFT202012))
    for name, frame in scene.sent + scene.received:
        schema = {"$ref": f"urn:doc#/components/messages/{name}/payload"}
        errors = list(Draft202012Validator(schema, registry=registry).iter_errors(frame))
        assert not errors, (name, frame, errors[0].message)
    wrong = {"method": "SUBSCRIBE", "params": ["orders"], "id": 1}
    schema = {"$ref": "urn:doc#/components/messages/AuthRequest/payload"}
    assert not Draft202012Validator(schema, registry=registry).is_valid(wrong)  # the method is pinned


async def test_structure_every_ref_resolves_and_every_message_has_a_payload(scene: Scene) -> None:
    doc = scene.document
    assert doc["asyncapi"] == "3.0.0" and doc["info"]["version"]
    for ref in _refs(doc):
        _resolve(doc, ref)  # KeyError names the broken one
    channel_messages = doc["channels"]["socket"]["messages"]
    assert set(channel_messages) == set(doc["components"]["messages"])
    for message in doc["components"]["messages"].values():
        assert message["payload"] and message["contentType"] == "application/json"
    for name, op in doc["operations"].items():
        assert op["action"] in ("send", "receive") and op["channel"] == {"$ref": "#/channels/socket"}, name
        assert op["messages"], name
        for ref in op["messages"] + op.get("reply", {}).get("messages", []):
            assert ref["$ref"].startswith("#/channels/socket/messages/"), name
    codes = doc["operations"]["OrderPlace"]["x-error-codes"]
    assert {"INSUFFICIENT_FUNDS", "UNAUTHORIZED", "RATE_LIMITED"} <= set(codes)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


def _resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node
