"""The ``crm-gym`` command: thin subcommands over the library (``crm-gym COMMAND --help``)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Callable

from crm_gym.data.loading import LoadProblem, iter_conversations

EXAMPLES = {
    "replay": "crm-gym replay ../shared/arc/evaluation_400.jsonl --json",
    "lint": "crm-gym lint ../shared/arc/evaluation_400.jsonl --json",
}


def _read(path: str) -> list[Any]:
    """Good conversations of a file; bad lines are reported on stderr with their line number."""
    good = []
    for item in iter_conversations(path):
        if isinstance(item, LoadProblem):
            print(f"{path}: {item}", file=sys.stderr)
        else:
            good.append(item)
    return good


def _default_tasks() -> str:
    from crm_gym.data.examples import builtin_path

    return str(builtin_path())


def cmd_replay(args: argparse.Namespace) -> int:
    """Replay every conversation's ground truth and report what passed."""
    from crm_gym.data.replay import replay, summarize

    path = args.path or _default_tasks()
    results = [replay(c, strict_upstream=args.strict_upstream) for c in _read(path)]
    summary = summarize(results)
    if args.json:
        print(json.dumps(summary, default=str))
    else:
        print(f"{path}: {summary['conversations_passed']}/{summary['conversations']} conversations, "
              f"{summary['turns_passed']}/{summary['turns']} turns passed")  # fmt: skip
        for failure in summary["failures"][:20]:
            print(f"  {failure['conversation_id']} turn {failure['turn_id']} "
                  f"({failure['tool']}): {str(failure['error']).splitlines()[0]}")  # fmt: skip
    return 0 if not summary["failures"] else 1


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
    "lint": (cmd_lint, "report defects of a dataset (DATA-arc.md section 5)"),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(prog="crm-gym", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    replay = _subparser(sub, "replay")
    replay.add_argument("path", nargs="?", help="JSONL file (default: the built-in examples)")
    replay.add_argument("--strict-upstream", action="store_true",
                        help="reproduce upstream's mock exactly (no document_url alias, ...)")  # fmt: skip
    replay.add_argument("--json", action="store_true", help="print one JSON object")
    lint = _subparser(sub, "lint")
    lint.add_argument("path", help="JSONL file")
    lint.add_argument("--json", action="store_true", help="print one JSON object")
    return parser


def _subparser(sub: Any, name: str) -> argparse.ArgumentParser:
    handler, help_text = COMMANDS[name]
    parser = sub.add_parser(name, help=help_text, description=help_text,
                            epilog=f"example: {EXAMPLES[name]}")  # fmt: skip
    parser.set_defaults(handler=handler)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``crm-gym`` console script."""
    args = build_parser().parse_args(argv)
    if getattr(args, "path", None) and not Path(args.path).exists():
        print(f"crm-gym {args.command}: no such file: {args.path}", file=sys.stderr)
        return 2
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
