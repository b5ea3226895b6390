"""The Binance-compatible face of the exchange: Binance's spot API shapes over the same engine.

A bot written against Binance's spot API (through ccxt or Binance's own SDKs) runs here with its
base URLs changed (docs/BINANCE.md). This package owns what is Binance's and nothing else:

- ``symbols``: Binance's compact names (``SOLUSDC``) <-> the venue's markets (``SOL_USDC``);
- ``wire``: Binance's JSON shapes of orders, fills and trades, built from the engine's values;
- ``params``: Binance's parameters (query string and form body) read strictly, with its codes;
- ``auth``: Binance's signed requests (``X-MBX-APIKEY``, ``timestamp``, ``recvWindow``) and the
  request-weight and order-count limits it announces;
- ``public``, ``trading``: the REST handlers under ``/api/v3``; ``routes`` their table;
- ``stream_names``, ``stream_frames``, ``streams``, ``stream_socket``: the market streams under
  ``/binance`` (``/binance/ws``, ``/binance/stream``), rendered from the one feed;
- ``ws_api*``: the WebSocket API at ``/ws-api/v3``; ``user_stream`` its user data stream;
  ``ws_routes`` the WebSocket routes.

The rules stay where they are: the engine decides, the error catalogue (web/errors.py) holds each
error's Binance answer, the signing (exchange/signing.py) is shared with the native API.
"""
