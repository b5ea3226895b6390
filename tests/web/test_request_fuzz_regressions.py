"""What fuzzing the request parsers found (tests/fuzz/, tests/README.md "Fuzzing"), each input
kept as a test: the parser answers it with the API's own refusal, never another exception. The
same inputs through the running app are rows of test_api_malformed.py."""

from __future__ import annotations

import typing

import msgspec
import pytest

from exchange.web import schemas
from exchange.web.errors import ApiError

# Deeper than the interpreter's recursion limit (1000): msgspec raised RecursionError, a 500.
DEEP = b"[" * 2000 + b"]" * 2000


def _holds_raw(kind: object) -> bool:
    """Raw itself, or inside ``Annotated`` / ``| UNSET``."""
    return kind is msgspec.Raw or any(_holds_raw(arg) for arg in typing.get_args(kind))


# Every amount and id is kept as raw JSON, which msgspec walks to its end however deep it goes.
RAW_FIELDS = [
    (kind, f.encode_name)
    for kind in schemas.DECODERS
    for f in msgspec.structs.fields(kind)
    if _holds_raw(f.type)
]
assert len(RAW_FIELDS) >= 8, RAW_FIELDS  # price, quantity, quoteQuantity, orderId, amount in their bodies


@pytest.mark.parametrize(("kind", "name"), RAW_FIELDS, ids=[f"{k.__name__}.{n}" for k, n in RAW_FIELDS])
def test_a_raw_field_nested_past_the_recursion_limit_is_an_invalid_request(kind: type, name: str) -> None:
    with pytest.raises(ApiError) as err:
        schemas.decode(kind, b'{"%s":%s}' % (name.encode(), DEEP))
    assert err.value.code == "INVALID_REQUEST"
    assert "nested too deeply" in err.value.message
    assert err.value.response().status == 400
