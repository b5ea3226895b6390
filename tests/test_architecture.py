"""The domain stays pure: no I/O, clock, randomness or event loop reachable from its imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parent.parent / "exchange" / "domain"
FORBIDDEN = {"asyncio", "aiohttp", "redis", "time", "random", "uuid", "os", "logging", "socket",
             "threading", "datetime", "secrets", "subprocess", "sqlite3", "pathlib", "io"}  # fmt: skip


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", sorted(DOMAIN.glob("*.py")), ids=lambda p: p.name)
def test_domain_module_imports_nothing_impure(path: Path) -> None:
    bad = {name for name in _imports(path) if name.split(".")[0] in FORBIDDEN}
    assert not bad, f"{path.name} imports {sorted(bad)}"


def test_domain_imports_only_domain_or_allowed_packages() -> None:
    allowed = {"__future__", "collections", "dataclasses", "enum", "itertools", "re", "typing",
               "msgspec", "sortedcontainers", "exchange"}  # fmt: skip
    for path in DOMAIN.glob("*.py"):
        for name in _imports(path):
            assert name.split(".")[0] in allowed, f"{path.name} imports {name}"
            if name.startswith("exchange."):
                assert name.startswith("exchange.domain"), f"{path.name} reaches outside the domain: {name}"


def test_architecture_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("import time\nfrom asyncio import sleep\n")
    assert {"time", "asyncio"} <= _imports(bad)
