"""The error catalogue is the one source of codes: every domain reason has its entry, and
docs/API.md lists exactly the catalogue, each code with its status."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from exchange.domain.reasons import Reason
from exchange.web.errors import CATALOGUE, ApiError, rate_limited

API_MD = Path(__file__).resolve().parents[2] / "docs" / "API.md"


def _documented() -> dict[str, int]:
    errors = API_MD.read_text(encoding="utf-8").split("## Errors", 1)[1].split("\n## ", 1)[0]
    return {code: int(status) for status, code in re.findall(r"^\| (\d{3}) \| `([A-Z_]+)` \|", errors, re.M)}


def test_every_domain_reason_has_a_catalogue_entry() -> None:
    assert {reason.value for reason in Reason} <= CATALOGUE.keys()


def test_docs_list_exactly_the_catalogue_with_its_statuses() -> None:
    assert _documented() == {code: entry.status for code, entry in CATALOGUE.items()}


def test_an_unknown_code_cannot_be_answered() -> None:
    with pytest.raises(KeyError):
        ApiError("NOT_A_CODE", "nobody may invent a code outside the catalogue")


@pytest.mark.parametrize(("wait", "header"), [(0.01, "1"), (1.0, "1"), (1.2, "2"), (29.5, "30")])
def test_one_429_rounds_the_wait_up_to_whole_seconds_on_both_transports(wait: float, header: str) -> None:
    err = rate_limited(wait)
    assert (err.status, err.headers) == (429, {"Retry-After": header})
    assert err.ws_body() == {"code": "RATE_LIMITED", "message": err.message, "retryAfter": int(header)}
