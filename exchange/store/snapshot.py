"""Snapshots: the whole state (engine, market data, recent history) as one msgpack file.

A snapshot at ``seq`` holds everything the journal's first ``seq`` commands produced, so start-up
is: the newest snapshot that reads back, then the journal after its ``seq``. Files are
``snapshot-<seq:020d>.msgpack`` under ``<data-dir>/snapshots``; each is written to a temp file,
fsynced, renamed into place and the directory fsynced, so a crash leaves either the whole new
file or none. A file that does not decode is skipped with a warning (the older one serves).
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import msgspec

from exchange.domain.snapshots import EngineSnapshot
from exchange.service.marketdata import MarketDataSnapshot
from exchange.service.userdata import UserDataSnapshot
from exchange.store.files import fsync_dir

log = logging.getLogger(__name__)
_PREFIX, _SUFFIX = "snapshot-", ".msgpack"


class Snapshot(msgspec.Struct, frozen=True):
    seq: int
    ts: int
    engine: EngineSnapshot
    marketdata: MarketDataSnapshot
    userdata: UserDataSnapshot
    #: ``state_hash(engine)`` when taken: a restore must reproduce it exactly.
    engine_hash: str = ""


def state_hash(engine: EngineSnapshot) -> str:
    """SHA-256 of the engine state's canonical msgpack bytes (equal states, equal hashes)."""
    return hashlib.sha256(msgspec.msgpack.encode(engine)).hexdigest()


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(Snapshot)


def path_of(directory: Path, seq: int) -> Path:
    return directory / f"{_PREFIX}{seq:020d}{_SUFFIX}"


def write(directory: Path, snap: Snapshot) -> Path:
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


def load_latest(directory: Path) -> Snapshot | None:
    """The newest snapshot that decodes, or None."""
    for path in reversed(snapshots(directory)):
        try:
            return _decoder.decode(path.read_bytes())
        except (OSError, msgspec.DecodeError, msgspec.ValidationError) as exc:
            log.warning("skipping unreadable snapshot %s: %s", path.name, exc)
    return None


def prune(directory: Path, keep: int) -> None:
    """Delete all but the newest ``keep`` snapshots (and stray temp files)."""
    for path in snapshots(directory)[:-keep] if keep > 0 else snapshots(directory):
        path.unlink(missing_ok=True)
    for temp in directory.glob("*.tmp") if directory.exists() else []:
        temp.unlink(missing_ok=True)
