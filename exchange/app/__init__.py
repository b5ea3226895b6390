"""The composition root: ``create_app(settings)`` builds every part of a role and wires their
lifetimes (factory.py -> compose.py). Nothing below this package builds or connects anything."""

from exchange.app.factory import create_app

__all__ = ["create_app"]
