"""Every limit a client can meet, in one struct: its default, unit and meaning.

``Limits`` is the one source: the CLI generates one option per field (``--rate-per-s``), the
venue TOML may set any of them in a ``[limits]`` table, docs/API.md's Limits table is rendered
from it (``python -m exchange limits --write docs/API.md``), ``GET /api/v1/limits`` and the
OpenAPI ``info`` (``limits_json``) announce it, and the Binance face's ``rateLimits`` read it.
Precedence: the defaults here, then ``[limits]`` in the file, then ``--bench-limits``, then
each option given on the command line.

The per-asset onramp caps are not here: they are amounts of one asset each, so they stay in the
venue TOML (``assets.NAME.onrampLimit``); the rendered table has a row saying so.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, NamedTuple

import msgspec

from exchange.domain.markets import ConfigError

__all__ = [
    "Limit", "Limits", "bench_limits", "describe", "limits_json", "load_limits", "markdown_table",
    "replace_table", "table_in",
]  # fmt: skip

#: What ``--bench-limits`` sets every per-user, per-address and per-connection rate to: far
#: above what one machine can send, so a benchmark measures the server, never its limiter.
BENCH = 1_000_000_000


def _meta(unit: str, description: str, *, bench: bool = False, ge: int = 1) -> msgspec.Meta:
    """A field's docs and bounds: at least ``ge`` (an integer), above 0 for a rate (a float)."""
    extra = {"unit": unit, "bench": bench}
    if unit.endswith("/s"):
        return msgspec.Meta(gt=0, description=description, extra=extra)
    return msgspec.Meta(ge=ge, description=description, extra=extra)


class Limits(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The limits of one process (every process of a cluster should be given the same)."""

    # -- per user ------------------------------------------------------------------------------
    rate_per_s: Annotated[
        float,
        _meta(
            "requests/s",
            "private requests per user, sustained (every authenticated REST route, WebSocket "
            "`ORDER.*`, the Binance face's signed requests; all keys and sessions of the user together); "
            "past it 429 `RATE_LIMITED` with `Retry-After`",
            bench=True,
        ),
    ] = 1000.0
    rate_burst: Annotated[
        int, _meta("requests", "the burst of private requests per user (token bucket)", bench=True)
    ] = 2000
    api_keys_per_user: Annotated[
        int, _meta("keys", "live API keys per user (revoke one to make another)")
    ] = 20
    session_lifetime_s: Annotated[int, _meta("s", "a browser session's lifetime from login (7 days)")] = (
        7 * 24 * 3600
    )
    signing_window_ms: Annotated[
        int,
        _meta(
            "ms",
            "how far a signed request's timestamp (REST `X-TIMESTAMP`, WebSocket `AUTH`) may be from "
            "the server clock, either way",
        ),
    ] = 5000
    # -- per client address --------------------------------------------------------------------
    auth_rate_per_s: Annotated[
        float,
        _meta(
            "attempts/s",
            "signup and login attempts per client address, sustained (together, failed or not); "
            "past it 429 with `Retry-After`",
            bench=True,
        ),
    ] = 1.0
    auth_burst: Annotated[
        int, _meta("attempts", "the burst of signup and login attempts per client address", bench=True)
    ] = 10
    max_body: Annotated[int, _meta("bytes", "a request body (413 `PAYLOAD_TOO_LARGE` past it)", ge=1024)] = (
        64 * 1024
    )
    # -- per WebSocket connection (`/ws`, `/binance/ws`, `/ws-api/v3`) ------------------
    ws_messages_per_s: Annotated[
        float,
        _meta(
            "messages/s",
            "messages per WebSocket connection (`/ws` and the Binance face's), sustained; at least "
            "`rate_per_s`, so a user's orders on one socket meet the user's limit first; past it an "
            "error answer `RATE_LIMITED`",
            bench=True,
        ),
    ] = 1000.0
    ws_burst: Annotated[
        int,
        _meta("messages", "the burst of messages per connection; at least `rate_burst`", bench=True),
    ] = 2000
    ws_refusals: Annotated[
        int, _meta("messages", "refused messages after which a connection is closed (1008)")
    ] = 200
    ws_frame_bytes: Annotated[int, _meta("bytes", "an incoming WebSocket message", ge=1024)] = 64 * 1024
    ws_outbox: Annotated[
        int,
        _meta(
            "frames",
            "frames waiting to be written to a connection, past which its reader is a slow consumer "
            "and is closed (1008)",
        ),
    ] = 5000
    ws_streams: Annotated[int, _meta("streams", "streams per `/ws` connection")] = 100
    # -- the Binance face (docs/BINANCE.md) ----------------------------------------------------
    binance_weight_per_min: Annotated[
        int,
        _meta(
            "weight/min",
            "Binance face: request weight per client address per minute (`REQUEST_WEIGHT` in "
            "`rateLimits`; -1003 past it)",
            bench=True,
        ),
    ] = 6000
    binance_orders_per_10s: Annotated[
        int,
        _meta(
            "orders/10 s",
            "Binance face: new orders per account per 10 s (`ORDERS` in `rateLimits`; -1015 past it)",
            bench=True,
        ),
    ] = 100
    recv_window_default_ms: Annotated[
        int, _meta("ms", "Binance face: the `recvWindow` of a signed request that names none")
    ] = 5000
    recv_window_max_ms: Annotated[
        int, _meta("ms", "Binance face: the largest `recvWindow` taken (-1131 past it)")
    ] = 60000
    binance_streams: Annotated[
        int, _meta("streams", "Binance face: streams per `/binance/ws` connection")
    ] = 1024
    binance_subscriptions: Annotated[
        int,
        _meta("subscriptions", "Binance face: user data stream subscriptions per WebSocket API connection"),
    ] = 1000


class Limit(NamedTuple):
    """One field of ``Limits`` as the CLI, the docs and the announcements read it."""

    name: str
    type: type
    default: Any
    unit: str
    description: str
    bench: bool


def describe() -> list[Limit]:
    """Every field of ``Limits``, in order, read from its annotation."""
    info = msgspec.inspect.type_info(Limits)
    assert isinstance(info, msgspec.inspect.StructType)
    out = []
    for f in info.fields:
        meta = f.type
        assert isinstance(meta, msgspec.inspect.Metadata) and meta.extra is not None
        kind = int if isinstance(meta.type, msgspec.inspect.IntType) else float
        description = (meta.extra_json_schema or {})["description"]
        out.append(Limit(f.name, kind, f.default, meta.extra["unit"], description, meta.extra["bench"]))
    return out


def bench_limits() -> dict[str, Any]:
    """The fields ``--bench-limits`` lifts, with their lifted values."""
    return {lim.name: lim.type(BENCH) for lim in describe() if lim.bench}


def load_limits(
    table: dict[str, Any] | None, overrides: dict[str, Any], *, source: str = "the config"
) -> Limits:
    """``Limits`` from the config file's ``[limits]`` table, then ``overrides`` (the command
    line's, named ``--option``); a ConfigError names the key that is wrong."""
    if table is not None and not isinstance(table, dict):
        raise ConfigError(f"{source}: limits: must be a table ([limits])")
    merged = {**(table or {}), **overrides}
    try:
        limits = msgspec.convert(merged, Limits)
    except msgspec.ValidationError as exc:
        message = str(exc)
        found = re.search(r"unknown field `(\w+)`|at `\$\.(\w+)`", message)
        key = next((k for k in found.groups() if k), "") if found else ""
        if found and found[1]:
            message = f"unknown key (known: {', '.join(lim.name for lim in describe())})"
        where = f"--{key.replace('_', '-')}" if key in overrides else f"{source}: limits.{key}"
        raise ConfigError(f"{where}: {message.partition(' - at ')[0]}") from None
    check(limits)
    return limits


def check(limits: Limits) -> None:
    """The rules between fields: a socket carrying one user's orders must not be refused before
    the user's own limit is reached, and the default window must be one that is taken."""
    pairs = [
        ("ws_messages_per_s", "rate_per_s"),
        ("ws_burst", "rate_burst"),
        ("recv_window_max_ms", "recv_window_default_ms"),
    ]
    for big, small in pairs:
        if getattr(limits, big) < getattr(limits, small):
            raise ConfigError(
                f"limits.{big} ({getattr(limits, big):g}) must be at least limits.{small} "
                f"({getattr(limits, small):g}): raise both (--bench-limits lifts every rate)"
            )


def limits_json(limits: Limits) -> dict[str, dict[str, Any]]:
    """Field name -> ``{value, unit, description}``: what ``GET /api/v1/limits`` answers and the
    OpenAPI ``info`` carries as ``x-limits``."""
    return {
        lim.name: {"value": getattr(limits, lim.name), "unit": lim.unit, "description": lim.description}
        for lim in describe()
    }


def markdown_table(limits: Limits, onramp: str) -> str:
    """docs/API.md's Limits table: one row per field (the default, its option and ``[limits]``
    key), then the per-asset onramp caps (``onramp``: where they are set and their values)."""
    rows = ["| limit | value | meaning | option, `[limits]` key |", "|---|---|---|---|"]
    for lim in describe():
        value = getattr(limits, lim.name)
        shown = f"{value:,}" if isinstance(value, int) else f"{value:,g}"
        lifted = "; `--bench-limits`" if lim.bench else ""
        rows.append(
            f"| `{lim.name}` | {shown} {lim.unit} | {lim.description} | "
            f"`--{lim.name.replace('_', '-')}`, `{lim.name}`{lifted} |"
        )
    rows.append(
        f"| onramp per user and asset (demo) | per asset | {onramp} | "
        "`--config` (`assets.NAME.onrampLimit`); `--admin NAME` is exempt |"
    )
    return "\n".join(rows) + "\n"


#: Around the rendered table in docs/API.md, so it can be found, compared and rewritten.
TABLE_START = "<!-- generated from exchange/limits.py by `python -m exchange limits --write` -->\n"
TABLE_END = "<!-- end of limits table -->\n"


def _span(doc: str) -> tuple[int, int]:
    """Where the generated table is in ``doc``: between the markers."""
    return doc.index(TABLE_START) + len(TABLE_START), doc.index(TABLE_END)


def table_in(doc: str) -> str:
    start, end = _span(doc)
    return doc[start:end]


def replace_table(doc: str, table: str) -> str:
    """``doc`` with its generated table replaced by ``table``."""
    start, end = _span(doc)
    return doc[:start] + table + doc[end:]
