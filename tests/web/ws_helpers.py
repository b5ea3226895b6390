"""A deliberately bad WebSocket peer: handshakes over a raw socket, then never reads."""

from __future__ import annotations

import base64
import os
import socket
import struct

import orjson


def masked_text_frame(payload: bytes) -> bytes:
    mask = os.urandom(4)
    header = bytes([0x81])
    n = len(payload)
    if n < 126:
        header += bytes([0x80 | n])
    elif n < 65536:
        header += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        header += bytes([0x80 | 127]) + struct.pack("!Q", n)
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + body


class StalledReader:
    """Connects with a tiny receive buffer, subscribes, and then reads nothing at all."""

    def __init__(self, host: str, port: int, path: str = "/ws") -> None:
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        self.sock.settimeout(5)
        self.sock.connect((host, port))
        key = base64.b64encode(os.urandom(16)).decode()
        self.sock.sendall(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n".encode()
        )
        head = b""
        while b"\r\n\r\n" not in head:
            head += self.sock.recv(1)
        assert head.startswith(b"HTTP/1.1 101"), head

    def subscribe(self, *streams: str) -> None:
        message = orjson.dumps({"method": "SUBSCRIBE", "params": list(streams), "id": 1})
        self.sock.sendall(masked_text_frame(message))

    def read_all(self) -> bytes:
        """Drain whatever the server sent, up to the close (for inspecting the close frame)."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        chunks = []
        try:
            while chunk := self.sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ConnectionResetError):
            pass
        return b"".join(chunks)

    def close(self) -> None:
        self.sock.close()
