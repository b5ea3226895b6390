"""Hub fan-out: framed once, one write per subscriber per flush, slow subscribers evicted."""

from __future__ import annotations

import asyncio

from exchange.web.ws.hub import Hub
from exchange.web.ws.outbox import Outbox, ws_frame
from tests.waiting import until


class Socket:
    """A fake socket: records writes; ``backlog`` is what the kernel still holds, ``asked``
    how often the outbox has looked at it."""

    def __init__(self, backlog: int = 0) -> None:
        self.writes: list[bytes] = []
        self.backlog = backlog
        self.asked = 0

    def outbox(self, bound: int = 100, high_water: int = 1000) -> Outbox:
        return Outbox(bound, self.writes.append, self._backlog, high_water)

    def _backlog(self) -> int:
        self.asked += 1
        return self.backlog


def test_ws_frame_headers_follow_rfc6455_length_forms() -> None:
    assert ws_frame(b"hi") == b"\x81\x02hi"
    assert ws_frame(b"x" * 200)[:4] == b"\x81\x7e\x00\xc8"
    assert ws_frame(b"x" * 70_000)[:10] == b"\x81\x7f" + (70_000).to_bytes(8, "big")


def test_publish_frames_once_and_flush_writes_once_per_subscriber() -> None:
    hub, a, b, other = Hub(), Socket(), Socket(), Socket()
    box_a, box_b, box_other = a.outbox(), b.outbox(), other.outbox()
    hub.subscribe("trade@X", box_a)
    hub.subscribe("trade@X", box_b)
    hub.subscribe("depth@X", box_a)
    hub.subscribe("trade@Y", box_other)
    hub.publish("trade@X", b"1")
    hub.publish("depth@X", b"2")
    assert a.writes == [] and box_a.frames[0] is box_b.frames[0]  # the same framed bytes
    hub.flush()
    assert a.writes == [ws_frame(b"1") + ws_frame(b"2")]  # one write for the command
    assert b.writes == [ws_frame(b"1")] and other.writes == []
    assert hub.frames_offered == 3 and hub.watching("X") and not hub.watching("Z")


def test_full_outbox_is_evicted_from_every_topic_and_others_keep_getting_frames() -> None:
    hub, stuck, fast = Hub(), Socket(backlog=10**6), Socket()
    slow_box, fast_box = stuck.outbox(bound=2), fast.outbox()
    overflowed: list[Outbox] = []
    slow_box.on_overflow = lambda: overflowed.append(slow_box)
    for topic in ("depth@X", "trade@X"):
        hub.subscribe(topic, slow_box)
        hub.subscribe(topic, fast_box)
    for i in range(5):
        hub.publish("depth@X", str(i).encode())
        hub.flush()
    assert overflowed == [slow_box] and slow_box.overflowed and slow_box.closed
    assert hub.topics_of(slow_box) == set() and hub.subscribers("trade@X") == 1
    assert b"".join(fast.writes) == b"".join(ws_frame(str(i).encode()) for i in range(5))
    assert hub.evicted == 1 and stuck.writes == [] and not hub.watching("Y")


def test_overflow_callback_that_touches_the_hub_does_not_break_publish() -> None:
    # regression: the callback ran while publish iterated the topic's set
    hub, stuck = Hub(), Socket(backlog=10**6)
    slow_box = stuck.outbox(bound=1)
    slow_box.on_overflow = lambda: hub.unsubscribe("depth@X", slow_box)
    hub.subscribe("depth@X", slow_box)
    hub.subscribe("depth@X", Socket().outbox())
    hub.publish("depth@X", b"a")
    hub.publish("depth@X", b"b")
    assert hub.subscribers("depth@X") == 1


async def test_writer_task_drains_what_the_socket_could_not_take_in_order() -> None:
    sock = Socket(backlog=5000)
    box = sock.outbox(high_water=1000)
    pump = asyncio.create_task(box.pump())
    for f in (b"1", b"2"):
        box.offer(f)
    box.flush()  # the socket is backed up: nothing written yet, the writer is woken
    asked = sock.asked
    await until(lambda: sock.asked >= asked + 2)  # the writer found it full, and looked again
    assert sock.writes == []
    sock.backlog = 0
    await until(lambda: sock.writes)
    box.offer(b"3")
    box.flush()
    await until(lambda: len(sock.writes) == 2)
    assert b"".join(sock.writes) == b"123"
    box.close()
    await asyncio.wait_for(pump, 1)
    assert not box.offer(b"4")


def test_local_book_applies_diffs_drops_stale_ones_and_detects_gaps() -> None:
    import pytest

    from exchange.wsclient import GapError, LocalBook

    book = LocalBook()
    book.apply({"U": 1, "u": 1, "b": [["1.00", "1"]], "a": []})  # before the snapshot: ignored
    book.load({"u": 5, "b": [["10.00", "2"]], "a": [["11.00", "1"]]})
    book.apply({"U": 4, "u": 5, "b": [["10.00", "9"]], "a": []})  # stale: already in the snapshot
    book.apply({"U": 6, "u": 6, "b": [["10.00", "0"], ["9.50", "3"]], "a": []})
    assert book.levels() == ([["9.50", "3"]], [["11.00", "1"]]) and book.last_u == 6
    with pytest.raises(GapError):
        book.apply({"U": 8, "u": 8, "b": [], "a": []})


def test_private_topics_count_topics_with_a_subscriber_not_subscriptions() -> None:
    hub, a, b = Hub(), Socket().outbox(), Socket().outbox()
    hub.subscribe("orders:1", a)
    hub.subscribe("orders:1", b)
    hub.subscribe("balances:1", a)
    hub.subscribe("depth@X", a)
    assert hub.private_topics == 2
    hub.unsubscribe("orders:1", a)
    assert hub.private_topics == 2  # b still listens
    hub.drop(b)
    assert hub.private_topics == 1
    hub.drop(a)
    assert hub.private_topics == 0 and not hub.watching("X")
