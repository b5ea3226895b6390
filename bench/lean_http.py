"""A lean asyncio HTTP/1.1 keep-alive client over raw sockets, so a benchmark measures the server.

No aiohttp on this side: ``asyncio.open_connection``, one pre-built request written per round
trip, the status line and headers read up to ``\\r\\n\\r\\n`` and a ``Content-Length`` body. The
server must answer every request with a ``Content-Length`` (aiohttp's ``web.Response`` does).

``Signer`` pre-encodes everything of a signed request except what changes per request: the
timestamp, the HMAC (``exchange.signing.signature``), the body and its length.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import Callable

from exchange.signing import binance_signature, signature

_HEAD_END = b"\r\n\r\n"
_CONTENT_LENGTH = b"\r\ncontent-length:"


class HttpError(Exception):
    """The server answered something this client cannot frame, or closed the connection."""


def _content_length(head: bytes) -> int:
    at = head.lower().find(_CONTENT_LENGTH)
    if at < 0:
        raise HttpError(f"answer without Content-Length: {head[:200]!r}")
    start = at + len(_CONTENT_LENGTH)
    return int(head[start : head.index(b"\r\n", start)])


class Connection:
    """One keep-alive TCP connection; ``roundtrip`` sends one request and reads its answer."""

    __slots__ = ("_reader", "_writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> Connection:
        reader, writer = await asyncio.open_connection(host, port)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return cls(reader, writer)

    async def roundtrip(self, request: bytes) -> tuple[int, bytes]:
        """Write ``request`` and return (status, body) of the answer."""
        self._writer.write(request)
        try:
            head = await self._reader.readuntil(_HEAD_END)
            length = _content_length(head)
            body = await self._reader.readexactly(length) if length else b""
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
            raise HttpError(f"connection closed or answer too large: {exc!r}") from exc
        return int(head[9:12]), body

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


async def wait_ready(host: str, port: int, probe: bytes, alive: Callable[[], bool], timeout_s: float) -> bool:
    """Send ``probe`` every 0.1 s until it answers 200 (True), the server dies or time runs out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        try:
            conn = await Connection.open(host, port)
            status, _ = await conn.roundtrip(probe)
            await conn.close()
            if status == 200:
                return True
        except (OSError, HttpError):
            pass
        await asyncio.sleep(0.1)
    return False


def plain_request(method: str, path: str, host: str, body: bytes = b"") -> bytes:
    """An unsigned request (health probes, the floor's warm-up)."""
    head = f"{method} {path} HTTP/1.1\r\nHost: {host}\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


class Signer:
    """Builds HMAC-signed requests for one API key; header prefixes are encoded once per route."""

    __slots__ = ("_host", "_prefixes", "_secret", "api_key")

    def __init__(self, host: str, api_key: str, secret: str) -> None:
        self._host = host
        self._secret = secret
        self._prefixes: dict[tuple[str, str], bytes] = {}
        self.api_key = api_key

    def _prefix(self, method: str, path: str) -> bytes:
        prefix = self._prefixes.get((method, path))
        if prefix is None:
            prefix = (
                f"{method} {path} HTTP/1.1\r\nHost: {self._host}\r\nContent-Type: application/json\r\n"
                f"X-API-KEY: {self.api_key}\r\nContent-Length: "
            ).encode()
            self._prefixes[method, path] = prefix
        return prefix

    def request(self, method: str, path: str, body: bytes) -> bytes:
        """The full request bytes, signed now: only the timestamp and the HMAC are computed."""
        ts = str(time.time_ns() // 1_000_000)
        sig = signature(self._secret, ts, method, path, body)
        return b"".join((
            self._prefix(method, path), str(len(body)).encode(), b"\r\nX-TIMESTAMP: ", ts.encode(),
            b"\r\nX-SIGNATURE: ", sig.encode(), _HEAD_END, body,
        ))  # fmt: skip


class BinanceSigner:
    """Builds Binance-signed requests (``/api/v3``) for one API key: the parameters, then
    ``timestamp`` and ``signature`` (HMAC of query + body), in a form body on POST and in the
    query string otherwise, as ccxt sends them."""

    __slots__ = ("_host", "_secret", "api_key")

    def __init__(self, host: str, api_key: str, secret: str) -> None:
        self._host = host
        self._secret = secret
        self.api_key = api_key

    def request(self, method: str, path: str, params: str) -> bytes:
        signed = f"{params}&timestamp={time.time_ns() // 1_000_000}"
        signed += f"&signature={binance_signature(self._secret, signed)}"
        head = f"{method} {path}"
        if method == "POST":
            body = signed.encode()
            extra = f"Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {len(body)}\r\n"
        else:
            head, body, extra = f"{head}?{signed}", b"", ""
        return (
            f"{head} HTTP/1.1\r\nHost: {self._host}\r\nX-MBX-APIKEY: {self.api_key}\r\n{extra}\r\n".encode()
            + body
        )
