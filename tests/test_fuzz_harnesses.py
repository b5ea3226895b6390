"""Each atheris harness of tests/fuzz/ runs a few thousand inputs from its seeds without a
finding: the harnesses call the parsers' real signatures, so a change to one of those that
the harness was not changed with fails here, in `make test`, not at the next `make fuzz`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fuzz.run import TARGETS

RUN = Path(__file__).parent / "fuzz" / "run.py"


@pytest.mark.parametrize("target", TARGETS)
def test_harness_runs_clean(target: str, tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(RUN), "--runs", "3000", "--out", str(tmp_path), target],
        capture_output=True, text=True, timeout=110,
    )  # fmt: skip
    (summary,) = json.loads((tmp_path / "summary.json").read_text())
    assert summary["crashes"] == [] and done.returncode == 0, summary
    assert summary["runs"] >= 3000
