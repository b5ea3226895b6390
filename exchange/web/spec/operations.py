"""Every native REST operation under /api/v1, declared once: routes.py registers the routes
from this table and openapi.py writes the document from it (declare.py says what an entry holds).
"""

from __future__ import annotations

from exchange.web import account_api, admin_api, admin_funding, funding_api, public_api, schemas, trading_api
from exchange.web import queries as q
from exchange.web.spec import responses as r
from exchange.web.spec import serve
from exchange.web.spec.declare import ENGINE, ORDER_RULES, READS, Auth, Operation

PUBLIC, KEY, OPERATOR = Auth.NONE, Auth.KEY_OR_SESSION, Auth.OPERATOR
MARKET = ("INVALID_REQUEST", "UNKNOWN_SYMBOL", "UNAVAILABLE")  # a market's data: 503 while resyncing
OWN = ("INVALID_REQUEST", "UNKNOWN_SYMBOL", *READS)  # the caller's own views
_CREDENTIALS = ("INVALID_REQUEST", "RATE_LIMITED")
_WITHDRAWAL_RULES = (
    "INVALID_REQUEST", "UNKNOWN_ASSET", "INVALID_QUANTITY", "INSUFFICIENT_FUNDS", "DUPLICATE_REQUEST",
    *ENGINE,
)  # fmt: skip

#: The place-order link: the answer's orderId names the order to read, cancel or amend.
_ORDER_LINKS = {
    "GetOrder": {"operationId": "getOrder", "parameters": {
        "orderId": "$response.body#/orderId", "symbol": "$response.body#/symbol"}},
    "CancelOrder": {"operationId": "cancelOrder", "requestBody": {
        "symbol": "$response.body#/symbol", "orderId": "$response.body#/orderId"}},
    "AmendOrder": {"operationId": "amendOrder", "requestBody": {
        "symbol": "$response.body#/symbol", "orderId": "$response.body#/orderId", "quantity": "0.01"}},
}  # fmt: skip
#: After signup or login the cookie session may create an API key and read itself.
_SESSION_LINKS = {
    "CreateApiKey": {"operationId": "createApiKey", "description": "with the session cookie set here "
                     "and X-CSRF-Token: $response.body#/csrfToken"},
    "Me": {"operationId": "me"},
}  # fmt: skip
_SET_COOKIE = {"Set-Cookie": {"description": "`session=...; HttpOnly; SameSite=Strict; Path=/`",
                              "schema": {"type": "string"}}}  # fmt: skip
_ORDER_EXAMPLE = {
    "orderId": "7", "clientOrderId": "bid-1", "symbol": "SOL_USDC", "side": "buy", "type": "limit",
    "timeInForce": "GTC", "price": "99.50", "quantity": "2.00", "executedQty": "0.00",
    "executedQuoteQty": "0.000000", "status": "NEW", "postOnly": False,
    "selfTradePrevention": "expire_taker", "fills": [], "createdAt": 1700000000000,
    "updatedAt": 1700000000000,
}  # fmt: skip
_CREDENTIALS_EXAMPLE = {
    "alice": {"summary": "a new user", "value": {"username": "alice", "password": "correct horse battery"}}
}

_PLACE_EXAMPLES = {
    "limit": {"summary": "a limit buy, GTC", "value": {
        "symbol": "SOL_USDC", "side": "buy", "type": "limit", "price": "99.50", "quantity": "2",
        "clientOrderId": "bid-1"}},
    "market": {"summary": "a market sell", "value": {
        "symbol": "SOL_USDC", "side": "sell", "type": "market", "quantity": "1.5"}},
    "marketByQuote": {"summary": "a market buy spending up to 100 USDC", "value": {
        "symbol": "SOL_USDC", "side": "buy", "type": "market", "quoteQuantity": "100"}},
}  # fmt: skip

# fmt: off
OPERATIONS: tuple[Operation, ...] = (
    # -- the documents themselves ------------------------------------------------------------
    Operation("GET", "/openapi.json", serve.openapi_json, "openapi", "This document (OpenAPI 3.1)",
              "meta", PUBLIC, dict),
    Operation("GET", "/asyncapi.json", serve.asyncapi_json, "asyncapi",
              "The WebSocket /ws as an AsyncAPI 3 document", "meta", PUBLIC, dict),
    # -- public ----------------------------------------------------------------------------------
    Operation("GET", "/time", public_api.server_time, "serverTime", "Server time", "public", PUBLIC,
              r.ServerTime, response_example={"serverTime": 1700000000000}),
    Operation("GET", "/markets", public_api.markets, "markets", "Every market and its rules", "public",
              PUBLIC, list[r.MarketInfo]),
    Operation("GET", "/assets", public_api.assets, "assets", "Every asset", "public", PUBLIC,
              list[r.AssetInfo], response_example=[{"asset": "USDC", "decimals": 6}]),
    Operation("GET", "/limits", public_api.limits, "limits", "Every limit this server enforces",
              "public", PUBLIC, r.LimitsAnswer),
    Operation("GET", "/depth", public_api.depth, "depth", "A market's order book", "public", PUBLIC,
              r.Depth, MARKET, query=q.DepthQuery),
    Operation("GET", "/trades", public_api.trades, "trades", "A market's trades, newest first", "public",
              PUBLIC, list[r.Trade], (*MARKET, *READS), query=q.TradesQuery),
    Operation("GET", "/klines", public_api.klines, "klines", "A market's candles, oldest first", "public",
              PUBLIC, list[r.Kline], (*MARKET, *READS), query=q.KlinesQuery),
    Operation("GET", "/tickers", public_api.tickers, "tickers", "Every market's 24 h ticker", "public",
              PUBLIC, list[r.Ticker], ("UNAVAILABLE",)),
    Operation("GET", "/ticker", public_api.ticker, "ticker", "A market's 24 h ticker", "public", PUBLIC,
              r.Ticker, MARKET, query=q.MarketQuery),
    # -- accounts --------------------------------------------------------------------------------
    Operation("POST", "/auth/signup", account_api.signup, "signup", "Sign up and start a session",
              "accounts", PUBLIC, r.Session, (*_CREDENTIALS, "USERNAME_TAKEN"), body=schemas.CredentialsBody,
              examples=_CREDENTIALS_EXAMPLE, links=_SESSION_LINKS, headers=_SET_COOKIE),
    Operation("POST", "/auth/login", account_api.login, "login", "Sign in: start a session", "accounts",
              PUBLIC, r.Session, (*_CREDENTIALS, "UNAUTHORIZED"), body=schemas.CredentialsBody,
              examples=_CREDENTIALS_EXAMPLE, links=_SESSION_LINKS, headers=_SET_COOKIE),
    Operation("POST", "/auth/logout", account_api.logout, "logout", "End the session (if any)",
              "accounts", Auth.OPTIONAL, r.LoggedOut, body_required=False),
    Operation("GET", "/auth/me", account_api.me, "me", "Who is calling", "accounts", KEY, r.Me),
    Operation("POST", "/apikeys", account_api.create_api_key, "createApiKey",
              "Create an API key (its secret is shown once)", "accounts", KEY, r.ApiKeyCreated,
              ("INVALID_REQUEST",), status=201, body_required=False),
    Operation("GET", "/apikeys", account_api.list_api_keys, "listApiKeys", "The caller's live keys",
              "accounts", KEY, list[r.ApiKeyInfo]),
    Operation("DELETE", "/apikeys/{api_key}", account_api.revoke_api_key, "revokeApiKey",
              "Revoke one of the caller's keys", "accounts", KEY, r.ApiKeyRevoked, ("NOT_FOUND",),
              body_required=False),
    Operation("GET", "/balances", account_api.balances, "balances", "The caller's balances", "accounts",
              KEY, r.Balances, READS,
              response_example={"USDC": {"available": "99801.000000", "locked": "199.000000",
                                         "withdrawing": "0.000000"}}),
    Operation("POST", "/onramp", account_api.onramp, "onramp", "Credit the caller (demo, or admins)",
              "accounts", KEY, r.Balances,
              ("INVALID_REQUEST", "UNKNOWN_ASSET", "INVALID_QUANTITY", "ONRAMP_LIMIT", *ENGINE),
              body=schemas.OnrampBody, examples={"usdc": {"value": {"asset": "USDC", "amount": "100000"}}}),
    # -- funding ---------------------------------------------------------------------------------
    Operation("GET", "/deposits", funding_api.list_deposits, "deposits",
              "The caller's deposits, newest first", "funding", KEY, list[r.Deposit], READS),
    Operation("GET", "/withdrawals", funding_api.list_withdrawals, "withdrawals",
              "The caller's withdrawals as they stand, newest first", "funding", KEY, list[r.Withdrawal],
              READS),
    Operation("POST", "/withdrawals", funding_api.request_withdrawal, "requestWithdrawal",
              "Request a withdrawal: the amount is held at once, until an operator completes or rejects it",
              "funding", KEY, r.Withdrawal, _WITHDRAWAL_RULES, body=schemas.WithdrawalBody, status=201,
              examples={"usdc": {"value": {"asset": "USDC", "amount": "250.5", "destination": "0xabc123"}}}),
    # -- orders ----------------------------------------------------------------------------------
    Operation("POST", "/order", trading_api.place_order, "placeOrder", "Place an order", "orders", KEY,
              r.Order, (*ORDER_RULES, *ENGINE), body=schemas.PlaceOrderBody, links=_ORDER_LINKS,
              response_example=_ORDER_EXAMPLE, examples=_PLACE_EXAMPLES),
    Operation("DELETE", "/order", trading_api.cancel_order, "cancelOrder", "Cancel an open order",
              "orders", KEY, r.Order, (*ORDER_RULES, "ORDER_NOT_FOUND", *ENGINE), body=schemas.OrderRefBody,
              examples={"byId": {"value": {"symbol": "SOL_USDC", "orderId": "7"}}}),
    Operation("PATCH", "/order", trading_api.amend_order, "amendOrder",
              "Amend an open order's quantity and/or price", "orders", KEY, r.Order,
              (*ORDER_RULES, "ORDER_NOT_FOUND", *ENGINE), body=schemas.AmendOrderBody,
              examples={"smaller": {"value": {"symbol": "SOL_USDC", "orderId": "7", "quantity": "1"}}}),
    Operation("GET", "/order", trading_api.get_order, "getOrder", "One order with all its fills",
              "orders", KEY, r.Order, (*OWN, "ORDER_NOT_FOUND"), query=q.OrderQuery),
    Operation("GET", "/orders/open", trading_api.open_orders, "openOrders", "The caller's open orders",
              "orders", KEY, list[r.Order], OWN, query=q.SymbolQuery),
    Operation("GET", "/order/open", trading_api.open_orders, "openOrdersSeed",
              "The caller's open orders (the seed's path)", "orders", KEY, list[r.Order], OWN,
              query=q.SymbolQuery),
    Operation("DELETE", "/orders", trading_api.cancel_all, "cancelAll",
              "Cancel every open order (in one market, or all)", "orders", KEY, list[r.Order],
              ("INVALID_REQUEST", "UNKNOWN_SYMBOL", *ENGINE), body=schemas.CancelAllBody,
              body_required=False, query=q.SymbolQuery),
    Operation("GET", "/orders/history", trading_api.order_history, "orderHistory",
              "The caller's closed orders, newest first", "orders", KEY, list[r.Order], OWN,
              query=q.HistoryQuery),
    Operation("GET", "/fills", trading_api.fills, "fills", "The caller's fills, newest first", "orders",
              KEY, list[r.Fill], OWN, query=q.HistoryQuery),
    # -- operators (docs/API.md#operators) -------------------------------------------------------
    Operation("GET", "/admin/audit", admin_api.audit_log, "adminAudit",
              "The operators' actions, newest first", "admin", OPERATOR, list[r.AuditEntry],
              ("INVALID_REQUEST",), query=q.AuditQuery),
    Operation("GET", "/admin/users/{username}", admin_api.user, "adminUser",
              "One user: account, balances, open orders, recent fills, deposits, withdrawals", "admin",
              OPERATOR, r.AdminUser,
              ("INVALID_REQUEST", "UNKNOWN_USER", *READS), query=q.UserLookupQuery),
    Operation("GET", "/admin/fees", admin_api.fees, "adminFees", "The fee account's balances per asset",
              "admin", OPERATOR, r.Balances, READS),
    Operation("GET", "/admin/operators", admin_api.operators, "adminOperators", "Every operator",
              "admin", OPERATOR, list[r.OperatorInfo]),
    Operation("POST", "/admin/deposits", admin_funding.deposit, "adminDeposit",
              "Credit a user with money that arrived (idempotent by reference)", "admin", OPERATOR,
              r.DepositAnswer, ("INVALID_REQUEST", "UNKNOWN_USER", "UNKNOWN_ASSET", "INVALID_QUANTITY",
                                "DUPLICATE_REFERENCE", *ENGINE),
              body=schemas.DepositBody,
              description="The deposit, `duplicate: false`; the same reference again with the same "
              "details credits nothing and answers the first deposit with `duplicate: true`; with other "
              "details it is 409 DUPLICATE_REFERENCE.",
              examples={"usdc": {"value": {"username": "alice", "asset": "USDC", "amount": "2500",
                                           "reference": "bank-2026-12-08-0042"}}}),
    Operation("GET", "/admin/withdrawals", admin_funding.pending, "adminPendingWithdrawals",
              "Withdrawals waiting for an operator, oldest first", "admin", OPERATOR,
              list[r.OperatorWithdrawal], READS),
    Operation("POST", "/admin/withdrawals/{withdrawal_id}/complete", admin_funding.complete,
              "adminCompleteWithdrawal", "The money was sent: the held amount leaves the venue", "admin",
              OPERATOR, r.OperatorWithdrawal, ("WITHDRAWAL_NOT_FOUND", "WITHDRAWAL_NOT_PENDING", *ENGINE),
              body_required=False),
    Operation("POST", "/admin/withdrawals/{withdrawal_id}/reject", admin_funding.reject,
              "adminRejectWithdrawal", "Refuse a withdrawal: the held amount is available again", "admin",
              OPERATOR, r.OperatorWithdrawal,
              ("INVALID_REQUEST", "WITHDRAWAL_NOT_FOUND", "WITHDRAWAL_NOT_PENDING", *ENGINE),
              body=schemas.RejectWithdrawalBody,
              examples={"blocked": {"value": {"reason": "destination refused by the bank"}}}),
)
# fmt: on
