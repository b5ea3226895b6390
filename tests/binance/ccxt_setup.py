"""ccxt's binance class pointed at a local server, as docs/BINANCE.md configures it."""

from __future__ import annotations

from typing import Any

OPTIONS = {"fetchCurrencies": False, "fetchMargins": False, "fetchMarkets": {"types": ["spot"]}}


def binance(kind: Any, url: str, api_key: str | None = None, secret: str | None = None) -> Any:
    """``kind`` (ccxt.binance or its async twin) on ``url``'s /api/v3 with the three options."""
    base = url + "/api/v3"
    ex = kind({
        "apiKey": api_key, "secret": secret,
        "enableRateLimit": False, "urls": {"api": {"public": base, "private": base}}, "options": OPTIONS,
    })  # fmt: skip
    # Safety net: every other API URL ccxt knows points here too, so a call the three options
    # should have avoided fails locally (404) instead of leaving 127.0.0.1.
    for key, value in list(ex.urls["api"].items()):
        if key not in ("public", "private") and isinstance(value, str):
            ex.urls["api"][key] = f"{url}/elsewhere/{key}"
    return ex
