"""The child end of ``SyncProcess``: fdatasync the file each request names, answer in order.

Requests on stdin, one per line: a journal segment's path. For every request an answer line on
stdout: empty when the file's data is on disk, else the error text (and then the child exits:
after a failed sync the file's state is unknown, so nothing may be acknowledged any more).
Requests that are already waiting when a sync starts share it: each was sent after its data was
written, and one fdatasync covers every write made to the file before it.

Run as ``python -m exchange.store.sync_child``; it imports nothing of the exchange, so it starts
in a few milliseconds, and it ends when its stdin does (the server closed it, or died).
"""

from __future__ import annotations

import os
import signal

_datasync = getattr(os, "fdatasync", os.fsync)


def main() -> int:
    # Ctrl-C reaches the whole process group, but the server's shutdown still syncs its last
    # batches through this child: the child leaves when the server closes its stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    path, fd, pending = b"", -1, b""
    while chunk := os.read(0, 65536):
        pending += chunk
        *requests, pending = pending.split(b"\n")
        try:
            for wanted in dict.fromkeys(requests):  # distinct paths, in order: one sync each
                if wanted != path:  # the journal rolled to a new segment (paths only move on)
                    if fd >= 0:
                        os.close(fd)
                    path, fd = wanted, os.open(wanted, os.O_RDONLY)
                _datasync(fd)
        except OSError as exc:
            os.write(1, f"sync of {wanted.decode(errors='replace')} failed: {exc}\n".encode())
            return 1
        if requests:
            os.write(1, b"\n" * len(requests))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
