"""Shared fixtures of the data-layer tests: where the public Arc data lives."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def public_data_path() -> Path:
    """``$ARC_CRM_DATA``, else the shared copy next to the repository."""
    configured = os.environ.get("ARC_CRM_DATA")
    return (
        Path(configured) if configured else REPO.parent / "shared" / "arc" / "evaluation_400.jsonl"
    )


@pytest.fixture(scope="session")
def public_path() -> Path:
    """The public ``evaluation_400.jsonl``; skips the test when it is absent."""
    path = public_data_path()
    if not path.is_file():
        pytest.skip(
            f"public Arc data not found at {path}; set ARC_CRM_DATA to evaluation_400.jsonl"
        )
    return path
