"""``crm-gym generate`` and ``crm-gym datastats``: the scenario generator and its diversity report.

Output streams line by line (constant memory for any ``--n``); a progress bar goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import nullcontext
from typing import IO, Any, Iterable, Iterator, TypeVar

T = TypeVar("T")

GENERATE_EXAMPLE = "crm-gym generate --n 10000 --seed 1 --failure-share 0.4 -o tasks.jsonl --stats"
DATASTATS_EXAMPLE = "crm-gym datastats tasks.jsonl"


def add_generate_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``crm-gym generate``."""
    parser.add_argument("--n", type=int, required=True, help="number of conversations")
    parser.add_argument("--seed", type=int, default=0, help="seed of the whole set (default 0)")
    parser.add_argument(
        "--failure-share",
        type=float,
        default=0.4,
        help="share of all turns planned to fail (default 0.4)",
    )
    parser.add_argument(
        "--complexity",
        type=_shares,
        default=None,
        help="e.g. simple=0.35,medium=0.4,complex=0.25 (normalised)",
    )
    parser.add_argument(
        "--skills",
        type=_shares,
        default=None,
        help="e.g. crud=1,knowledge=1,analytics=1,policy=1 (normalised)",
    )
    parser.add_argument(
        "--underspecified",
        type=float,
        default=0.0,
        help="share of success turns that leave one value unsaid (default 0)",
    )
    parser.add_argument(
        "--empty-searches",
        type=float,
        default=0.15,
        help="share of searches that find nothing (default 0.15)",
    )
    parser.add_argument("--workers", type=int, default=1, help="processes (output is identical)")
    parser.add_argument("-o", "--output", default="-", help="JSONL file, or - for stdout (default)")
    parser.add_argument("--stats", action="store_true", help="print the diversity report after")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _shares(text: str) -> dict[str, float]:
    try:
        return {
            key.strip(): float(value)
            for key, value in (part.split("=") for part in text.split(","))
        }
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected name=share,name=share..., got {text!r}"
        ) from None


def cmd_generate(args: argparse.Namespace) -> int:
    """Write ``--n`` generated conversations as JSONL, optionally with the diversity report."""
    from crm_gym.data.datastats import DataStats
    from crm_gym.data.generator import generate, generate_lines, to_json

    mix = {
        "failure_share": args.failure_share,
        "underspecified": args.underspecified,
        "empty_searches": args.empty_searches,
    }
    mix.update({k: v for k, v in (("complexity", args.complexity), ("skills", args.skills)) if v})
    try:
        if args.stats and args.workers <= 1:  # count the conversations made, not their lines
            items: Iterator[tuple[str, Any]] = (
                (to_json(conversation), conversation)
                for conversation in generate(args.n, args.seed, **mix)
            )
        else:
            lines = generate_lines(args.n, args.seed, workers=args.workers, **mix)
            items = ((line, None) for line in lines)
    except ValueError as exc:
        print(f"crm-gym generate: {exc}", file=sys.stderr)
        return 2
    stats = DataStats() if args.stats else None
    to_stdout = args.output == "-"
    with nullcontext(sys.stdout) if to_stdout else open(args.output, "w", encoding="utf-8") as out:
        for line, conversation in progress(items, args.n, enabled=not args.no_progress):
            out.write(line + "\n")
            if stats is not None and conversation is not None:
                stats.add(conversation)
            elif stats is not None:
                stats.add_line(line)
    if stats is not None:
        print_report(stats.report(), sys.stderr if to_stdout else sys.stdout)
    return 0


def cmd_datastats(args: argparse.Namespace) -> int:
    """The diversity report of a JSONL file."""
    from crm_gym.data.datastats import DataStats
    from crm_gym.data.loading import LoadProblem, iter_conversations

    stats = DataStats()
    for item in iter_conversations(args.path):
        if isinstance(item, LoadProblem):
            print(f"{args.path}: {item}", file=sys.stderr)
        else:
            stats.add(item)
    print_report(stats.report(), sys.stdout)
    return 0


def print_report(report: dict, stream: IO[str]) -> None:
    """The report as a table, then as one JSON line (last)."""
    from crm_gym.data.datastats import format_table

    print(format_table(report), file=stream)
    print(json.dumps(report, sort_keys=True), file=stream)


def progress(
    items: Iterable[T], total: int, enabled: bool = True, stream: IO[str] | None = None
) -> Iterator[T]:
    """Pass items through, drawing ``generate: 1200/10000 [###...] 12% 850/s`` on stderr."""
    stream = stream or sys.stderr
    start = last = time.perf_counter()
    done = 0
    for done, item in enumerate(items, start=1):
        now = time.perf_counter()
        if enabled and now - last >= 0.5:
            last = now
            bar = "#" * (30 * done // max(total, 1))
            stream.write(
                f"\rgenerate: {done}/{total} [{bar:<30}] {done / max(total, 1):4.0%} "
                f"{done / (now - start):,.0f}/s"
            )
            stream.flush()
        yield item
    if enabled:
        elapsed = time.perf_counter() - start
        stream.write(
            f"\rgenerate: {done}/{total} done in {elapsed:.1f} s "
            f"({done / max(elapsed, 1e-9):,.0f}/s)\n"
        )
        stream.flush()


def add_datastats_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``crm-gym datastats``."""
    parser.add_argument("path", help="JSONL file of conversations")
