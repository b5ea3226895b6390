"""One connection's bounded outbox of framed WebSocket messages, and the framing itself.

A message is framed once (``ws_frame``: the RFC 6455 server frame is a 2-10 byte header and the
payload) and the same bytes go to every subscriber's outbox. ``Outbox.flush`` writes what it
holds in ONE ``write`` straight to the socket when the socket keeps up (kernel buffer below the
high-water mark and no writer task busy), or else wakes the connection's writer task
(``pump``), which drains the outbox as the socket allows. An outbox that reaches its bound is a
slow consumer: it is closed, and its owner closes the socket (1008 "slow consumer").
"""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Callable

#: How long the writer task waits between checks of a socket whose buffer is full.
_DRAIN_POLL_S = 0.002


def ws_frame(payload: bytes) -> bytes:
    """An unmasked, final text frame (server to client) carrying ``payload``."""
    n = len(payload)
    if n < 126:
        header = bytes((0x81, n))
    elif n < 65536:
        header = struct.pack("!BBH", 0x81, 126, n)
    else:
        header = struct.pack("!BBQ", 0x81, 127, n)
    return header + payload


class Outbox:
    """One connection's queue of framed messages, its socket, and the writer's wake-up."""

    __slots__ = ("bound", "frames", "overflowed", "closed", "on_overflow", "_write", "_backlog",
                 "_high_water", "_wake", "_writing")  # fmt: skip

    def __init__(
        self,
        bound: int,
        write: Callable[[bytes], None],
        backlog: Callable[[], int],
        high_water: int,
        on_overflow: Callable[[], None] | None = None,
    ) -> None:
        self.bound = bound
        self.frames: list[bytes] = []
        self.overflowed = False
        self.closed = False
        #: Called once when the bound is hit; the owner closes the socket.
        self.on_overflow = on_overflow
        self._write = write
        self._backlog = backlog
        self._high_water = high_water
        self._wake = asyncio.Event()
        self._writing = False

    def offer(self, frame: bytes) -> bool:
        """Queue ``frame``; False (and the outbox marked overflowed) if it is full or closed."""
        if self.closed:
            return False
        if len(self.frames) >= self.bound:
            self.overflowed = self.closed = True
            self.frames.clear()
            self._wake.set()
            if self.on_overflow is not None:
                self.on_overflow()
            return False
        self.frames.append(frame)
        return True

    def flush(self) -> None:
        """Write what is queued now if the socket keeps up; else leave it to the writer task."""
        if not self.frames or self.closed:
            return
        if not self._writing and self._backlog() < self._high_water:
            data = b"".join(self.frames) if len(self.frames) > 1 else self.frames[0]
            self.frames.clear()
            self._write(data)
        else:
            self._wake.set()

    def close(self) -> None:
        self.closed = True
        self._wake.set()

    async def pump(self) -> None:
        """The writer task: drains frames the socket could not take at once, until closed."""
        while True:
            await self._wake.wait()
            self._wake.clear()
            self._writing = True
            try:
                while self.frames and not self.closed:
                    while self._backlog() >= self._high_water and not self.closed:
                        await asyncio.sleep(_DRAIN_POLL_S)
                    if self.frames and not self.closed:
                        data = b"".join(self.frames)
                        self.frames.clear()
                        self._write(data)
            finally:
                self._writing = False
            if self.closed:
                return
