"""Fixtures of the orchestration tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.scenarios.receiver import Receiver, receiving


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as state:
        yield state
