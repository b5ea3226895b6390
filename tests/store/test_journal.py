"""The journal's format and recovery: round trip, segments, torn tails, corruption, fsync policy."""

from __future__ import annotations

import logging
import os
import shutil
import struct
import threading
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace

import msgspec
import pytest

from exchange.domain.commands import (
    AmendOrder,
    AnyCommand,
    CancelAll,
    CancelOrder,
    Onramp,
    OrderType,
    PlaceOrder,
    Side,
    TimeInForce,
)
from exchange.store.journal import (
    HEADER,
    Journal,
    JournalCorrupt,
    JournalError,
    decode_record,
    encode_record,
    segment_name,
)
from tests.waiting import until_sync


def _command(seq: int) -> AnyCommand:
    ts, user = 1_700_000_000_000 + seq, seq % 7 + 1
    match seq % 5:
        case 0:
            return PlaceOrder(user_id=user, seq=seq, ts=ts, symbol="SOL_USDC", side=Side.BUY,
                              type=OrderType.LIMIT, price=9_900 + seq, quantity=300,
                              time_in_force=TimeInForce.IOC, client_order_id=f"c{seq}")  # fmt: skip
        case 1:
            return CancelOrder(user_id=user, seq=seq, ts=ts, symbol="SOL_USDC", order_id=seq)
        case 2:
            return AmendOrder(
                user_id=user, seq=seq, ts=ts, symbol="BTC_USDC", client_order_id="x", quantity=5
            )
        case 3:
            return CancelAll(user_id=user, seq=seq, ts=ts)
        case _:
            return Onramp(user_id=user, seq=seq, ts=ts, asset="USDC", amount=10**12 + seq, limit=None)


def _batch(first: int, size: int) -> list[AnyCommand]:
    return [_command(seq) for seq in range(first, first + size)]


def _write(directory: Path, sizes: list[int], *, first: int = 1, **kwargs: int) -> list[AnyCommand]:
    written: list[AnyCommand] = []
    with Journal.open(directory, fsync=False, **kwargs) as journal:
        for size in sizes:
            batch = _batch(first + len(written), size)
            journal.append(batch)
            written += batch
    return written


def _only_segment(directory: Path) -> Path:
    (path,) = directory.glob("journal-*.log")
    return path


def _record_ends(path: Path) -> list[int]:
    data, ends, offset = path.read_bytes(), [], 0
    while any(data[offset:]):  # preallocated zeros after the records are no record
        parsed = decode_record(data, offset)
        assert not isinstance(parsed, str)
        offset = parsed[1]
        ends.append(offset)
    return ends


def _replay(directory: Path, after_seq: int = 0) -> list[AnyCommand]:
    with Journal.open(directory, fsync=False) as journal:
        return list(journal.replay(after_seq))


def _flip_byte(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


# -- round trip ----------------------------------------------------------------------------------


def test_mixed_batches_round_trip_equal_and_in_order(tmp_path: Path) -> None:
    written = _write(tmp_path, [1, 5, 3, 12, 2])
    assert [type(c) for c in written[:5]] == [CancelOrder, AmendOrder, CancelAll, Onramp, PlaceOrder]
    assert _replay(tmp_path) == written
    assert _only_segment(tmp_path).name == segment_name(1) == "journal-00000000000000000001.log"


def test_record_framing_is_length_crc_then_msgpack_array(tmp_path: Path) -> None:
    batch = _batch(1, 3)
    record = encode_record(batch)
    length, crc = HEADER.unpack_from(record)
    payload = record[HEADER.size :]
    assert HEADER.size == 8 and length == len(payload) and crc == zlib.crc32(payload)
    assert msgspec.msgpack.Decoder(list[AnyCommand]).decode(payload) == batch
    _write(tmp_path, [3])
    assert _only_segment(tmp_path).read_bytes() == record


def test_reopen_then_append_continues_the_sequence(tmp_path: Path) -> None:
    written = _write(tmp_path, [4, 2])
    with Journal.open(tmp_path, fsync=False) as journal:
        assert journal.last_seq == 6
        more = _batch(7, 3)
        journal.append(more)
        assert journal.last_seq == 9
    assert _replay(tmp_path) == written + more


def test_replay_after_seq_yields_only_later_commands(tmp_path: Path) -> None:
    written = _write(tmp_path, [3, 4, 3])
    for after in range(12):
        assert _replay(tmp_path, after) == written[after:]


def test_append_that_skips_a_seq_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, [2])
    with Journal.open(tmp_path, fsync=False) as journal:
        with pytest.raises(ValueError, match="ends at seq 2"):
            journal.append(_batch(4, 1))
        with pytest.raises(ValueError, match="do not continue"):
            journal.append([_command(3), _command(5)])
        assert journal.last_seq == 2


def test_empty_journal_starts_at_any_seq_and_empty_batches_write_nothing(tmp_path: Path) -> None:
    with Journal.open(tmp_path, fsync=False) as journal:
        journal.append([])
        assert journal.segments == []
        journal.append(_batch(101, 2))
        assert journal.last_seq == 102
        assert journal.segments == [tmp_path / segment_name(101)]
    assert [c.seq for c in _replay(tmp_path, 100)] == [101, 102]


def test_append_after_close_raises(tmp_path: Path) -> None:
    journal = Journal.open(tmp_path, fsync=False)
    journal.close()
    with pytest.raises(JournalError, match="closed"):
        journal.append(_batch(1, 1))


# -- segments ------------------------------------------------------------------------------------


def test_small_segment_bytes_rolls_at_batch_boundaries(tmp_path: Path) -> None:
    written = _write(tmp_path, [2, 2, 2, 2, 2], segment_bytes=1)
    names = sorted(path.name for path in tmp_path.iterdir())
    assert names == [segment_name(seq) for seq in (1, 3, 5, 7, 9)]
    assert _replay(tmp_path) == written
    assert _replay(tmp_path, 4) == written[4:]
    with Journal.open(tmp_path, fsync=False, segment_bytes=1) as journal:
        assert journal.last_seq == 10
        journal.append(_batch(11, 1))
    assert (tmp_path / segment_name(11)).exists()


def test_segment_rolls_only_once_it_reaches_segment_bytes(tmp_path: Path) -> None:
    size = len(encode_record(_batch(1, 2)))
    _write(tmp_path, [2, 2, 2], segment_bytes=size + 1)
    assert sorted(path.name for path in tmp_path.iterdir()) == [segment_name(1), segment_name(5)]


def test_drop_before_deletes_only_fully_covered_segments(tmp_path: Path) -> None:
    written = _write(tmp_path, [2, 2, 2, 2], segment_bytes=1)  # segments at 1, 3, 5, 7
    with Journal.open(tmp_path, fsync=True, segment_bytes=1) as journal:
        assert journal.drop_before(0) == 0
        assert journal.drop_before(3) == 1  # 1..2 only: 3 is in the next segment with 4
        assert journal.segments == [tmp_path / segment_name(seq) for seq in (3, 5, 7)]
        assert journal.drop_before(4) == 1
        assert list(journal.replay(4)) == written[4:]
        with pytest.raises(JournalCorrupt, match="starts at seq 5"):
            list(journal.replay(3))
        assert journal.drop_before(100) == 1  # never the last segment, appends still go there
        assert journal.segments == [tmp_path / segment_name(7)]
        journal.append(_batch(9, 1))
    assert sorted(path.name for path in tmp_path.iterdir()) == [segment_name(7), segment_name(9)]
    assert _replay(tmp_path, 6) == [*written[6:], _command(9)]


# -- torn tails ----------------------------------------------------------------------------------


def test_torn_tail_at_every_offset_of_the_last_record_is_truncated(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    source = tmp_path / "source"
    written = _write(source, [3, 2, 4])
    segment = _only_segment(source)
    end2, end3 = _record_ends(segment)[1:]
    data = segment.read_bytes()
    for cut in range(end2 + 1, end3):
        directory = tmp_path / f"cut{cut}"
        directory.mkdir()
        copy = directory / segment.name
        copy.write_bytes(data[:cut])
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="exchange.store.journal"):
            journal = Journal.open(directory, fsync=False)
        assert journal.last_seq == 5, cut
        assert copy.stat().st_size == end2, cut
        if any(data[end2:cut]):
            assert f"torn tail of {cut - end2} bytes" in caplog.text, cut
        else:  # only the zero high bytes of the length got written: as good as nothing
            assert caplog.text == "", cut
        journal.append(_batch(6, 1))
        journal.close()
        assert _replay(directory) == [*written[:5], _command(6)], cut


def test_torn_first_record_leaves_an_empty_journal(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _write(tmp_path, [3])
    segment = _only_segment(tmp_path)
    segment.write_bytes(segment.read_bytes()[:5])
    with caplog.at_level(logging.WARNING), Journal.open(tmp_path, fsync=True) as journal:
        assert journal.last_seq == 0
        assert list(journal.replay()) == []
    assert "dropped a torn tail of 5 bytes" in caplog.text
    assert not segment.exists()


def test_crc_mismatch_in_last_record_is_truncated(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    written = _write(tmp_path, [2, 2, 2])
    segment = _only_segment(tmp_path)
    ends = _record_ends(segment)
    _flip_byte(segment, ends[2] - 1)
    with caplog.at_level(logging.WARNING):
        assert _replay(tmp_path) == written[:4]
    assert "CRC mismatch" in caplog.text
    assert segment.stat().st_size == ends[1]


def test_zero_filled_tail_is_unused_room_truncated_quietly(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    written = _write(tmp_path, [2, 2])
    segment = _only_segment(tmp_path)
    size = segment.stat().st_size
    with segment.open("ab") as file:
        file.write(bytes(4096))
    with caplog.at_level(logging.DEBUG, logger="exchange.store.journal"):
        assert _replay(tmp_path) == written
    assert [r.levelno for r in caplog.records] == [logging.DEBUG]
    assert "dropped 4096 bytes of unused room" in caplog.text
    assert segment.stat().st_size == size


def test_undecodable_payload_with_valid_crc_at_tail_is_truncated(tmp_path: Path) -> None:
    written = _write(tmp_path, [2])
    segment = _only_segment(tmp_path)
    payload = msgspec.msgpack.encode([{"t": "nonsense"}])
    with segment.open("ab") as file:
        file.write(HEADER.pack(len(payload), zlib.crc32(payload)) + payload)
    assert _replay(tmp_path) == written
    assert segment.stat().st_size == _record_ends(segment)[-1]


# -- corruption ----------------------------------------------------------------------------------


def test_crc_mismatch_in_a_middle_record_raises_corrupt(tmp_path: Path) -> None:
    _write(tmp_path, [2, 2, 2])
    segment = _only_segment(tmp_path)
    ends = _record_ends(segment)
    _flip_byte(segment, ends[1] - 1)
    with pytest.raises(JournalCorrupt, match=rf"{segment.name}: CRC mismatch at offset {ends[0]}, followed"):
        Journal.open(tmp_path, fsync=False)
    assert len(segment.read_bytes()) == ends[2]  # nothing truncated


def test_length_past_the_end_in_a_middle_record_raises_corrupt(tmp_path: Path) -> None:
    _write(tmp_path, [2, 2, 2])
    segment = _only_segment(tmp_path)
    data = bytearray(segment.read_bytes())
    struct.pack_into(">I", data, 0, 10**6)
    segment.write_bytes(bytes(data))
    with pytest.raises(JournalCorrupt, match="short payload at offset 0, followed by a valid record"):
        Journal.open(tmp_path, fsync=False)


def test_corrupt_earlier_segment_raises_corrupt(tmp_path: Path) -> None:
    _write(tmp_path, [2, 2, 2], segment_bytes=1)
    first = tmp_path / segment_name(1)
    _flip_byte(first, first.stat().st_size - 1)
    with pytest.raises(
        JournalCorrupt, match=rf"{first.name}: CRC mismatch at offset 0 in a segment that is not"
    ):
        Journal.open(tmp_path, fsync=False)


def test_torn_earlier_segment_raises_corrupt(tmp_path: Path) -> None:
    _write(tmp_path, [2, 2, 2], segment_bytes=1)
    middle = tmp_path / segment_name(3)
    middle.write_bytes(middle.read_bytes()[:-3])
    with pytest.raises(JournalCorrupt, match="short payload at offset 0 in a segment that is not the last"):
        Journal.open(tmp_path, fsync=False)


def test_seq_gap_between_records_raises_corrupt(tmp_path: Path) -> None:
    segment = tmp_path / segment_name(1)
    segment.write_bytes(encode_record(_batch(1, 2)) + encode_record(_batch(4, 2)))
    with pytest.raises(JournalCorrupt, match="has seq 4, expected 3"):
        Journal.open(tmp_path, fsync=False)


def test_seq_gap_between_segments_raises_corrupt(tmp_path: Path) -> None:
    _write(tmp_path, [2, 2, 2], segment_bytes=1)
    (tmp_path / segment_name(3)).unlink()
    with pytest.raises(JournalCorrupt, match="starts at seq 5 but the previous one ends at seq 2"):
        Journal.open(tmp_path, fsync=False)


def test_segment_named_after_another_seq_raises_corrupt(tmp_path: Path) -> None:
    (tmp_path / segment_name(1)).write_bytes(encode_record(_batch(2, 2)))
    with pytest.raises(JournalCorrupt, match="has seq 2, expected 1"):
        Journal.open(tmp_path, fsync=False)


# -- empty -------------------------------------------------------------------------------------


def test_missing_directory_is_created_and_empty(tmp_path: Path) -> None:
    directory = tmp_path / "a" / "journal"
    with Journal.open(directory, fsync=True) as journal:
        assert directory.is_dir()
        assert journal.last_seq == 0
        assert list(journal.replay()) == []


def test_empty_segment_file_gives_last_seq_zero_and_is_removed(tmp_path: Path) -> None:
    (tmp_path / segment_name(1)).touch()
    (tmp_path / "unrelated.txt").write_text("ignored")
    with Journal.open(tmp_path, fsync=False) as journal:
        assert journal.last_seq == 0
        assert list(journal.replay()) == []
        journal.append(_batch(1, 2))
    assert _replay(tmp_path) == _batch(1, 2)


def test_empty_last_segment_after_a_roll_is_removed(tmp_path: Path) -> None:
    written = _write(tmp_path, [2, 2], segment_bytes=1)
    (tmp_path / segment_name(5)).touch()  # created, then the process died before writing
    with Journal.open(tmp_path, fsync=False, segment_bytes=1) as journal:
        assert journal.last_seq == 4
        assert journal.segments == [tmp_path / segment_name(1), tmp_path / segment_name(3)]
        journal.append(_batch(5, 1))
    assert _replay(tmp_path) == [*written, _command(5)]


# -- preallocation -------------------------------------------------------------------------------

ROOM = 256 * 2**10  # four of make_room's 64 KiB zero pieces


def test_records_go_over_preallocated_zeros_and_survive_a_crash(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    live, crashed = tmp_path / "live", tmp_path / "crashed"
    journal = Journal.open(live, fsync=True, room_bytes=ROOM)
    journal.append(_batch(1, 3))
    segment = _only_segment(live)
    records = [encode_record(_batch(1, 3))]
    assert segment.stat().st_size == len(records[0])  # a new segment starts with no room
    assert journal.wants_room
    journal.make_room()
    assert not journal.wants_room
    assert segment.stat().st_size == len(records[0]) + ROOM
    for first, size in ((4, 2), (6, 5), (11, 1)):
        journal.append(_batch(first, size), sync=False)
        journal.sync()
        records.append(encode_record(_batch(first, size)))
    end = sum(map(len, records))
    data = segment.read_bytes()
    assert len(data) == len(records[0]) + ROOM  # the appends did not grow the file
    assert data[:end] == b"".join(records) and not any(data[end:])
    assert list(journal.replay(2)) == _batch(3, 9)  # the live segment's zeros end the replay
    shutil.copytree(live, crashed)  # the files as a crash would leave them: never closed
    with caplog.at_level(logging.INFO, logger="exchange.store.journal"):
        recovered = Journal.open(crashed, fsync=True, room_bytes=ROOM)
    assert caplog.records == []  # unused room is no damage
    copy = _only_segment(crashed)
    assert recovered.last_seq == 11 and copy.stat().st_size == end
    recovered.append(_batch(12, 2))
    recovered.close()
    assert _record_ends(copy) == [
        *_record_ends(segment)[: len(records)],
        end + len(encode_record(_batch(12, 2))),
    ]
    assert _replay(crashed) == _batch(1, 13)
    journal.close()
    assert segment.stat().st_size == end  # closed: only records
    assert _replay(live) == _batch(1, 11)


def test_torn_write_inside_preallocated_room_is_truncated_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal.open(tmp_path, fsync=False, room_bytes=ROOM)
    journal.append(_batch(1, 2))
    journal.append(_batch(3, 2))
    journal.make_room()
    segment = _only_segment(tmp_path)
    end, size = _record_ends(segment)[-1], segment.stat().st_size
    torn = encode_record(_batch(5, 6))
    fd = os.open(segment, os.O_WRONLY)  # header and half the payload reached the disk
    os.pwrite(fd, torn[: HEADER.size + (len(torn) - HEADER.size) // 2], end)
    os.close(fd)
    decoded: list[int] = []

    def counting(data: bytes | memoryview, offset: int) -> tuple[list[AnyCommand], int] | str:
        decoded.append(offset)
        return decode_record(data, offset)

    monkeypatch.setattr("exchange.store.journal.decode_record", counting)
    with caplog.at_level(logging.WARNING):
        reopened = Journal.open(tmp_path, fsync=False, room_bytes=ROOM)
    assert f"dropped a torn tail of {size - end} bytes at offset {end} (CRC mismatch)" in caplog.text
    assert len(decoded) < len(torn)  # the search for a good record after it skips the zeros
    assert segment.stat().st_size == end and reopened.last_seq == 4
    reopened.close()
    journal.close()


def test_zero_tail_of_an_earlier_segment_is_accepted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    written = _write(tmp_path, [2, 2, 2], segment_bytes=1)
    first = tmp_path / segment_name(1)
    size = first.stat().st_size
    with first.open("ab") as file:  # a crash between the roll and the truncation of the first
        file.write(bytes(70_000))
    with caplog.at_level(logging.WARNING):
        assert _replay(tmp_path) == written
    assert caplog.text == ""
    assert first.stat().st_size == size


def test_garbage_after_the_records_of_an_earlier_segment_raises_corrupt(tmp_path: Path) -> None:
    _write(tmp_path, [2, 2, 2], segment_bytes=1)
    middle = tmp_path / segment_name(3)
    size = middle.stat().st_size
    with middle.open("ab") as file:
        file.write(bytes(100) + b"\x01" + bytes(100))
    with pytest.raises(JournalCorrupt, match=rf"{middle.name}: .* at offset {size} in a segment that is not"):
        Journal.open(tmp_path, fsync=False)
    assert middle.stat().st_size == size + 201  # nothing truncated


def test_zero_filled_earlier_segment_raises_corrupt(tmp_path: Path) -> None:
    _write(tmp_path, [2, 2, 2], segment_bytes=1)
    (tmp_path / segment_name(3)).write_bytes(bytes(4096))
    with pytest.raises(JournalCorrupt, match=f"{segment_name(3)}: empty segment before the last one"):
        Journal.open(tmp_path, fsync=False)


def test_zero_filled_last_segment_is_removed_and_appends_follow_the_records_before(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    written = _write(tmp_path, [2, 2], segment_bytes=1)
    before = tmp_path / segment_name(3)
    size = before.stat().st_size
    with before.open("ab") as file:  # a crash after the roll: neither zero tail truncated yet
        file.write(bytes(5000))
    (tmp_path / segment_name(5)).write_bytes(bytes(ROOM))
    with caplog.at_level(logging.WARNING), Journal.open(tmp_path, fsync=True) as journal:
        assert journal.last_seq == 4
        assert journal.segments == [tmp_path / segment_name(1), before]
        journal.append(_batch(5, 1))
    assert "torn" not in caplog.text
    assert _record_ends(before)[-2:] == [size, size + len(encode_record(_batch(5, 1)))]
    assert _replay(tmp_path) == [*written, _command(5)]


def test_replay_reads_past_a_zero_tail_into_the_next_segment(tmp_path: Path) -> None:
    written = _write(tmp_path, [2, 2, 2], segment_bytes=1)
    with Journal.open(tmp_path, fsync=False) as journal:
        with (tmp_path / segment_name(3)).open("ab") as file:  # after recovery checked it
            file.write(bytes(5000))
        assert list(journal.replay()) == written
        assert list(journal.replay(3)) == written[3:]


def test_rolled_and_closed_segments_hold_only_records(tmp_path: Path) -> None:
    written: list[AnyCommand] = []
    with Journal.open(tmp_path, fsync=True, segment_bytes=30_000, room_bytes=ROOM) as journal:
        while len(journal.segments) < 3:
            batch = _batch(len(written) + 1, 40)
            journal.append(batch)
            written += batch
            if journal.wants_room:
                journal.make_room()
            *finished, last = journal.segments
            assert all(path.stat().st_size == _record_ends(path)[-1] for path in finished)
            assert last.stat().st_size == max(30_000, _record_ends(last)[-1])  # room, not past the segment
    assert all(path.stat().st_size == _record_ends(path)[-1] for path in journal.segments)
    assert _replay(tmp_path) == written


def test_segment_rolled_with_room_left_is_cut_to_its_records(tmp_path: Path) -> None:
    with Journal.open(tmp_path, fsync=True, room_bytes=ROOM) as journal:
        journal.append(_batch(1, 2))
        journal.make_room()
        journal.segment_bytes = 1  # as if the room had been made for a bigger segment
        journal.append(_batch(3, 2))
        first = tmp_path / segment_name(1)
        assert first.stat().st_size == len(encode_record(_batch(1, 2)))
        assert journal.segments == [first, tmp_path / segment_name(3)]
    assert _replay(tmp_path) == _batch(1, 4)


def test_record_bigger_than_the_room_grows_the_file(tmp_path: Path) -> None:
    with Journal.open(tmp_path, fsync=True, room_bytes=ROOM) as journal:
        journal.append(_batch(1, 1))
        journal.make_room()
        big = _batch(2, 3000)  # ~320 KB: more than the room left
        journal.append(big)
        segment = _only_segment(tmp_path)
        end = 100 + len(encode_record(big))
        assert segment.stat().st_size == end > ROOM
        assert journal.wants_room
        journal.make_room()  # the next room starts after the record, not where the last one ended
        assert segment.stat().st_size == end + ROOM
        assert _record_ends(segment) == [100, end]
    assert _replay(tmp_path) == _batch(1, 3001)


def _slow_zero_pieces(monkeypatch: pytest.MonkeyPatch, seconds: float = 0.005) -> list[tuple[str, int]]:
    """(thread name, offset) of every zero piece written, each taking ``seconds``."""
    pieces: list[tuple[str, int]] = []
    real = os.pwrite

    def pwrite(fd: int, data: bytes | memoryview, offset: int) -> int:
        if bytes(data).count(0) == len(data):
            pieces.append((threading.current_thread().name, offset))
            time.sleep(seconds)  # a time, not a wait: a slow disk, so that threads overlap on it
        return real(fd, data, offset)

    monkeypatch.setattr(os, "pwrite", pwrite)
    return pieces


def test_make_room_runs_one_at_a_time_and_close_waits_for_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal.open(tmp_path, fsync=True, room_bytes=ROOM)
    journal.append(_batch(1, 1))
    pieces = _slow_zero_pieces(monkeypatch)
    barrier = threading.Barrier(2)

    def make_room() -> None:
        barrier.wait()
        journal.make_room()

    threads = [threading.Thread(target=make_room, name=f"room{i}") for i in (1, 2)]
    for thread in threads:
        thread.start()
    until_sync(lambda: pieces, timeout=10, interval=0.001)  # make_room has begun writing zeros
    journal.close()
    written_by_close = list(pieces)
    for thread in threads:
        thread.join()
    assert pieces == written_by_close  # nothing written after close returned
    (writer,) = {name for name, _ in pieces}  # one call wrote, the other found room
    assert pieces == [(writer, 100 + piece * 2**16) for piece in range(4)]  # whole: close waited
    assert _only_segment(tmp_path).stat().st_size == 100


def test_appends_that_overtake_make_room_are_never_zeroed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    journal = Journal.open(tmp_path, fsync=False, room_bytes=ROOM)
    written = _batch(1, 1)
    journal.append(written)
    pieces = _slow_zero_pieces(monkeypatch, seconds=0)
    piece_done, appended = threading.Event(), threading.Event()

    def hand_over(seconds: float) -> None:  # make_room lets appends in after each piece
        piece_done.set()
        assert appended.wait(10)
        appended.clear()

    monkeypatch.setattr("exchange.store.journal.time", SimpleNamespace(sleep=hand_over))
    room = threading.Thread(target=journal.make_room)
    room.start()
    while room.is_alive():
        if piece_done.wait(0.01):
            piece_done.clear()
            batch = _batch(len(written) + 1, 1000)  # ~107 KB: past the piece being zeroed
            journal.append(batch)
            written += batch
            appended.set()
    room.join()
    ends = _record_ends(_only_segment(tmp_path))
    assert [offset for _, offset in pieces] == [100, ends[1], ends[2]]  # each after the data end
    journal.close()
    assert _replay(tmp_path) == written


# -- fsync policy and failures -------------------------------------------------------------------


def _count_syncs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, int]]:
    """(name, fd) of every fsync and fdatasync call."""
    calls: list[tuple[str, int]] = []
    for name in ("fsync", "fdatasync"):
        real = getattr(os, name)

        def counting(fd: int, name: str = name, real: Callable[[int], None] = real) -> None:
            calls.append((name, fd))
            real(fd)

        monkeypatch.setattr(os, name, counting)
    return calls


def test_fsync_batch_syncs_once_per_append(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_syncs(monkeypatch)
    with Journal.open(tmp_path, fsync=True) as journal:
        journal.append(_batch(1, 3))
        assert [name for name, _ in calls] == ["fsync", "fdatasync"]  # the new file's directory; the record
        calls.clear()
        for first in (4, 6, 8):
            journal.append(_batch(first, 2))
        assert [name for name, _ in calls] == ["fdatasync"] * 3
        calls.clear()
        journal.sync()
        assert [name for name, _ in calls] == ["fdatasync"]
        calls.clear()
    assert [name for name, _ in calls] == ["fsync"]  # close: the segment cut to its records
    assert [c.seq for c in _replay(tmp_path)] == list(range(1, 10))


def test_sync_falls_back_to_fsync_without_fdatasync(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_syncs(monkeypatch)
    monkeypatch.delattr(os, "fdatasync")
    with Journal.open(tmp_path, fsync=True) as journal:
        journal.append(_batch(1, 1))
        assert [name for name, _ in calls] == ["fsync", "fsync"]


def test_fsync_off_never_fsyncs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _count_syncs(monkeypatch)
    written = _write(tmp_path, [3, 2, 2], segment_bytes=1)
    assert calls == []
    assert _replay(tmp_path) == written


def test_failed_write_is_undone_and_blocks_further_appends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    written = _write(tmp_path, [2])
    real_pwrite = os.pwrite

    def half_then_fail(fd: int, data: bytes | memoryview, offset: int) -> int:
        if len(data) > 8:
            return real_pwrite(fd, data[: len(data) // 2], offset)
        raise OSError(28, "No space left on device")

    with Journal.open(tmp_path, fsync=False) as journal:
        monkeypatch.setattr(os, "pwrite", half_then_fail)
        with pytest.raises(OSError, match="No space"):
            journal.append(_batch(3, 4))
        monkeypatch.undo()
        with pytest.raises(JournalError, match="earlier journal write failed"):
            journal.append(_batch(3, 1))
    assert _only_segment(tmp_path).stat().st_size == _record_ends(_only_segment(tmp_path))[-1]
    assert _replay(tmp_path) == written
