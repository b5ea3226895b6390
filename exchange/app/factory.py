"""``create_app(settings)``: the one entry to the composition root (see compose.py)."""

from __future__ import annotations

import msgspec
from aiohttp import web

from exchange.app.compose import compose_all, compose_engine, compose_gateway
from exchange.config import ConfigError, Settings, Venue, load_venue
from exchange.limits import load_limits
from exchange.service.crashes import Crashes

ROLES = {"all": compose_all, "engine": compose_engine, "gateway": compose_gateway}


def create_app(
    settings: Settings, venue: Venue | None = None, *, stop_on_crash: bool = False
) -> web.Application:
    """The app for ``settings.role``; ``stop_on_crash`` (the CLI) makes a dead engine stop the
    whole process, which then exits non-zero (``CRASHED`` holds why)."""
    bus = settings.bus
    known_bus = bus == "memory" or bus.startswith(("redis://", "unix://"))
    if settings.role not in ROLES or (settings.role == "all") != (bus == "memory") or not known_bus:
        raise ConfigError("--role all runs on --bus memory; --role engine|gateway on --bus redis://HOST:PORT")
    # Settings built in code (tests, tools) are checked as the CLI's are: bounds and the rules between limits.
    load_limits(msgspec.structs.asdict(settings.limits), {}, source="Settings")
    compose = ROLES[settings.role]
    return compose(settings, venue or load_venue(settings.config), Crashes(stop_process=stop_on_crash))
