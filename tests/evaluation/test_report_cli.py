"""``crm-gym report`` as a function: files written, exit codes, names."""

import argparse
import json

import numpy as np
import pytest

pytest.importorskip("rliable", reason='needs the report extra: pip install "crm-gym[report]"')

from scripts.report_cmd import add_report_arguments, cmd_report  # noqa: E402
from tests.evaluation.synthetic import ARMS, synthetic_log, write_log  # noqa: E402


def run(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="crm-gym report")
    add_report_arguments(parser)
    return cmd_report(parser.parse_args(argv))


@pytest.fixture(scope="module")
def log_paths(tmp_path_factory):
    folder = tmp_path_factory.mktemp("logs")
    rng = np.random.default_rng(0)
    return [
        str(
            write_log(
                folder / f"{name}.jsonl", synthetic_log(name, dict.fromkeys(ARMS, p), rng, seeds=3)
            )
        )
        for name, p in (("low", 0.2), ("high", 0.8))
    ]


def test_report_writes_markdown_json_and_plots(log_paths, tmp_path, capsys):
    out = tmp_path / "report"
    assert run(*log_paths, "-o", str(out), "--reps", "200", "--names", "a,b", "--no-progress") == 0
    printed = capsys.readouterr().out.split()
    assert sorted(p.rsplit("/", 1)[-1] for p in printed) == sorted(
        path.name for path in out.iterdir()
    )
    report = json.loads((out / "report.json").read_text())
    assert report["algorithms"] == ["b", "a"] and report["sources"]["a"] == log_paths[0]
    assert report["options"]["reps"] == 200 and (out / "report.md").read_text().startswith("#")
    again = tmp_path / "again"
    assert run(*log_paths, "-o", str(again), "--reps", "200", "--names", "a,b") == 0
    assert (again / "report.json").read_text() == (out / "report.json").read_text()


def test_report_names_default_to_the_policy(log_paths, tmp_path):
    assert run(*log_paths, "-o", str(tmp_path), "--reps", "50", "--score", "reward") == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["algorithms"] == ["high", "low"] and report["options"]["score"] == "reward"


def test_report_errors_exit_2(log_paths, tmp_path, capsys):
    assert run(log_paths[0], str(tmp_path / "absent.jsonl"), "-o", str(tmp_path)) == 2
    assert "no such file" in capsys.readouterr().err
    assert run(*log_paths, "-o", str(tmp_path), "--names", "only-one") == 2
    assert "1 names for 2 logs" in capsys.readouterr().err
    assert run(log_paths[0], log_paths[0], "-o", str(tmp_path)) == 2
    assert "log given twice" in capsys.readouterr().err
    assert run(log_paths[0], str(tmp_path), "-o", str(tmp_path / "out")) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a directory, not an evaluation log" in err
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"conversation_id": "x"}\n')
    assert run(str(bad), "-o", str(tmp_path)) == 2
    assert "bad.jsonl:1" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        run(*log_paths, "-o", str(tmp_path), "--tasks", "skill")


def test_report_refuses_different_task_sets_unless_asked(log_paths, tmp_path, capsys):
    rng = np.random.default_rng(1)
    halves = dict.fromkeys(ARMS, 0.5)
    fewer = [r for r in synthetic_log("other", halves, rng, seeds=3) if r.arm != "policy-hard"]
    other = str(write_log(tmp_path / "other.jsonl", fewer))
    assert run(log_paths[0], other, "-o", str(tmp_path / "r"), "--reps", "50") == 2
    err = capsys.readouterr().err
    assert "different task sets" in err and "--allow-different-tasks" in err
    argv = (log_paths[0], other, "-o", str(tmp_path / "r"), "--reps", "50")
    with pytest.warns(UserWarning, match="policy-hard"):
        assert run(*argv, "--allow-different-tasks", "--no-progress") == 0
    report = json.loads((tmp_path / "r" / "report.json").read_text())
    assert report["dropped_tasks"] == ["policy-hard"]
