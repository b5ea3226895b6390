"""Snapshot files: one msgpack-encoded state per file, written atomically, newest first on load.

A snapshot at ``seq`` holds everything the journal's first ``seq`` commands produced, so start-up
is: the newest snapshot that reads back, then the journal after its ``seq`` (what a snapshot
holds is the service's business: service/snapshotter.py). Files are
``snapshot-<seq:020d>.msgpack`` under ``<data-dir>/snapshots``; each is written to a temp file,
fsynced, renamed into place and the directory fsynced, so a crash leaves either the whole new
file or none. A file that does not decode is skipped with a warning (the older one serves).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
from collections.abc import Hashable
from pathlib import Path
from typing import Any, Protocol, TypeVar, cast

import msgspec

from exchange.domain.snapshots import FORMAT_1_FIELDS, EngineSnapshot
from exchange.store.files import fsync_dir

log = logging.getLogger(__name__)
_PREFIX, _SUFFIX = "snapshot-", ".msgpack"


class Sequenced(Protocol):
    @property
    def seq(self) -> int: ...


S = TypeVar("S")


def state_hash(engine: EngineSnapshot) -> str:
    """SHA-256 of the engine state's canonical msgpack bytes (equal states, equal hashes)."""
    return hashlib.sha256(msgspec.msgpack.encode(engine)).hexdigest()


def written_hash(engine: EngineSnapshot) -> str:
    """The hash the snapshot's writer recorded for ``engine`` as read: a format-1 snapshot's
    covers the fields that format has (the same map, in the same order, the same bytes)."""
    if engine.format == 1:
        fields = {name: getattr(engine, name) for name in FORMAT_1_FIELDS}
        return hashlib.sha256(msgspec.msgpack.encode(fields)).hexdigest()
    return state_hash(engine)


_encoder = msgspec.msgpack.Encoder()


@functools.cache
def _decoder(kind: Hashable) -> msgspec.msgpack.Decoder[Any]:
    return msgspec.msgpack.Decoder(kind)


def path_of(directory: Path, seq: int) -> Path:
    return directory / f"{_PREFIX}{seq:020d}{_SUFFIX}"


def write(directory: Path, snap: Sequenced) -> Path:
    """Write ``snap`` atomically and durably; returns its path."""
    directory.mkdir(parents=True, exist_ok=True)
    final = path_of(directory, snap.seq)
    temp = final.with_suffix(".tmp")
    data = _encoder.encode(snap)
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(temp, final)
    fsync_dir(directory)
    return final


def snapshots(directory: Path) -> list[Path]:
    """Snapshot files, oldest first."""
    return sorted(directory.glob(f"{_PREFIX}*{_SUFFIX}")) if directory.exists() else []


def load_latest(directory: Path, kind: type[S]) -> S | None:
    """The newest snapshot that decodes as ``kind``, or None."""
    for path in reversed(snapshots(directory)):
        try:
            loaded: S = _decoder(cast(Hashable, kind)).decode(path.read_bytes())
            return loaded
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("skipping unreadable snapshot %s: %s", path.name, exc)
    return None


def prune(directory: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` snapshots (and stray temp files)."""
    for path in snapshots(directory)[:-keep] if keep > 0 else snapshots(directory):
        path.unlink(missing_ok=True)
    for temp in directory.glob("*.tmp") if directory.exists() else []:
        temp.unlink(missing_ok=True)
