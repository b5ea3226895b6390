"""How a native operation is declared: once, in web/spec/operations.py, from which routes.py
registers the route and openapi.py writes its entry, so neither can exist without the other.

An operation names the error codes its handler raises itself; the codes that come with its
kind (any request may meet a bug, a signed or cookie request may be refused or rate limited,
a body may be too large or not JSON, a trip to the engine may find it busy) are added here,
once. Every code is a key of the catalogue (web/errors.py), which gives its status.
"""

from __future__ import annotations

import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from exchange.web.errors import CATALOGUE
from exchange.web.queries import Query

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Auth(enum.Enum):
    NONE = "none"
    #: A signed request (API key) or the session cookie (+ X-CSRF-Token unless GET).
    KEY_OR_SESSION = "key-or-session"
    #: Either, or nothing (logout: without a session it answers all the same).
    OPTIONAL = "optional"
    #: As KEY_OR_SESSION, and the account must be an operator (else 403): the admin routes.
    OPERATOR = "operator"


BUG = ("INTERNAL",)
BODY = ("UNSUPPORTED_MEDIA_TYPE", "PAYLOAD_TOO_LARGE")
AUTHENTICATED = ("UNAUTHORIZED", "RATE_LIMITED")
CSRF = ("FORBIDDEN",)
#: An authenticated caller who is not an operator (web/auth.py:authenticate_operator).
NOT_OPERATOR = ("FORBIDDEN",)
#: The trip to the engine (web/common.py:execute) and the reads a gateway asks it for.
ENGINE = ("OVERLOADED", "UNAVAILABLE", "ENGINE_TIMEOUT")
READS = ("UNAVAILABLE", "ENGINE_TIMEOUT")
#: Every reason the engine may refuse an order command with (domain/rules.py).
ORDER_RULES = (
    "INVALID_REQUEST", "UNKNOWN_SYMBOL", "INVALID_PRICE", "INVALID_QUANTITY", "MIN_NOTIONAL",
    "INSUFFICIENT_FUNDS", "DUPLICATE_CLIENT_ORDER_ID", "POST_ONLY_WOULD_TAKE", "MARKET_CLOSED",
    "DUPLICATE_REQUEST",
)  # fmt: skip
SAFE = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Operation:
    method: str
    #: Under /api/v1, as aiohttp spells it (``/apikeys/{api_key}``).
    path: str
    handler: Handler
    operation_id: str
    summary: str
    tag: str
    auth: Auth
    #: The type of a 2xx answer's body (web/spec/responses.py).
    response: Any
    #: Codes the handler itself may answer, beyond those of its kind (``codes``).
    errors: tuple[str, ...] = ()
    #: The body's Struct (web/schemas.py); ``body_required`` False: an empty body is fine.
    body: type | None = None
    body_required: bool = True
    #: The query's Struct (web/queries.py), read by the handler through ``queries.read``.
    query: type[Query] | None = None
    status: int = 200
    description: str = ""
    #: Request examples by name: {"limit": {...}}; a response example: ``response_example``.
    examples: dict[str, Any] = field(default_factory=dict)
    response_example: Any = None
    #: OpenAPI links from the 2xx answer (name -> Link object).
    links: dict[str, Any] = field(default_factory=dict)
    #: Response headers of the 2xx answer (name -> Header object), e.g. Set-Cookie.
    headers: dict[str, Any] = field(default_factory=dict)

    def codes(self) -> tuple[str, ...]:
        """Every code this operation may answer, in the catalogue's order."""
        wanted = set(self.errors) | set(BUG)
        if self.method not in SAFE:
            wanted |= set(BODY)
        if self.auth is not Auth.NONE:
            wanted |= set(AUTHENTICATED)
            if self.method not in SAFE:
                wanted |= set(CSRF)
        if self.auth is Auth.OPERATOR:
            wanted |= set(NOT_OPERATOR)
        unknown = wanted - CATALOGUE.keys()
        if unknown:
            raise ValueError(f"{self.operation_id}: codes not in the catalogue: {sorted(unknown)}")
        return tuple(code for code in CATALOGUE if code in wanted)
