"""``/docs``: the native REST API's OpenAPI document, rendered in the browser by Swagger UI.

Swagger UI comes from npm (``swagger-ui-dist``, pinned in package-lock.json) and is served as
two files from ``node_modules`` like the chart library: nothing is loaded from a CDN, and the
page asks nothing of any host but this one (its spec validator badge, which would call
validator.swagger.io, is off). "Try it out" works with the page's own session: the CSRF token
from the page's meta tag goes on every request it sends.
"""

from __future__ import annotations

import aiohttp_jinja2
from aiohttp import web

from exchange.web.auth import session_from_cookie
from exchange.web.pages import ROOT, page_context

SWAGGER = ROOT / "node_modules" / "swagger-ui-dist"
#: The files the page loads, under /static/vendor/swagger-ui/ (nothing else of the package).
FILES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}


def _check_installed() -> None:
    for name in FILES:
        if not (SWAGGER / name).is_file():
            raise RuntimeError(f"{SWAGGER / name} is missing: swagger-ui-dist is not installed; run npm ci")


def setup_docs_page(app: web.Application) -> None:
    _check_installed()
    app.router.add_get("/docs", docs_page)
    app.router.add_get("/static/vendor/swagger-ui/{name}", swagger_file)


async def docs_page(request: web.Request) -> web.Response:
    ctx = page_context(request, "docs", session_from_cookie(request))
    return aiohttp_jinja2.render_template("docs.html", request, ctx)


async def swagger_file(request: web.Request) -> web.FileResponse:
    name = request.match_info["name"]
    kind = FILES.get(name)
    if kind is None:
        raise web.HTTPNotFound()
    return web.FileResponse(SWAGGER / name, headers={"Content-Type": kind})
