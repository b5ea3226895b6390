"""Journal: every command the engine accepts, appended before its reply or events leave.

Record format: one record per runner batch, so one write (and one sync) per batch::

    [payload length: u32 big-endian][CRC32 of the payload: u32 big-endian][payload]

where the payload is a msgpack array of the batch's commands (msgspec's tagged ``AnyCommand``
Structs, already stamped with ``seq`` and ``ts``). A batch is never empty.

Segments: ``journal-<first seq, 20 digits>.log`` files in the journal directory, each holding
the records from the command whose seq is in its name on. Appends go to the last segment; once
it holds ``segment_bytes`` or more of records, the next batch starts a new one (a batch is never
split) and the finished segment is truncated to its records. ``drop_before(seq)`` deletes, oldest
first, the segments whose commands are all <= ``seq`` (after a snapshot covering them); the last
segment is never deleted, since appends still go to it.

Placement and preallocation: records are written with ``pwrite`` at the end of the data, not with
``O_APPEND``, because the last segment may go on past its records with zeros. A record that grows
the file makes its sync commit the new file size too; one written over zeros that were already
written and synced needs only its data flushed (``fdatasync``): measured here, ~85 against ~124 us
wall and ~35 against ~53 us CPU per batch. ``make_room()`` writes ``room_bytes`` of zeros after
the data (never past ``segment_bytes``) and fdatasyncs them; ``wants_room`` says when less than a
quarter of that is left. It takes milliseconds, so the runner calls it in a thread, one call at a
time. It writes its zeros in small pieces under the lock the record writes take, each piece at or
after the data end of that moment, so however far appends overtake it, it never overwrites a
record. Preallocation is only a speed-up: a record that does not fit the room grows the file (that
sync is slower, nothing else changes), and recovery never needs it. A new segment starts with no
room (the roll runs on the event loop, which must not write megabytes); ``close()`` truncates the
last segment to its records.

Recovery (``Journal.open``) reads every segment in order and checks every record (length, CRC,
decodable payload) and that seqs go up by exactly one across records and segments:
- zero bytes from the end of the last good record to the end of a segment are room that was
  preallocated and not used yet (or a crash between a roll and the truncation of the finished
  segment): they are truncated away quietly (a debug log), in any segment; a last segment left
  empty is removed. Make_room fills the last segment again once appends resume;
- a bad record at the end of the last segment (short header, short payload, CRC mismatch,
  undecodable payload) with a non-zero byte in it or after it, and nothing after it that parses
  as a good record, is a write torn by a crash: it is truncated away and logged as a warning;
- a bad record anywhere else (in an earlier segment and not all zeros, or followed by a good
  record), a seq gap, or a segment whose name disagrees with its first command raises
  ``JournalCorrupt`` naming the file and offset: start-up stops rather than guessing which
  commands happened. Zeros are never a good record (an all-zero header announces an empty
  payload, which does not decode), and a lost flush window in an earlier segment still shows as
  a seq gap between segments.

Durability per fsync policy:
- ``fsync=True`` (``--fsync batch``): each append is synced before it returns (``fdatasync``:
  the data, and the size when it changed; ``fsync`` where the OS has no fdatasync), the
  directory is fsynced when a segment is created or deleted, and ``close()`` fsyncs the
  truncated last segment, so an accepted command survives a power loss;
- ``fsync=False`` (``--fsync off``): appends are written to the OS without a sync. They survive
  a killed process; on power loss the OS's unflushed window is lost (and a segment left damaged
  before its successor is then reported as ``JournalCorrupt``). Call ``sync()`` before writing
  a snapshot so the snapshot never covers commands the journal could still lose.

Synchronous by design: the runner appends from the event loop and the blocking write + sync of
one batch is the group commit. Only ``make_room`` (and the runner's ``sync``) run in a thread.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import struct
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

import msgspec

from exchange.domain.commands import AnyCommand
from exchange.store.files import fsync_dir

__all__ = [
    "HEADER", "ROOM_BYTES", "SEGMENT_BYTES", "Journal", "JournalCorrupt", "JournalError", "Segment",
    "decode_record", "encode_record", "segment_name",
]  # fmt: skip

log = logging.getLogger(__name__)

#: Record header: payload length and CRC32 of the payload, both u32 big-endian.
HEADER = struct.Struct(">II")
SEGMENT_BYTES = 64 * 2**20
#: Zeros one ``make_room`` writes after the data; it is wanted below a quarter of this left.
ROOM_BYTES = 4 * 2**20
#: ``make_room`` writes its zeros this much at a time, holding the record writes' lock for each
#: piece only (tens of microseconds), so an append on the event loop never waits for long.
_ZERO_PIECE = 64 * 2**10
_ZEROS = memoryview(bytes(_ZERO_PIECE))
_MAX_PAYLOAD = 2**32 - 1
_NAME = re.compile(r"journal-(\d{20})\.log")
_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(list[AnyCommand])


class JournalError(Exception):
    """The journal cannot take this append (closed, or an earlier write failed)."""


class JournalCorrupt(JournalError):
    """Damage before the tail: start-up stops with this message instead of guessing."""


class Segment(NamedTuple):
    first_seq: int
    path: Path


def segment_name(first_seq: int) -> str:
    return f"journal-{first_seq:020d}.log"


def encode_record(commands: Sequence[AnyCommand]) -> bytes:
    """One framed record holding the whole batch."""
    payload = _ENCODER.encode(list(commands))
    if len(payload) > _MAX_PAYLOAD:
        raise ValueError(f"a batch of {len(payload)} bytes does not fit one journal record")
    return b"".join((HEADER.pack(len(payload), zlib.crc32(payload)), payload))


def decode_record(data: bytes | memoryview, offset: int) -> tuple[list[AnyCommand], int] | str:
    """The commands of the record at ``offset`` and the offset after it, or why it is not good."""
    if len(data) - offset < HEADER.size:
        return "short header"
    length, crc = HEADER.unpack_from(data, offset)
    start, end = offset + HEADER.size, offset + HEADER.size + length
    if end > len(data):
        return "short payload"
    payload = memoryview(data)[start:end]
    if zlib.crc32(payload) != crc:
        return "CRC mismatch"
    try:
        commands = _DECODER.decode(payload)
    except msgspec.DecodeError:
        return "undecodable payload"
    return (commands, end) if commands else "empty batch"


def _datasync(fd: int) -> None:
    """Flush the data (and the size if it changed) but not the times; fsync without fdatasync."""
    getattr(os, "fdatasync", os.fsync)(fd)


def _cut_and_close(fd: int, size: int, *, sync: bool) -> None:
    """Truncate a segment to its records (dropping unused room), optionally fsync, and close it."""
    try:
        os.ftruncate(fd, size)
        if sync:
            os.fsync(fd)
    finally:
        os.close(fd)


class _Scan(NamedTuple):
    last_seq: int  # seq of the segment's last good command (its first seq - 1 if none)
    good_end: int  # offset just after the last good record
    problem: str | None  # why the record at good_end is bad; None if only zeros, or nothing, follow


def _list_segments(directory: Path) -> list[Segment]:
    found = (_NAME.fullmatch(entry.name) for entry in directory.iterdir())
    return sorted(Segment(int(match[1]), directory / match[0]) for match in found if match)


def _all_zeros(data: bytes, start: int) -> bool:
    return data.count(0, start) == len(data) - start


def _good_record_after(data: bytes, start: int) -> int | None:
    """Offset of the first good record starting at or after ``start``, if any. A good record's
    length is not zero, so none starts after the last non-zero byte: the zeros of the room after
    a torn write are not tried offset by offset."""
    last_nonzero = len(data.rstrip(b"\0")) - 1
    for offset in range(start, min(last_nonzero, len(data) - HEADER.size) + 1):
        if not isinstance(decode_record(data, offset), str):
            return offset
    return None


def _check_seqs(path: Path, offset: int, commands: list[AnyCommand], expected: int) -> int:
    for command in commands:
        if command.seq != expected:
            raise JournalCorrupt(
                f"{path}: record at offset {offset} has seq {command.seq}, expected {expected}"
            )
        expected += 1
    return expected


def _scan_segment(segment: Segment, data: bytes) -> _Scan:
    """Check records and seq continuity; stop at zeros, or at a bad record if nothing good follows."""
    offset, expected = 0, segment.first_seq
    while offset < len(data):
        parsed = decode_record(data, offset)
        if isinstance(parsed, str):
            if _all_zeros(data, offset):
                break  # unused room
            following = _good_record_after(data, offset + 1)
            if following is not None:
                raise JournalCorrupt(
                    f"{segment.path}: {parsed} at offset {offset}, followed by a valid record at "
                    f"offset {following}: the journal is corrupt, not torn"
                )
            return _Scan(expected - 1, offset, parsed)
        commands, end = parsed
        expected = _check_seqs(segment.path, offset, commands, expected)
        offset = end
    return _Scan(expected - 1, offset, None)


class Journal:
    """Append-only, segmented command journal; build it with ``Journal.open``."""

    def __init__(self, directory: Path, *, fsync: bool, segment_bytes: int, room_bytes: int) -> None:
        self.directory = directory
        self.fsync = fsync
        self.segment_bytes = segment_bytes
        #: Zeros one ``make_room`` writes ahead of the data (0: never preallocate).
        self.room_bytes = room_bytes
        #: Seq of the last journaled command (0: the journal is empty).
        self.last_seq = 0
        self._segments: list[Segment] = []
        self._fd: int | None = None
        self._size = 0  # bytes of records in the last segment: where the next one is written
        self._allocated = 0  # end of the written and synced bytes: records below it grow nothing
        self._tail = 0  # bumped when the last segment changes (roll, close): make_room stops
        self._closed = False
        self._failed = False
        # Taken around every write and around the changes of _fd/_size/_allocated/_tail (held for
        # one record or one zero piece at most); _room one make_room at a time, and close waits.
        self._lock = threading.Lock()
        self._room = threading.Lock()

    @classmethod
    def open(
        cls,
        directory: Path,
        *,
        fsync: bool,
        segment_bytes: int = SEGMENT_BYTES,
        room_bytes: int = ROOM_BYTES,
    ) -> Journal:
        """Create the directory if needed, recover the segments in it and get ready to append."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        journal = cls(directory, fsync=fsync, segment_bytes=segment_bytes, room_bytes=room_bytes)
        journal._recover()
        return journal

    @property
    def segments(self) -> list[Path]:
        return [segment.path for segment in self._segments]

    # -- recovery --------------------------------------------------------------------------

    def _recover(self) -> None:
        segments = _list_segments(self.directory)
        last_seq, size = 0, 0
        for index, segment in enumerate(segments):
            if index and segment.first_seq != last_seq + 1:
                raise JournalCorrupt(
                    f"{segment.path}: segment starts at seq {segment.first_seq} but the previous one "
                    f"ends at seq {last_seq}"
                )
            last_seq, size = self._recover_segment(segment, is_last=index == len(segments) - 1)
        if segments and size == 0:  # nothing written to it, or all of it torn
            self._remove_empty(segments.pop())
            size = segments[-1].path.stat().st_size if segments else 0  # truncated to its records
        self._segments, self._size, self._allocated = segments, size, size
        self.last_seq = last_seq if segments else 0
        if segments:
            self._fd = os.open(segments[-1].path, os.O_RDWR)

    def _recover_segment(self, segment: Segment, *, is_last: bool) -> tuple[int, int]:
        """(last seq, good size) of one segment, truncated to it: a zero tail quietly, a torn
        tail (last segment only) with a warning."""
        data = segment.path.read_bytes()
        scan = _scan_segment(segment, data)
        if scan.problem is not None and not is_last:
            raise JournalCorrupt(
                f"{segment.path}: {scan.problem} at offset {scan.good_end} in a segment that is not the "
                "last: the journal is corrupt"
            )
        if scan.good_end == 0 and not is_last:
            raise JournalCorrupt(f"{segment.path}: empty segment before the last one")
        if scan.good_end < len(data):
            self._truncate(segment.path, scan.good_end, len(data), scan.problem)
        return scan.last_seq, scan.good_end

    def _truncate(self, path: Path, good_end: int, size: int, problem: str | None) -> None:
        _cut_and_close(os.open(path, os.O_WRONLY), good_end, sync=self.fsync)
        if problem is None:
            log.debug(
                "journal %s: dropped %d bytes of unused room at offset %d", path, size - good_end, good_end
            )
            return
        log.warning(
            "journal %s: dropped a torn tail of %d bytes at offset %d (%s)",
            path,
            size - good_end,
            good_end,
            problem,
        )

    def _remove_empty(self, segment: Segment) -> None:
        segment.path.unlink()
        if self.fsync:
            fsync_dir(self.directory)
        log.info("journal %s: removed the empty last segment", segment.path)

    # -- appending -------------------------------------------------------------------------

    def append(self, commands: Sequence[AnyCommand], *, sync: bool = True) -> None:
        """Write the batch as one record (synced if ``fsync`` and ``sync``); seqs must continue
        ``last_seq``. ``sync=False`` leaves the sync to the caller (``sync()``, e.g. in a thread
        while the event loop gathers the next batch: group commit)."""
        if not commands:
            return
        if self._closed or self._failed:
            raise JournalError("the journal is closed" if self._closed else "an earlier journal write failed")
        first, last = commands[0].seq, commands[-1].seq
        if (self.last_seq and first != self.last_seq + 1) or last - first != len(commands) - 1:
            raise ValueError(
                f"batch seqs {first}..{last} ({len(commands)} commands) do not continue the journal, which "
                f"ends at seq {self.last_seq}"
            )
        record = encode_record(commands)
        if self._fd is None or self._size >= self.segment_bytes:
            self._roll(first)
        self._write(record, sync)
        self.last_seq = last

    def _roll(self, first_seq: int) -> None:
        """Start a new segment with no room (make_room fills it in a thread), and cut the finished
        one to its records: an ftruncate, cheap enough here; unsynced, since a crash that leaves
        its zeros only leaves a zero tail that recovery accepts."""
        path = self.directory / segment_name(first_seq)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        with self._lock:  # a make_room still writing zeros into the finished segment stops
            finished, self._fd = self._fd, fd
            size, self._size, self._allocated = self._size, 0, 0
            self._tail += 1
        self._segments.append(Segment(first_seq, path))
        if finished is not None:
            _cut_and_close(finished, size, sync=False)
        if self.fsync:
            fsync_dir(self.directory)

    def _write(self, record: bytes, sync: bool = True) -> None:
        assert self._fd is not None
        fd, view, written, offset = self._fd, memoryview(record), 0, self._size
        try:
            with self._lock:  # make_room writes its zeros only after the data end it sees
                while written < len(record):  # one write, unless the OS writes less
                    written += os.pwrite(fd, view[written:], offset + written)
                self._size += written
            if self.fsync and sync:
                _datasync(fd)
        except BaseException:
            self._failed = True  # after a failed sync the file's state is unknown: never retry
            with self._lock, contextlib.suppress(OSError):
                self._size = offset
                os.ftruncate(fd, offset)
            raise

    @property
    def active_path(self) -> Path | None:
        """The segment appends go to (None before the first append of a new journal)."""
        return self._segments[-1].path if self._segments else None

    def sync(self) -> None:
        """fdatasync the last segment whatever the policy (before a snapshot is written)."""
        if self._fd is not None:
            _datasync(self._fd)

    # -- preallocation -------------------------------------------------------------------------

    @property
    def wants_room(self) -> bool:
        """Less than a quarter of ``room_bytes`` of written-and-synced zeros left after the data
        (and the segment not yet at ``segment_bytes``): time to call ``make_room`` in a thread."""
        return (
            self.room_bytes > 0
            and self._fd is not None
            and not (self._closed or self._failed)
            and self._allocated < self.segment_bytes
            and self._allocated - self._size < self.room_bytes // 4
        )

    def make_room(self) -> None:
        """Write ``room_bytes`` of zeros after the data (up to ``segment_bytes``) and fdatasync
        them, so that the records then written over them do not grow the file. Blocking for
        milliseconds: call it in a thread. One call at a time; one made unnecessary by the one
        before it returns at once. A disk error is logged, not raised, and preallocation stops:
        appends then grow the file, which is slower but just as correct."""
        with self._room:
            try:
                self._make_room()
            except OSError as exc:
                log.warning("journal: could not preallocate room (%s); appends grow the file instead", exc)
                self.room_bytes = 0

    def _make_room(self) -> None:
        with self._lock:
            if not self.wants_room:
                return
            assert self._fd is not None
            tail, fd = self._tail, os.dup(self._fd)  # the dup outlives a roll or a close
            start = max(self._allocated, self._size)
            end = min(start + self.room_bytes, self.segment_bytes)
        try:
            if self._write_zeros(fd, tail, start, end):
                _datasync(fd)
                with self._lock:
                    if self._tail == tail:
                        self._allocated = max(self._allocated, end)
        finally:
            os.close(fd)

    def _write_zeros(self, fd: int, tail: int, offset: int, end: int) -> bool:
        """Zeros up to ``end``, a piece at a time, each at or after the data end of its moment;
        False if the segment was rolled, closed or failed meanwhile."""
        while True:
            with self._lock:
                if self._tail != tail or self._failed:
                    return False
                offset = max(offset, self._size)
                if offset >= end:
                    return True
                offset += os.pwrite(fd, _ZEROS[: end - offset], offset)
            time.sleep(0)  # Python's locks are not fair: without this, a waiting append starves

    # -- reading and pruning -----------------------------------------------------------------

    def replay(self, after_seq: int = 0) -> Iterator[AnyCommand]:
        """Every journaled command with seq > ``after_seq``, in order."""
        segments = list(self._segments)
        if segments and segments[0].first_seq > after_seq + 1:
            raise JournalCorrupt(
                f"{segments[0].path}: the journal starts at seq {segments[0].first_seq}, but replay needs "
                f"seq {after_seq + 1} on"
            )
        for index, segment in enumerate(segments):
            following = segments[index + 1] if index + 1 < len(segments) else None
            if following is None or following.first_seq > after_seq + 1:
                yield from _read_segment(segment, after_seq)

    def drop_before(self, seq: int) -> int:
        """Delete the segments whose commands are all <= ``seq`` (never the last); how many."""
        dropped = 0
        while len(self._segments) > 1 and self._segments[1].first_seq <= seq + 1:
            self._segments.pop(0).path.unlink()
            dropped += 1
        if dropped and self.fsync:
            fsync_dir(self.directory)
        return dropped

    def close(self) -> None:
        """Wait for a running make_room, then cut the last segment to its records (fsynced with
        ``fsync``): a cleanly closed journal holds no zeros."""
        with self._room, self._lock:
            fd, self._fd = self._fd, None
            self._tail += 1
            self._closed = True
        if fd is not None:
            _cut_and_close(fd, self._size, sync=self.fsync)

    def __enter__(self) -> Journal:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _read_segment(segment: Segment, after_seq: int) -> Iterator[AnyCommand]:
    data = segment.path.read_bytes()
    offset = 0
    while offset < len(data):
        parsed = decode_record(data, offset)
        if isinstance(parsed, str):
            if _all_zeros(data, offset):
                return  # unused room after the records
            raise JournalCorrupt(
                f"{segment.path}: {parsed} at offset {offset} (changed since the journal opened)"
            )
        commands, offset = parsed
        if commands[-1].seq > after_seq:
            yield from commands[max(0, after_seq + 1 - commands[0].seq) :]
