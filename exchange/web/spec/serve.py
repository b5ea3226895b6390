"""``GET /api/v1/openapi.json`` and ``GET /api/v1/asyncapi.json``: the documents, written from
the operation table this app registered (web/keys.py ``OPERATIONS``) and its settings."""

from __future__ import annotations

from aiohttp import web

from exchange.web.common import json_response
from exchange.web.keys import OPERATIONS, SETTINGS
from exchange.web.spec import asyncapi, openapi


async def openapi_json(request: web.Request) -> web.Response:
    return json_response(openapi.document(request.app[SETTINGS], request.app[OPERATIONS]))


async def asyncapi_json(request: web.Request) -> web.Response:
    return json_response(asyncapi.document(request.app[OPERATIONS]))
