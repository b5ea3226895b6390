"""The Binance-compatible face: REST under /api/v3, market streams under /binance, the
WebSocket API at /ws-api/v3 (docs/BINANCE.md)."""
