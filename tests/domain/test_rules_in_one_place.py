"""Every reason a command is refused lives in domain/rules.py: the engine only orchestrates, and
the web checks shape with the same definitions."""

from __future__ import annotations

import ast
from pathlib import Path

import msgspec
import pytest

from exchange.domain import rules
from exchange.domain.reasons import Reason
from exchange.web import schemas
from exchange.web.errors import ApiError

DOMAIN = Path(__file__).resolve().parents[2] / "exchange" / "domain"


def _tree(name: str) -> ast.Module:
    return ast.parse((DOMAIN / name).read_text(encoding="utf-8"))


def test_the_rules_docstring_lists_every_reason() -> None:
    doc = ast.get_docstring(_tree("rules.py")) or ""
    assert [r for r in Reason if r.value not in doc] == []


def test_the_engine_refuses_nothing_itself() -> None:
    """No Rejection built and no Reason named in engine.py: each check is a rules function."""
    names = {node.id for node in ast.walk(_tree("engine.py")) if isinstance(node, ast.Name)}
    assert not names & {"Reason", "FEE_ACCOUNT", "MAX_AMOUNT"}
    calls = [node for node in ast.walk(_tree("engine.py")) if isinstance(node, ast.Call)]
    assert not [c for c in calls if isinstance(c.func, ast.Name) and c.func.id == "Rejection"]


@pytest.mark.parametrize("coid", ["a", "x" * 36, "A-b_9", "", "x" * 37, "a b", "ordér", "abc\n", "\nabc"])
def test_the_web_and_the_engine_agree_on_a_client_order_id(coid: str) -> None:
    body = msgspec.json.encode({"side": "buy", "type": "limit", "clientOrderId": coid})
    try:
        schemas.decode(schemas.PlaceOrderBody, body)
        web_takes = True
    except ApiError:
        web_takes = False
    assert web_takes == (rules.check_client_order_id(coid) is None)
