"""``exchangeInfo`` and the tickers: the venue's markets and market data in Binance's shapes.

Every number comes from the market's own config (docs/API.md's filters), so what a client reads
here is what the engine enforces: PRICE_FILTER is the tick grid and ``maxPrice`` (``minPrice``
is one tick: a price must be above zero), LOT_SIZE and MARKET_LOT_SIZE the step grid, ``minQty``
and ``maxQty``, MIN_NOTIONAL and NOTIONAL the market's ``minNotional`` (applied to market orders
too; the notional has no maximum beyond ``maxPrice x maxQty``).
"""

from __future__ import annotations

from typing import Any

from exchange.domain.markets import Market
from exchange.domain.units import format_scaled
from exchange.service.marketdata import DAY, Ticker

Json = dict[str, Any]
ORDER_TYPES = ["LIMIT", "LIMIT_MAKER", "MARKET"]
TIME_IN_FORCE = ["GTC", "IOC", "FOK"]
STP_MODES = ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"]
#: The config's market status -> Binance's; any other text stops trading, as HALT does.
_STATUS = {"TRADING": "TRADING", "BREAK": "BREAK"}


def status(m: Market) -> str:
    return _STATUS.get(m.status, "HALT")


def filters(m: Market) -> list[Json]:
    price, qty = m.price, m.qty
    lot = {"minQty": qty.format(m.min_qty), "maxQty": qty.format(qty.max_steps), "stepSize": qty.step_text}
    notional = m.quote.format(m.min_notional)
    return [
        {"filterType": "PRICE_FILTER", "minPrice": price.format(1), "maxPrice": price.format(price.max_steps),
         "tickSize": price.step_text},
        {"filterType": "LOT_SIZE", **lot},
        {"filterType": "MARKET_LOT_SIZE", **lot},
        {"filterType": "MIN_NOTIONAL", "minNotional": notional, "applyToMarket": True, "avgPriceMins": 5},
        {"filterType": "NOTIONAL", "minNotional": notional, "applyMinToMarket": True,
         "maxNotional": m.quote.format(m.notional(price.max_steps, qty.max_steps)), "applyMaxToMarket": False,
         "avgPriceMins": 5},
    ]  # fmt: skip


def symbol_json(name: str, m: Market) -> Json:
    base, quote = m.base, m.quote
    return {
        "symbol": name, "status": status(m),
        "baseAsset": base.name, "baseAssetPrecision": base.decimals,
        "quoteAsset": quote.name, "quotePrecision": quote.decimals, "quoteAssetPrecision": quote.decimals,
        "baseCommissionPrecision": base.decimals, "quoteCommissionPrecision": quote.decimals,
        "orderTypes": ORDER_TYPES, "icebergAllowed": False, "ocoAllowed": False, "otoAllowed": False,
        "quoteOrderQtyMarketAllowed": True, "allowTrailingStop": False, "cancelReplaceAllowed": True,
        "amendAllowed": False, "isSpotTradingAllowed": True, "isMarginTradingAllowed": False,
        "filters": filters(m), "permissions": [], "permissionSets": [["SPOT"]],
        "defaultSelfTradePreventionMode": "EXPIRE_TAKER", "allowedSelfTradePreventionModes": STP_MODES,
    }  # fmt: skip


def weighted_avg(m: Market, quote_volume: int, volume: int) -> str:
    """``quote_volume / volume`` as a price, rounded half up to the tick ("0" without volume)."""
    if not volume:
        return m.price.format(0)
    per_tick = volume * m.quote_per_tick_step
    return m.price.format((2 * quote_volume + per_tick) // (2 * per_tick))


def _opt(m: Market, ticks: int | None) -> str:
    return m.price.format(ticks or 0)


def window_json(name: str, m: Market, t: Ticker, now: int) -> Json:
    """The rolling-window fields ``ticker/24hr`` and ``ticker`` share (24 h, one-minute steps)."""
    return {
        "symbol": name, "priceChange": _opt(m, t.price_change),
        "priceChangePercent": format_scaled(t.price_change_bp or 0, 2),
        "weightedAvgPrice": weighted_avg(m, t.quote_volume, t.volume),
        "openPrice": _opt(m, t.open), "highPrice": _opt(m, t.high), "lowPrice": _opt(m, t.low),
        "lastPrice": _opt(m, t.last_price), "volume": m.qty.format(t.volume),
        "quoteVolume": m.quote.format(t.quote_volume), "openTime": now - DAY, "closeTime": now,
        "firstId": -1, "lastId": -1, "count": t.trades,
    }  # fmt: skip


def book_json(name: str, m: Market, bid: tuple[int, int] | None, ask: tuple[int, int] | None) -> Json:
    bid_price, bid_qty = bid or (0, 0)
    ask_price, ask_qty = ask or (0, 0)
    return {
        "symbol": name, "bidPrice": m.price.format(bid_price), "bidQty": m.qty.format(bid_qty),
        "askPrice": m.price.format(ask_price), "askQty": m.qty.format(ask_qty),
    }  # fmt: skip
