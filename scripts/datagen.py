"""``crm-gym generate`` and ``crm-gym datastats``: the scenario generator and its diversity report.

Output streams line by line (constant memory for any ``--n``); a progress bar goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import nullcontext
from typing import IO, Any, ContextManager, Generator, Iterable, Iterator, TypeVar

T = TypeVar("T")

GENERATE_EXAMPLE = "crm-gym generate --n 10000 --seed 1 --failure-share 0.4 -o tasks.jsonl --stats"
DATASTATS_EXAMPLE = "crm-gym datastats tasks.jsonl"


def add_generate_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``crm-gym generate``."""
    parser.add_argument(
        "--n", type=_positive_int, required=True, help="number of conversations (at least 1)"
    )
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
    parser.add_argument(
        "--holdout",
        choices=("all", "train", "held_out"),  # holdout.SIDES (not imported: a quick CLI start)
        default="all",
        help="draw request patterns and names from one side of the held-out split (default all)",
    )
    parser.add_argument(
        "--workers", type=_positive_int, default=1, help="processes, at least 1 (same output)"
    )
    parser.add_argument(
        "-o",
        "--output",
        default="-",
        help="JSONL file, or - for stdout (default); its folder must exist (none is created)",
    )
    parser.add_argument("--stats", action="store_true", help="print the diversity report after")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


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
    try:
        items = _generated(args)
    except ValueError as exc:
        print(f"crm-gym generate: {exc}", file=sys.stderr)
        return 2
    try:  # before any work: an hour of generation must not end in a traceback
        output = _open_output(args.output)
    except OSError as exc:
        print(f"crm-gym generate: -o {args.output}: {_unwritable(exc)}", file=sys.stderr)
        return 2
    try:
        with output as out:
            stats = _write(items, out, args)
    finally:
        items.close()  # stops the worker pool at once if the write failed (a closed pipe)
    if stats is not None:
        print_report(stats.report(), sys.stderr if args.output == "-" else sys.stdout)
    return 0


def _generated(args: argparse.Namespace) -> Generator[tuple[str, Any], None, None]:
    """``(line, conversation or None)`` pairs, lazily; the mix is checked at once (ValueError)."""
    from crm_gym.generator import generate, generate_lines, to_json

    mix = {
        "failure_share": args.failure_share,
        "underspecified": args.underspecified,
        "empty_searches": args.empty_searches,
        "holdout": args.holdout,
    }
    mix.update({k: v for k, v in (("complexity", args.complexity), ("skills", args.skills)) if v})
    if args.stats and args.workers <= 1:  # count the conversations made, not their lines
        conversations = generate(args.n, args.seed, **mix)
        return ((to_json(conversation), conversation) for conversation in conversations)
    lines = generate_lines(args.n, args.seed, workers=args.workers, **mix)
    return ((line, None) for line in lines)


def _open_output(output: str) -> ContextManager[IO[str]]:
    """Stdout for ``-``, else the file, created or truncated; its folder must exist."""
    if output == "-":
        return nullcontext(sys.stdout)
    return open(output, "w", encoding="utf-8")


def _unwritable(exc: OSError) -> str:
    if isinstance(exc, IsADirectoryError):
        return "is a directory, expected a file name"
    if isinstance(exc, FileNotFoundError):
        return "its folder does not exist (generate creates no folders)"
    return exc.strerror or str(exc)


def _write(items: Iterable[tuple[str, Any]], out: IO[str], args: argparse.Namespace) -> Any:
    """Write the lines (progress on stderr); the ``DataStats`` of them if ``--stats``."""
    from crm_gym.data.datastats import DataStats

    stats = DataStats() if args.stats else None
    for line, conversation in progress(items, args.n, enabled=not args.no_progress):
        out.write(line + "\n")
        if stats is not None and conversation is not None:
            stats.add(conversation)
        elif stats is not None:
            stats.add_line(line)
    return stats


def cmd_datastats(args: argparse.Namespace) -> int:
    """The diversity report of a JSONL file (an unreadable one raises ``DataFileError``)."""
    from crm_gym.data.datastats import DataStats
    from crm_gym.data.loading import good_conversations

    stats = DataStats()
    for conversation in good_conversations(args.path, lambda problem: _report(args.path, problem)):
        stats.add(conversation)
    print_report(stats.report(), sys.stdout)
    return 0


def _report(path: str, problem: Any) -> None:
    print(f"{path}: {problem}", file=sys.stderr)


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
