"""What the Redis bus carries, as msgspec msgpack Structs, and the names it carries them under.

Commands and events are the domain's own tagged Structs (the journal encodes commands the same
way), wrapped in small array-like envelopes so a message costs a few bytes over its payload:
- ``Envelope``: one command, with the channel its reply goes to and the wall-clock millisecond
  after which the engine must not start it (its gateway gives up soon). One stream entry holds
  a list of them: what one gateway had to send at one moment (one XADD, one acknowledgement);
- ``CommandReply`` / ``QueryReply``: on the gateway's own reply channel, by request id, a list
  of them per message (what the engine answered that gateway in one flush);
- ``Query``: a read-only question for the engine process (balances, open orders, ...);
- ``Published``: one engine flush of events for one channel, each command's events with the
  market's update id after them (market channels) or 0 (user channels).
"""

from __future__ import annotations

import msgspec

from exchange.domain.commands import AnyCommand
from exchange.domain.events import AnyEvent


class Names:
    """Redis keys and channels under one prefix (tests and clusters on one Redis use their own)."""

    def __init__(self, prefix: str = "ex") -> None:
        self.prefix = prefix
        self.commands = f"{prefix}:commands"
        self.group = "engine"
        self.queries = f"{prefix}:queries"
        self.accounts = f"{prefix}:accounts"

    def reply(self, gateway: str) -> str:
        return f"{self.prefix}:reply:{gateway}"

    def market(self, symbol: str) -> str:
        return f"{self.prefix}:md:{symbol}"

    def user(self, user_id: int) -> str:
        return f"{self.prefix}:user:{user_id}"


class Envelope(msgspec.Struct, array_like=True, frozen=True):
    reply_to: str
    expires_ms: int
    command: AnyCommand


class CommandReply(msgspec.Struct, array_like=True, frozen=True, tag="c"):
    request_id: str
    events: list[AnyEvent]
    error: str | None = None


class QueryReply(msgspec.Struct, array_like=True, frozen=True, tag="q"):
    request_id: str
    result: msgspec.Raw
    error: str | None = None


Reply = CommandReply | QueryReply


class Query(msgspec.Struct, array_like=True, frozen=True):
    request_id: str
    reply_to: str
    kind: str
    args: msgspec.Raw


class Published(msgspec.Struct, array_like=True, frozen=True):
    """``items``: (market update id after the command, or 0; the command's events)."""

    items: list[tuple[int, list[AnyEvent]]]


encoder = msgspec.msgpack.Encoder()
decode_envelopes = msgspec.msgpack.Decoder(list[Envelope]).decode
decode_replies = msgspec.msgpack.Decoder(list[Reply]).decode
decode_query = msgspec.msgpack.Decoder(Query).decode
decode_published = msgspec.msgpack.Decoder(Published).decode
