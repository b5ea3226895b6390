"""JSON Schema components from msgspec types, named as the documents want them.

``msgspec.json.schema_components`` writes JSON Schema 2020-12, which OpenAPI 3.1 and AsyncAPI 3
both take. Two touches make its output portable: generic Structs get the names the caller
gives (msgspec's are derived from the type's repr), and Python's ``\\Z`` anchor in a pattern
becomes ECMA-262's ``$`` (the regex dialect of JSON Schema; the same meaning without a
multiline flag).
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import msgspec


def schemas(
    types: Sequence[Any], names: Sequence[str | None], prefix: str
) -> tuple[list[Any], dict[str, Any]]:
    """The ``$ref`` (or inline schema) of each type and the components they use. ``names[i]``,
    when given, renames the component of ``types[i]`` (the first name given to a type wins)."""
    refs, found = msgspec.json.schema_components(types, ref_template=prefix + "{name}")
    renames: dict[str, str] = {}
    for ref, name in zip(refs, names, strict=True):
        if name is not None and "$ref" in ref:
            renames.setdefault(ref["$ref"], prefix + name)
    renamed = {
        (renames.get(prefix + key, prefix + key))[len(prefix) :]: schema for key, schema in found.items()
    }
    return _portable(list(refs), renames), _portable(renamed, renames)


def _portable(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                out[key] = renames.get(value, value)
            elif key == "pattern" and isinstance(value, str):
                out[key] = value.replace("\\Z", "$")
            else:
                out[key] = _portable(value, renames)
        return out
    if isinstance(node, list):
        return [_portable(item, renames) for item in node]
    return node


def package_version() -> str:
    try:
        return version("exchange")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "0.0.0"
