"""The WebSocket transport of ``/ws``: the connection handler (handler.py), stream names
(streams.py), the market and private feeds built from engine events (feed.py), topic fan-out
(hub.py) and each connection's bounded, framed outbox (outbox.py)."""
