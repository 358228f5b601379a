"""Fixtures of the package tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.package.markdown import REPO

SHARED = REPO.parent / "shared"


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A scratch working directory whose ``../shared`` is the repository's."""
    work = tmp_path / "work"
    work.mkdir()
    if SHARED.is_dir():
        (tmp_path / "shared").symlink_to(SHARED, target_is_directory=True)
    monkeypatch.chdir(work)
    return work
