"""``crm-gym report``: compare policies from their evaluation logs (rliable report).

Writes ``report.md``, ``report.json`` and the PNG plots into the output folder; a progress bar for
the bootstrap goes to stderr when tqdm is installed and it takes more than a second.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPORT_EXAMPLE = "crm-gym report grpo.jsonl sft.jsonl -o report/ --names grpo,sft --reps 2000"


def add_report_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``crm-gym report``."""
    parser.add_argument(
        "logs", nargs="+", help="evaluation logs (JSONL); logs of one name are pooled as its runs"
    )
    parser.add_argument(
        "-o", "--output", required=True, help="folder for report.md, report.json, PNGs"
    )
    parser.add_argument(
        "--reps", type=int, default=2000, help="bootstrap replications (default 2000)"
    )
    parser.add_argument(
        "--tasks",
        choices=("auto", "arm", "category"),
        default="auto",
        help="tasks: curriculum arms, workflow categories, or auto (arms if every record has one)",
    )
    parser.add_argument(
        "--score",
        choices=("success", "reward"),
        default="success",
        help="score: strict success (default) or shaped return",
    )
    parser.add_argument(
        "--runs",
        choices=("auto", "seed", "attempt"),
        default="auto",
        help="runs: seeds, attempts, or auto (seeds when a log has several)",
    )
    parser.add_argument("--names", type=_names, default=None, help="algorithm names, e.g. grpo,sft")
    parser.add_argument("--seed", type=int, default=0, help="seed of the bootstrap (default 0)")
    parser.add_argument(
        "--allow-different-tasks",
        action="store_true",
        help="compare logs of different task sets on the tasks they share (refused by default)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _names(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected name,name,..., got {text!r}")
    return names


def cmd_report(args: argparse.Namespace) -> int:
    """Build the report of ``args.logs`` and write it into ``args.output``."""
    from benchmarks.plots import write_report
    from benchmarks.report import ReportOptions, build_report, load_logs

    missing = [path for path in args.logs if not Path(path).exists()]
    if missing:
        print(f"crm-gym report: no such file: {', '.join(missing)}", file=sys.stderr)
        return 2
    try:
        options = ReportOptions(
            tasks=args.tasks,
            score=args.score,
            runs=args.runs,
            reps=args.reps,
            seed=args.seed,
            progress=not args.no_progress,
            allow_different_tasks=args.allow_different_tasks,
        )
        sources: dict[str, str] = {}
        logs = load_logs(args.logs, args.names, args.allow_different_tasks, sources)
        report = build_report(logs, options, sources=sources)
        written = write_report(report, args.output)
    except (ValueError, ImportError, OSError) as exc:  # ReportError, RecordError: ValueErrors
        print(f"crm-gym report: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(path)
    return 0
