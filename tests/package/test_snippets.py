"""Every code block of README.md and docs/*.md works as written.

Python blocks run, each on its own (or after the block it continues, see ``markdown.py``) in a
fresh namespace, in a temporary working directory beside a link to ``../shared``, so relative
paths such as ``../shared/arc/evaluation_400.jsonl`` resolve as they do from the repository.
Shell blocks are checked without running them: each ``crm-gym`` command (also as
``python -m scripts.cli`` or under ``accelerate launch``) must parse with the CLI's own parser,
and each ``python -m MODULE`` must name a module that exists. New blocks are picked up by
themselves; mark one ``<!-- snippet: skip (why) -->`` only when it needs what tests lack (a GPU,
the network, an API key).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import re
from pathlib import Path

import pytest

from scripts.cli import build_parser
from tests.package.conftest import SHARED
from tests.package.markdown import REPO, Block, documents, python_programs, shell_commands

PROGRAMS = python_programs()
COMMANDS = shell_commands()


def _program_id(program: list[Block]) -> str:
    return program[0].name


def run_program(program: list[Block]) -> tuple[dict, str]:
    """Run blocks in one namespace; their tracebacks name the Markdown file and line."""
    namespace: dict = {"__name__": "__snippet__"}
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        for block in program:
            source = "\n" * (block.line - 1) + block.code  # line numbers of the Markdown file
            exec(compile(source, str(block.path), "exec"), namespace)  # noqa: S102
    return namespace, output.getvalue()


def test_the_documents_have_python_blocks() -> None:
    assert len(documents()) >= 2
    assert sum(len(program) for program in PROGRAMS) >= 4 and len(COMMANDS) >= 10


@pytest.mark.parametrize("program", PROGRAMS, ids=_program_id)
def test_python_block_runs(program: list[Block], workspace: Path) -> None:
    skips = [block.skip for block in program if block.skip]
    if skips:
        pytest.skip(skips[0])
    if any("../shared" in block.code for block in program) and not SHARED.is_dir():
        pytest.skip(f"the public data is not at {SHARED}")
    run_program(program)


# ---- shell blocks -------------------------------------------------------------------------------
def _cli_arguments(words: list[str]) -> list[str] | None:
    """The arguments a command gives the crm-gym CLI, or None if it does not run the CLI."""
    if words[0] == "crm-gym":
        return words[1:]
    if "-m" in words[:-1] and words[words.index("-m") + 1] == "scripts.cli":
        return words[words.index("-m") + 2 :]
    return None


def _python_module(words: list[str]) -> str | None:
    """The module of ``python -m MODULE ...`` (also ``python3``), else None."""
    if words[0] in ("python", "python3") and len(words) > 2 and words[1] == "-m":
        return words[2]
    return None


def _command_id(case: tuple[Block, int, list[str]]) -> str:
    block, line, words = case
    return f"{block.path.relative_to(REPO)}:{line}:{' '.join(words[:2])}"


class _ParserError(Exception):
    """What argparse would have printed before exiting."""


def _strict_parser() -> argparse.ArgumentParser:
    """The CLI parser, raising instead of exiting on an error (its sub-parsers too)."""
    parser = build_parser()

    def fail(message: str) -> None:
        raise _ParserError(message)

    parsers = [parser]
    while parsers:
        current = parsers.pop()
        current.error = fail  # type: ignore[method-assign]
        for action in current._subparsers._group_actions if current._subparsers else []:
            parsers += list(getattr(action, "choices", {}).values())
    return parser


@pytest.mark.parametrize("case", COMMANDS, ids=_command_id)
def test_shell_command_is_valid(case: tuple[Block, int, list[str]]) -> None:
    block, line, words = case
    where = f"{block.path.relative_to(REPO)}:{line}"
    arguments = _cli_arguments(words)
    if arguments is not None:
        try:
            _strict_parser().parse_args(arguments)
        except _ParserError as exc:
            pytest.fail(f"{where}: `{' '.join(words)}`: {exc}")
        return
    module = _python_module(words)
    if module is not None:
        assert importlib.util.find_spec(module) is not None, f"{where}: no module {module}"


def test_shell_commands_include_the_cli_and_modules() -> None:
    """The checks above see real commands (a parser for shell text that found none would pass)."""
    cli = [words for _, _, words in COMMANDS if _cli_arguments(words) is not None]
    modules = {_python_module(words) for _, _, words in COMMANDS} - {None}
    assert len(cli) >= 10
    assert {"benchmarks.speed.envs", "pytest"} <= modules


def test_a_bad_cli_command_is_caught() -> None:
    with pytest.raises(_ParserError, match="--no-such-option"):
        _strict_parser().parse_args(["replay", "x.jsonl", "--no-such-option"])
    with pytest.raises(_ParserError, match="argument --n"):
        _strict_parser().parse_args(["generate", "--n", "many"])


# ---- the files the documents and the CLI's help point to -----------------------------------------
TOP_LEVEL = ("docs", "tests", "crm_gym", "agents", "benchmarks", "curricula", "scripts")
PATH_LIKE = re.compile(r"[\w./-]+\.(?:md|py|toml|cfg|txt)\b")
WRITTEN = {"report.md"}  # what a command writes (``crm-gym report``), not a page to read


def _missing_files(text: str) -> list[str]:
    """Repository paths (``docs/x.md``, ``crm_gym/...py``) and Markdown names that do not exist."""
    markdown = {path.name for path in documents()} | WRITTEN
    missing = []
    for name in PATH_LIKE.findall(text):
        if name.split("/")[0] in TOP_LEVEL and not (REPO / name).exists():
            missing.append(name)
        elif "/" not in name and name.endswith(".md") and name not in markdown:
            missing.append(name)
    return missing


def _cli_help() -> str:
    parser = build_parser()
    texts = [parser.format_help()]
    for action in parser._subparsers._group_actions if parser._subparsers else []:
        texts += [sub.format_help() for sub in getattr(action, "choices", {}).values()]
    return "\n".join(texts)


@pytest.mark.parametrize("path", documents(), ids=lambda path: path.name)
def test_documents_point_only_to_files_that_exist(path: Path) -> None:
    assert _missing_files(path.read_text(encoding="utf-8")) == []


def test_cli_help_points_only_to_files_that_exist() -> None:
    assert _missing_files(_cli_help()) == []


def test_missing_files_are_found() -> None:
    text = "see SPEC-arc.md section 3, `docs/nowhere.md` and crm_gym/crm/rules.py"
    assert _missing_files(text) == ["SPEC-arc.md", "docs/nowhere.md"]
