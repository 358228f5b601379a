"""``crm-gym replay --store``: the same replay on every store, the DSN also from a variable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crm_gym.data.examples import builtin_path
from scripts.cli import main


def replay_json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:
    assert main(["replay", str(builtin_path()), "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


@pytest.mark.parametrize("backend", ["memory", "sqlite", "sqlite-file", "postgresql"])
def test_replay_on_every_store(
    backend: str,
    capsys: pytest.CaptureFixture[str],
    request: pytest.FixtureRequest,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = {
        "memory": "memory",
        "sqlite": "sqlite",
        "sqlite-file": f"sqlite:///{tmp_path}/c.db",
    }.get(backend)
    if spec is None:
        monkeypatch.setenv("CRM_GYM_STORE_DSN", request.getfixturevalue("pg_dsn"))
        spec = "$CRM_GYM_STORE_DSN"  # the DSN from an environment variable
    summary = replay_json(capsys, "--store", spec)
    assert summary["conversations"] > 0
    assert summary == replay_json(capsys)  # the memory store's summary


@pytest.mark.parametrize(
    "args, message",
    [
        (["--store", "mysql://x"], "unknown store 'mysql://x'"),
        (
            ["--store", "$CRM_GYM_UNSET_VARIABLE"],
            "environment variable CRM_GYM_UNSET_VARIABLE is not set",
        ),
        (["--store", "sqlite", "--strict-upstream"], "strict_upstream=True needs the memory store"),
        (
            ["--store", "postgresql+psycopg://nobody@127.0.0.1:1/none"],
            "cannot open postgresql+psycopg",
        ),
    ],
)
def test_bad_store_is_a_clear_error(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["replay", str(builtin_path()), *args]) == 2
    assert message in capsys.readouterr().err
