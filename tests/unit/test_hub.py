"""Hub fan-out: encoded once, bounded outboxes, slow subscribers evicted without stalling others."""

from __future__ import annotations

import asyncio

from exchange.service.hub import Hub, Outbox


def test_publish_offers_the_same_bytes_to_every_subscriber_of_the_topic() -> None:
    hub, a, b, other = Hub(), Outbox(10), Outbox(10), Outbox(10)
    hub.subscribe("trade@X", a)
    hub.subscribe("trade@X", b)
    hub.subscribe("trade@Y", other)
    frame = b'{"stream":"trade@X"}'
    hub.publish("trade@X", frame)
    assert a.frames[0] is frame and b.frames[0] is frame and not other.frames
    assert hub.frames_offered == 2


def test_full_outbox_is_evicted_from_every_topic_and_others_keep_getting_frames() -> None:
    hub, slow, fast = Hub(), Outbox(2), Outbox(100)
    overflowed: list[Outbox] = []
    slow.on_overflow = lambda: overflowed.append(slow)
    for topic in ("depth@X", "trade@X"):
        hub.subscribe(topic, slow)
        hub.subscribe(topic, fast)
    for i in range(5):
        hub.publish("depth@X", str(i).encode())
    assert overflowed == [slow] and slow.overflowed and slow.closed
    assert hub.topics_of(slow) == set() and hub.subscribers("trade@X") == 1
    assert list(fast.frames) == [b"0", b"1", b"2", b"3", b"4"] and hub.evicted == 1


def test_overflow_callback_that_touches_the_hub_does_not_break_publish() -> None:
    # regression: the callback ran while publish iterated the topic's set
    hub, slow = Hub(), Outbox(1)
    slow.on_overflow = lambda: hub.unsubscribe("depth@X", slow)
    hub.subscribe("depth@X", slow)
    hub.subscribe("depth@X", Outbox(10))
    hub.publish("depth@X", b"a")
    hub.publish("depth@X", b"b")
    assert hub.subscribers("depth@X") == 1


async def test_writer_sends_in_order_and_stops_on_close() -> None:
    box, sent = Outbox(10), []

    async def send(frame: bytes) -> None:
        sent.append(frame)

    writer = asyncio.create_task(box.drain(send))
    for f in (b"1", b"2", b"3"):
        box.offer(f)
    await asyncio.sleep(0)
    box.close()
    await asyncio.wait_for(writer, 1)
    assert sent == [b"1", b"2", b"3"] and not box.offer(b"4")


async def test_a_stuck_writer_does_not_stop_publishing_to_others() -> None:
    hub, stuck, live = Hub(), Outbox(3), Outbox(100)
    never = asyncio.Event()

    async def blocked(frame: bytes) -> None:
        await never.wait()

    writer = asyncio.create_task(stuck.drain(blocked))
    hub.subscribe("t", stuck)
    hub.subscribe("t", live)
    for i in range(10):
        hub.publish("t", bytes([i]))
        await asyncio.sleep(0)
    assert stuck.overflowed and len(live.frames) == 10
    writer.cancel()


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
