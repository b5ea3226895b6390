"""Journal: every command the engine accepts, appended before its reply or events leave.

Record format: one record per runner batch, so one write (and one fsync) per batch::

    [payload length: u32 big-endian][CRC32 of the payload: u32 big-endian][payload]

where the payload is a msgpack array of the batch's commands (msgspec's tagged ``AnyCommand``
Structs, already stamped with ``seq`` and ``ts``). A batch is never empty.

Segments: ``journal-<first seq, 20 digits>.log`` files in the journal directory, each holding
the records from the command whose seq is in its name on. Appends go to the last segment; once
it holds ``segment_bytes`` or more, the next batch starts a new one (a batch is never split).
``drop_before(seq)`` deletes, oldest first, the segments whose commands are all <= ``seq`` (after
a snapshot covering them); the last segment is never deleted, since appends still go to it.

Recovery (``Journal.open``) reads every segment in order and checks every record (length, CRC,
decodable payload) and that seqs go up by exactly one across records and segments:
- a bad record at the very end of the last segment (short header, short payload, CRC mismatch,
  undecodable payload, zeros), with nothing after it that parses as a good record, is a write
  torn by a crash: it is truncated away and logged as a warning; a last segment left empty is
  removed;
- a bad record anywhere else (in an earlier segment, or followed by a good record), a seq gap, or
  a segment whose name disagrees with its first command raises ``JournalCorrupt`` naming the
  file and offset: start-up stops rather than guessing which commands happened.

Durability per fsync policy:
- ``fsync=True`` (``--fsync batch``): each append is fsynced before it returns, and the
  directory is fsynced when a segment is created or deleted, so an accepted command survives
  a power loss;
- ``fsync=False`` (``--fsync off``): appends are written to the OS without fsync. They survive
  a killed process; on power loss the OS's unflushed window is lost (and a segment left damaged
  before its successor is then reported as ``JournalCorrupt``). Call ``sync()`` before writing
  a snapshot so the snapshot never covers commands the journal could still lose.

Synchronous by design: the runner appends from the event loop and the blocking write + fsync of
one batch is the group commit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import struct
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import TracebackType
from typing import NamedTuple

import msgspec

from exchange.domain.commands import AnyCommand
from exchange.store.files import fsync_dir

__all__ = [
    "HEADER", "SEGMENT_BYTES", "Journal", "JournalCorrupt", "JournalError", "Segment", "decode_record",
    "encode_record", "segment_name",
]  # fmt: skip

log = logging.getLogger(__name__)

#: Record header: payload length and CRC32 of the payload, both u32 big-endian.
HEADER = struct.Struct(">II")
SEGMENT_BYTES = 64 * 2**20
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


class _Scan(NamedTuple):
    last_seq: int  # seq of the segment's last good command (its first seq - 1 if none)
    good_end: int  # offset just after the last good record
    problem: str | None  # why the record at good_end is bad; None if the file ends there


def _list_segments(directory: Path) -> list[Segment]:
    found = (_NAME.fullmatch(entry.name) for entry in directory.iterdir())
    return sorted(Segment(int(match[1]), directory / match[0]) for match in found if match)


def _good_record_after(data: bytes, start: int) -> int | None:
    """Offset of the first good record starting at or after ``start``, if any."""
    if data.count(0, start) == len(data) - start:
        return None  # a zero-filled tail (possible after a crash) holds no record
    for offset in range(start, len(data) - HEADER.size + 1):
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
    """Check records and seq continuity; stop at a bad record only if nothing good follows it."""
    offset, expected = 0, segment.first_seq
    while offset < len(data):
        parsed = decode_record(data, offset)
        if isinstance(parsed, str):
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

    def __init__(self, directory: Path, *, fsync: bool, segment_bytes: int) -> None:
        self.directory = directory
        self.fsync = fsync
        self.segment_bytes = segment_bytes
        #: Seq of the last journaled command (0: the journal is empty).
        self.last_seq = 0
        self._segments: list[Segment] = []
        self._fd: int | None = None
        self._size = 0  # bytes in the last segment
        self._closed = False
        self._failed = False

    @classmethod
    def open(cls, directory: Path, *, fsync: bool, segment_bytes: int = SEGMENT_BYTES) -> Journal:
        """Create the directory if needed, recover the segments in it and get ready to append."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        journal = cls(directory, fsync=fsync, segment_bytes=segment_bytes)
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
            size = segments[-1].path.stat().st_size if segments else 0
        self._segments, self._size = segments, size
        self.last_seq = last_seq if segments else 0
        if segments:
            self._fd = os.open(segments[-1].path, os.O_WRONLY | os.O_APPEND)

    def _recover_segment(self, segment: Segment, *, is_last: bool) -> tuple[int, int]:
        """(last seq, good size) of one segment; truncates a torn tail of the last one."""
        data = segment.path.read_bytes()
        scan = _scan_segment(segment, data)
        if scan.problem is not None and not is_last:
            raise JournalCorrupt(
                f"{segment.path}: {scan.problem} at offset {scan.good_end} in a segment that is not the "
                "last: the journal is corrupt"
            )
        if not data and not is_last:
            raise JournalCorrupt(f"{segment.path}: empty segment before the last one")
        if scan.problem is not None:
            self._truncate(segment.path, scan.good_end, len(data), scan.problem)
        return scan.last_seq, scan.good_end

    def _truncate(self, path: Path, good_end: int, size: int, problem: str) -> None:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.ftruncate(fd, good_end)
            if self.fsync:
                os.fsync(fd)
        finally:
            os.close(fd)
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
        """Write the batch as one record (fsynced if ``fsync`` and ``sync``); seqs must continue
        ``last_seq``. ``sync=False`` leaves the fsync to the caller (``sync()``, e.g. in a thread
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
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        path = self.directory / segment_name(first_seq)
        self._fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, 0o644)
        self._segments.append(Segment(first_seq, path))
        self._size = 0
        if self.fsync:
            fsync_dir(self.directory)

    def _write(self, record: bytes, sync: bool = True) -> None:
        assert self._fd is not None
        fd, view, written = self._fd, memoryview(record), 0
        try:
            while written < len(record):  # one write, unless the OS writes less
                written += os.write(fd, view[written:])
            if self.fsync and sync:
                os.fsync(fd)
        except BaseException:
            self._failed = True  # after a failed fsync the file's state is unknown: never retry
            with contextlib.suppress(OSError):
                os.ftruncate(fd, self._size)
            raise
        self._size += len(record)

    def sync(self) -> None:
        """fsync the last segment whatever the policy (before a snapshot is written)."""
        if self._fd is not None:
            os.fsync(self._fd)

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
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        self._closed = True

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
            raise JournalCorrupt(
                f"{segment.path}: {parsed} at offset {offset} (changed since the journal opened)"
            )
        commands, offset = parsed
        if commands[-1].seq > after_seq:
            yield from commands[max(0, after_seq + 1 - commands[0].seq) :]
