"""The ``crm-gym`` command: thin subcommands over the library (``crm-gym COMMAND --help``)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any, Callable

from crm_gym.data.loading import good_conversations
from crm_gym.errors import DataFileError, StoreError
from scripts import datagen, eval_cmd, report_cmd, rescore_cmd, train_cmd

EXAMPLES = {
    "replay": "crm-gym replay ../shared/arc/evaluation_400.jsonl --json --store sqlite",
    "lint": "crm-gym lint ../shared/arc/evaluation_400.jsonl --json",
    "generate": datagen.GENERATE_EXAMPLE,
    "datastats": datagen.DATASTATS_EXAMPLE,
    "report": report_cmd.REPORT_EXAMPLE,
    "train": train_cmd.TRAIN_EXAMPLE,
    "eval": eval_cmd.EVAL_EXAMPLE,
    "rescore": rescore_cmd.RESCORE_EXAMPLE,
}


def _read(path: str) -> list[Any]:
    """Good conversations of a file; bad lines are reported on stderr with their line number.

    Raises:
        DataFileError: if the file cannot be read or holds no conversation (``main`` exits 2).
    """
    return list(
        good_conversations(path, lambda problem: print(f"{path}: {problem}", file=sys.stderr))
    )


def _default_tasks() -> list[Any]:
    """The package's default task source: conversations generated from the default seed."""
    from crm_gym.generator import default_tasks

    return list(default_tasks())


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay every conversation's ground truth and report what passed."""
    from crm_gym.crm.store import MemoryStore, make_store
    from crm_gym.data.replay import replay, summarize

    path = args.path or "generated default tasks"
    conversations = _read(args.path) if args.path else _default_tasks()
    rejected = _upstream_rejects(conversations, path) if args.strict_upstream else set()
    conversations = [c for c in conversations if c.conversation_id not in rejected]
    try:
        store = make_store(args.store, strict_upstream=args.strict_upstream)
    except (StoreError, ImportError) as exc:
        print(f"crm-gym replay: {exc}", file=sys.stderr)
        return 2
    empty = MemoryStore().snapshot()
    results = []
    for conversation in conversations:
        store.restore(empty)  # one store for the run: each conversation starts empty
        results.append(replay(conversation, strict_upstream=args.strict_upstream, store=store))
    getattr(store, "close", lambda: None)()
    summary = summarize(results)
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        print(
            f"{path}: {summary['conversations_passed']}/{summary['conversations']} conversations, "
            f"{summary['turns_passed']}/{summary['turns']} turns passed"
        )
        for failure in summary["failures"][:20]:
            print(
                f"  {failure['conversation_id']} turn {failure['turn_id']} "
                f"({failure['tool']}): {str(failure['error']).splitlines()[0]}"
            )
    return 0 if not summary["failures"] and not rejected else 1


def _upstream_rejects(conversations: list[Any], path: str) -> set[str]:
    """Ids of the conversations upstream's schema rejects, each reported on stderr."""
    from crm_gym.data.conversation import upstream_schema_error

    rejected = set()
    for conversation in conversations:
        error = upstream_schema_error(conversation)
        if error is not None:
            rejected.add(conversation.conversation_id)
            print(
                f"{path}: {conversation.conversation_id}: upstream rejects it: {error}",
                file=sys.stderr,
            )
    return rejected


def cmd_lint(args: argparse.Namespace) -> int:
    """Report every dataset defect class with counts and examples."""
    from crm_gym.data.lint import lint

    report = lint(_read(args.path))
    if args.json:
        print(json.dumps(report, default=str))
    else:
        for finding, entry in report.items():
            print(f"{entry['count']:6d}  {finding}")
            for example in entry["examples"][:2]:
                print(f"        e.g. {example}")
    return 0


COMMANDS: dict[str, tuple[Callable[[argparse.Namespace], int], str]] = {
    "replay": (cmd_replay, "replay the ground truth of a dataset and score it"),
    "lint": (cmd_lint, "report every defect class of a dataset, counted, with examples"),
    "generate": (datagen.cmd_generate, "generate seeded conversations (JSONL)"),
    "datastats": (datagen.cmd_datastats, "diversity report of a dataset (templates, shares...)"),
    "report": (
        report_cmd.cmd_report,
        "compare policies from their evaluation logs (rliable report)",
    ),
    "train": (train_cmd.cmd_train, "GRPO training from a preset or a config file"),
    "eval": (eval_cmd.cmd_eval, "run a policy on tasks, k attempts each (JSONL records)"),
    "rescore": (
        rescore_cmd.cmd_rescore,
        "score the calls of an upstream or Atlas log as eval does",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="crm-gym", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    replay = _subparser(sub, "replay")
    replay.add_argument("path", nargs="?", help="JSONL file (default: generated default tasks)")
    replay.add_argument(
        "--strict-upstream",
        action="store_true",
        help="reproduce upstream's mock exactly (no document_url alias, ...)",
    )
    replay.add_argument("--json", action="store_true", help="print one JSON object")
    stores = "memory (default), sqlite, sqlite:///FILE.db, postgresql+psycopg://USER@HOST:PORT/DB"
    replay.add_argument("--store", default="memory", help=f"{stores}, or $VARIABLE holding one")
    lint = _subparser(sub, "lint")
    lint.add_argument("path", help="JSONL file")
    lint.add_argument("--json", action="store_true", help="print one JSON object")
    datagen.add_generate_arguments(_subparser(sub, "generate"))
    datagen.add_datastats_arguments(_subparser(sub, "datastats"))
    report_cmd.add_report_arguments(_subparser(sub, "report"))
    train_cmd.add_train_arguments(_subparser(sub, "train"))
    eval_cmd.add_eval_arguments(_subparser(sub, "eval"))
    rescore_cmd.add_rescore_arguments(_subparser(sub, "rescore"))
    return parser


def _subparser(sub: Any, name: str) -> argparse.ArgumentParser:
    handler, help_text = COMMANDS[name]
    parser = sub.add_parser(
        name, help=help_text, description=help_text, epilog=f"example: {EXAMPLES[name]}"
    )
    parser.set_defaults(handler=handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``crm-gym`` console script."""
    args = build_parser().parse_args(argv)
    if getattr(args, "path", None) and not Path(args.path).exists():
        print(f"crm-gym {args.command}: no such file: {args.path}", file=sys.stderr)
        return 2
    try:
        return args.handler(args)
    except DataFileError as exc:
        print(f"crm-gym {args.command}: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `crm-gym generate | head`: the reader has all it wants
        _silence_stdout()
        return 0


def _silence_stdout() -> None:
    """Point stdout at devnull so the exit's flush does not fail again (Python docs, "signal")."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
