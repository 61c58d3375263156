"""Fixtures for the monitor tests (helpers live in ``monitor_fixtures``)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from monitor_fixtures import make_pipeline


@pytest.fixture
def pipeline(tmp_path: Path) -> Callable[..., Path]:
    """``pipeline(state)``: the small pipeline on disk in that state (built once per state)."""
    built: dict[str, Path] = {}

    def make(state: str = "healthy") -> Path:
        if state not in built:
            built[state] = make_pipeline(tmp_path, state)
        return built[state]

    return make
