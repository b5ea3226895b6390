"""The entry point of a harness made of modes: the input's last byte picks the mode, which reads
the rest through atheris' FuzzedDataProvider."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence

import atheris

Mode = Callable[[atheris.FuzzedDataProvider], None]


def fuzz(modes: Sequence[Mode]) -> None:
    """Run libFuzzer over ``modes`` with this process's arguments (``-help=1`` lists them)."""

    def test_one_input(data: bytes) -> None:
        fdp = atheris.FuzzedDataProvider(data)
        fdp.PickValueInList(list(modes))(fdp)

    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
