"""Shared fixtures: settings pointing at a temporary data directory, limits, and benign generated images."""

from __future__ import annotations

from pathlib import Path

import pytest

from tutela.media import MediaLimits
from tutela.settings import Settings

DATA = Path(__file__).parent / "data"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "var")


@pytest.fixture
def limits(settings: Settings) -> MediaLimits:
    return MediaLimits.from_settings(settings)
