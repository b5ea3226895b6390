"""API errors: ``{"code": "UPPER_SNAKE", "message": "human sentence"}`` with a fitting status."""

from __future__ import annotations

import orjson
from aiohttp import web

from exchange.bus.base import EngineTimeout, Unavailable
from exchange.domain.reasons import HTTP_STATUS, Reason


class ApiError(Exception):
    """Raised anywhere in a handler; the error middleware turns it into the JSON answer."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers

    @classmethod
    def of(cls, reason: Reason, message: str) -> ApiError:
        return cls(HTTP_STATUS[reason], reason.value, message)


def invalid(message: str) -> ApiError:
    return ApiError(400, "INVALID_REQUEST", message)


#: 503 codes of the bus (docs/API.md, Errors): retry later; neither says the request was refused.
UNAVAILABLE = "UNAVAILABLE"  # the engine cannot be reached now (Redis down, reconnecting)
ENGINE_TIMEOUT = "ENGINE_TIMEOUT"  # no answer in time; the command normally did not run


def unavailable(message: str) -> ApiError:
    return ApiError(503, UNAVAILABLE, message, {"Retry-After": "1"})


def engine_timeout(message: str) -> ApiError:
    return ApiError(503, ENGINE_TIMEOUT, message, {"Retry-After": "1"})


def bus_error(exc: Unavailable | EngineTimeout) -> ApiError:
    """The API's answer to the bus failing a request (503, retry later)."""
    return unavailable(str(exc)) if isinstance(exc, Unavailable) else engine_timeout(str(exc))


def error_response(
    status: int, code: str, message: str, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        status=status,
        body=orjson.dumps({"code": code, "message": message}),
        content_type="application/json",
        headers=headers,
    )
