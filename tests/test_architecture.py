"""The layers hold: every module of exchange/ imports only what its layer may reach.

From the bottom: the domain is pure and imports nothing of ours above it (and nothing impure at
all); store and bus wrap I/O around it and never reach service or web; service never reaches
web; web never reaches the composition root; the client and the demo speak only the public API
(the client, signing, config and the domain's value types); only the composition root
(exchange/app/) and the CLI put the rooms together. A violation fails naming the import.
Imports under ``if TYPE_CHECKING:`` are annotations only and run nothing, so they are not counted.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "exchange"

#: Layer (a module or package of exchange/) -> the layers it may import, itself included.
_PURE = {"exchange.domain"}
ALLOWED: dict[str, set[str]] = {
    "exchange.domain": _PURE,
    "exchange.clock": set(),
    "exchange.signing": set(),
    "exchange.limits": _PURE,
    "exchange.config": _PURE | {"exchange.limits"},
    "exchange.store": _PURE | {"exchange.store", "exchange.clock"},
    "exchange.bus": _PURE | {"exchange.bus", "exchange.clock"},
    "exchange.service": _PURE
    | {
        "exchange.service",
        "exchange.store",
        "exchange.bus",
        "exchange.clock",
        "exchange.config",
        "exchange.limits",
    },
    "exchange.web": _PURE
    | {
        "exchange.web",
        "exchange.service",
        "exchange.store",
        "exchange.bus",
        "exchange.clock",
        "exchange.config",
        "exchange.limits",
        "exchange.signing",
    },
    "exchange.client": {"exchange.client", "exchange.signing"},
    "exchange.wsclient": {"exchange.wsclient", "exchange.client", "exchange.signing"},
    "exchange.demo": _PURE
    | {
        "exchange.demo",
        "exchange.client",
        "exchange.wsclient",
        "exchange.signing",
        "exchange.config",
        "exchange.clock",
    },
    "exchange.devtools": {"exchange.devtools"},
    "exchange.app": {"exchange"},  # the composition root puts everything together
    "exchange.__main__": {
        "exchange.__main__",
        "exchange.app",
        "exchange.config",
        "exchange.limits",
        "exchange.demo",
        "exchange.web.keys",
    },
    "exchange.__init__": set(),
}
#: Nothing impure may be reachable from the domain's imports.
FORBIDDEN_IN_DOMAIN = {
    "asyncio",
    "aiohttp",
    "redis",
    "time",
    "random",
    "uuid",
    "os",
    "logging",
    "socket",
    "threading",
    "datetime",
    "secrets",
    "subprocess",
    "sqlite3",
    "pathlib",
    "io",
}
DOMAIN_MAY_USE = {
    "__future__",
    "collections",
    "dataclasses",
    "enum",
    "itertools",
    "re",
    "typing",
    "msgspec",
    "sortedcontainers",
    "exchange",
}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" and len(parts) > 2 else parts)


def _type_only(tree: ast.Module) -> set[int]:
    """Line numbers of imports inside ``if TYPE_CHECKING:`` blocks."""
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for inner in node.body:
                lines.update(range(inner.lineno, (inner.end_lineno or inner.lineno) + 1))
    return lines


def imports(path: Path) -> set[str]:
    return parse_imports(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py")


def parse_imports(source: str, module: str, package: bool = False) -> set[str]:
    """Every module ``source`` imports at run time (``from exchange import x`` counts as
    ``exchange.x``; relative imports are resolved against ``module``)."""
    tree = ast.parse(source)
    skip, here = _type_only(tree), module.split(".")
    names: set[str] = set()
    for node in ast.walk(tree):
        if getattr(node, "lineno", 0) in skip:
            continue
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join([*here[: len(here) - node.level + package], base]).strip(".")
            names.add(base)
            if base == "exchange":
                names.update(f"exchange.{alias.name}" for alias in node.names)
    return names


def layer_of(module: str) -> str:
    """The most specific layer in ALLOWED that ``module`` belongs to."""
    found = [layer for layer in ALLOWED if module == layer or module.startswith(layer + ".")]
    if not found:
        raise AssertionError(f"{module} is in no layer: add it to ALLOWED in tests/test_architecture.py")
    return max(found, key=len)


def violations(modules: dict[str, set[str]]) -> list[str]:
    """``module imports name`` for each import of ours its layer may not reach."""
    found = []
    for module, names in sorted(modules.items()):
        allowed = ALLOWED[layer_of(module)]
        for name in sorted(names):
            if name == "exchange" or not name.startswith("exchange."):
                continue
            if not any(name == ok or name.startswith(ok + ".") for ok in allowed):
                found.append(f"{module} imports {name} (layer {layer_of(module)} may not)")
    return found


SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if "__pycache__" not in p.parts)


def test_every_layer_imports_only_what_it_may() -> None:
    modules = {module_name(path): imports(path) for path in SOURCES}
    assert violations(modules) == []


@pytest.mark.parametrize(
    ("module", "imported"),
    [
        ("exchange.domain.engine", "exchange.service.runner"),
        ("exchange.store.snapshot", "exchange.service.marketdata"),
        ("exchange.bus.redis", "exchange.web.common"),
        ("exchange.service.runner", "exchange.web.keys"),
        ("exchange.web.orders", "exchange.app.compose"),
        ("exchange.demo.bot", "exchange.web.common"),
        ("exchange.client", "exchange.store.accounts"),
    ],
)
def test_an_upward_import_is_named(module: str, imported: str) -> None:
    planted = {module: {"asyncio", module, imported}}
    assert violations(planted) == [f"{module} imports {imported} (layer {layer_of(module)} may not)"]


def test_every_module_has_a_layer() -> None:
    for path in SOURCES:
        layer_of(module_name(path))


def test_imports_resolve_package_relative_and_type_only_forms() -> None:
    source = (
        "from typing import TYPE_CHECKING\nimport exchange.bus.base\nfrom exchange import signing\n"
        "from ..service import runner\nfrom .orders import place\n"
        "if TYPE_CHECKING:\n    from exchange.app import compose\n"
    )
    found = parse_imports(source, "exchange.web.common")
    assert {"exchange.bus.base", "exchange.signing", "exchange.service", "exchange.web.orders"} <= found
    assert "exchange.app" not in found
    assert violations(
        {"exchange.store.files": parse_imports("from ..web import keys", "exchange.store.files")}
    )


@pytest.mark.parametrize("path", sorted((PACKAGE / "domain").glob("*.py")), ids=lambda p: p.name)
def test_domain_module_imports_nothing_impure(path: Path) -> None:
    names = imports(path)
    bad = {name for name in names if name.split(".")[0] in FORBIDDEN_IN_DOMAIN}
    assert not bad, f"{path.name} imports {sorted(bad)}"
    outside = {name for name in names if name.split(".")[0] not in DOMAIN_MAY_USE}
    assert not outside, f"{path.name} imports {sorted(outside)}"


def test_domain_check_sees_a_forbidden_import() -> None:
    found = parse_imports("import time\nfrom asyncio import sleep\n", "exchange.domain.bad")
    assert {"time", "asyncio"} <= found


def test_tests_never_import_bench() -> None:
    """Benchmarks may use the tests' tools, not the reverse: what both need lives in
    exchange/devtools (a slow bench must never be what a test depends on)."""
    found = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        names = parse_imports(path.read_text(encoding="utf-8"), "tests.x")
        where = path.relative_to(ROOT)
        found += [f"{where} imports {name}" for name in sorted(names) if name.split(".")[0] == "bench"]
    assert found == []
