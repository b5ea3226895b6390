"""The AsyncAPI 3 document of the native WebSocket ``/ws``, from the frame Structs.

One channel, the socket, carries every message. From the server's side: each method is an
operation it receives, with its answer or an error frame as the reply; each stream is an
operation it sends. Schemas come from web/spec/frames.py (and the request bodies of
web/schemas.py, which the socket's order methods decode with); error codes from the catalogue.
"""

from __future__ import annotations

from typing import Any

from exchange.web.errors import CATALOGUE
from exchange.web.spec.components import package_version, schemas
from exchange.web.spec.declare import Operation
from exchange.web.spec.frames import METHODS, STREAMS, ErrorAnswer

REF = "#/components/schemas/"
CHANNEL = {"$ref": "#/channels/socket"}
#: What any request may be answered (a malformed frame, the connection's rate).
EVERY_REQUEST = ("INVALID_REQUEST", "RATE_LIMITED")


def message_name(method: str) -> str:
    """``ORDER.CANCEL_ALL`` -> ``OrderCancelAll``."""
    return "".join(part.capitalize() for part in method.replace(".", "_").split("_"))


def document(operations: tuple[Operation, ...]) -> dict[str, Any]:
    rest = {op.operation_id: op for op in operations}
    names, types = ["Error"], [ErrorAnswer]
    for method, m in METHODS.items():
        names += [message_name(method) + "Request", message_name(method) + "Result"]
        types += [m.request, m.result]
    for name, kind in STREAMS.items():
        names.append(name + "Stream")
        types.append(kind.frame)
    refs, components = schemas(types, names, REF)
    ref_of = dict(zip(names, refs, strict=True))
    unread = "An error answer: `id` null when the frame could not be read"
    messages: dict[str, Any] = {"Error": _message("Error", unread, ref_of["Error"])}
    ops: dict[str, Any] = {}
    for method, m in METHODS.items():
        request, result = message_name(method) + "Request", message_name(method) + "Result"
        # The Struct says ``method: str``; each method's message pins its text.
        pinned = {"allOf": [ref_of[request], {"properties": {"method": {"const": method}}}]}
        messages[request] = _message(request, method, pinned)
        messages[result] = _message(result, f"The answer to {method}", ref_of[result])
        codes = set(EVERY_REQUEST) | set(m.codes) | (set(rest[m.rest].errors) if m.rest else set())
        ordered = [code for code in CATALOGUE if code in codes]
        ops[message_name(method)] = {
            "action": "receive", "channel": CHANNEL, "summary": method,
            "messages": [_in_channel(request)],
            "reply": {"channel": CHANNEL, "messages": [_in_channel(result), _in_channel("Error")]},
            "x-error-codes": ordered,
            "description": "Error codes: " + ", ".join(f"`{c}` ({CATALOGUE[c].status})" for c in ordered),
        }  # fmt: skip
    for name, kind in STREAMS.items():
        stream = name + "Stream"
        messages[stream] = _message(stream, f"`{kind.name}`: {kind.sent}", ref_of[stream])
        ops[name] = {"action": "send", "channel": CHANNEL, "summary": f"{kind.name}: {kind.sent}",
                     "messages": [_in_channel(stream)]}  # fmt: skip
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "Exchange native WebSocket",
            "version": package_version(),
            "description": "One socket at `/ws` carries market streams, private streams and order "
            "entry (docs/API.md, WebSocket). Frames are JSON text. A browser's session cookie "
            "authenticates the socket when it opens; otherwise send AUTH.",
        },
        "defaultContentType": "application/json",
        "channels": {"socket": {"address": "/ws", "messages": {n: {"$ref": f"#/components/messages/{n}"}
                                                                for n in messages}}},
        "operations": ops,
        "components": {"schemas": components, "messages": messages},
    }  # fmt: skip


def _message(name: str, summary: str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "summary": summary, "contentType": "application/json", "payload": payload}


def _in_channel(name: str) -> dict[str, str]:
    return {"$ref": f"#/channels/socket/messages/{name}"}
