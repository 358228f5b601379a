"""``crm-gym rescore``: score the calls another harness recorded, as ``crm-gym eval`` would.

Reads upstream's result records (``per_turn_results``) or Atlas's ``sessions.jsonl``
(``final_payload.turn_results``), replays every recorded call on crm-gym's CRM, and writes one
evaluation record per recorded attempt to ``-o`` (overwritten), which ``crm-gym report`` reads.
Turns without a recorded call, and conversations of the log without a task (or tasks without a
record), are named on stderr; stdout gets one JSON summary line.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

RESCORE_EXAMPLE = (
    "crm-gym rescore upstream_results.jsonl --tasks ../shared/arc/evaluation_400.jsonl "
    "-o rescored.jsonl"
)
MAX_NAMED = 20
"""Names listed per line on stderr (the JSON summary has them all)."""


def add_rescore_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``crm-gym rescore``."""
    add = parser.add_argument
    add("log", help="upstream result records or Atlas sessions.jsonl (JSONL)")
    add("--tasks", required=True, help="the conversations: JSONL file or generated[:N[:SEED]]")
    add("-o", "--output", required=True, help="JSONL of evaluation records (overwritten)")
    add(
        "--strict-upstream",
        action="store_true",
        help="reproduce upstream's mock exactly (no document_url alias, ...)",
    )
    add("--seed", type=int, default=0, help="the records' seed and the episodes' (default 0)")
    add("--name", default=None, help="the records' policy (default: the log's model, or its stem)")
    add("--num-envs", type=int, default=8, help="envs stepped in lockstep (default 8)")


def cmd_rescore(args: argparse.Namespace) -> int:
    """Rescore ``args.log`` against ``args.tasks`` and write the records to ``args.output``."""
    from benchmarks.foreign_logs import read_log
    from benchmarks.rescore import rescore
    from benchmarks.task_sets import load_tasks

    if not Path(args.log).is_file():
        print(f"crm-gym rescore: no such file: {args.log}", file=sys.stderr)
        return 2
    try:
        logged = read_log(args.log)
        conversations = load_tasks(args.tasks)
        name = args.name or next((r.model for r in logged if r.model), None)
        result = rescore(
            logged,
            conversations,
            policy_name=name or Path(args.log).stem,
            seed=args.seed,
            strict_upstream=args.strict_upstream,
            num_envs=args.num_envs,
        )
        _write(args.output, result.records)
    except (ValueError, OSError) as exc:  # LogError, DatasetError and StoreError are ValueErrors
        print(f"crm-gym rescore: {exc}", file=sys.stderr)
        return 2
    summary = {"log": args.log, "output": args.output, **result.summary()}
    _report(summary)
    print(json.dumps(summary))
    return 0


def _write(path: str, records: list[Any]) -> None:
    with open(path, "w", encoding="utf-8") as out:
        out.writelines(record.model_dump_json() + "\n" for record in records)


def _report(summary: dict[str, Any]) -> None:
    """The counts, and the names of what could not be matched or scored, on stderr."""
    print(
        f"rescored {summary['conversations']} conversations: "
        f"{summary['turns_passed']}/{summary['turns']} turns passed -> {summary['output']}",
        file=sys.stderr,
    )
    for key, label, unit in (
        ("unscorable", "unscorable", "turns (no call recorded)"),
        ("unknown_turns", "unknown turns", "recorded turns the conversation lacks"),
        ("not_in_tasks", "not in --tasks", "conversations of the log (skipped)"),
        ("not_in_log", "not in the log", "tasks"),
    ):
        names = summary[key]
        if names:
            more = f", ... ({len(names) - MAX_NAMED} more)" if len(names) > MAX_NAMED else ""
            shown = ", ".join(names[:MAX_NAMED])
            print(f"{label}: {len(names)} {unit}: {shown}{more}", file=sys.stderr)
