"""The 50,000 check: generate 10,000 conversations for each of 5 seeds, replay and lint them all.

Every success-path turn must succeed and every expected failure must fail with its substring
(replay), and the linter must report nothing: every finding zero (default data includes 0-hit
searches and unknown-id failures, which the generator declares; see ``crm_gym.data.lint``).
Prints per-seed counts and one JSON line last; exits 1 when anything failed or was found.

Run::

    python -m benchmarks.check_generated [--n 10000] [--seeds 1 2 3 4 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from crm_gym.data.replay import replay
from crm_gym.generator import generate


def check_seed(n: int, seed: int, run_lint: bool) -> dict[str, Any]:
    """Counts for one seed: conversations and turns passed, and every non-zero lint finding."""
    start = time.perf_counter()
    conversations = list(generate(n, seed))
    made = time.perf_counter()
    results = [replay(conversation) for conversation in conversations]
    row: dict[str, Any] = {
        "seed": seed,
        "conversations": len(results),
        "conversations_passed": sum(result.passed for result in results),
        "turns": sum(len(result.turns) for result in results),
        "turns_passed": sum(turn.passed for result in results for turn in result.turns),
        "generate_s": round(made - start, 1),
        "replay_s": round(time.perf_counter() - made, 1),
    }
    if run_lint:
        from crm_gym.data.lint import lint

        linted = time.perf_counter()
        report = lint(conversations)
        row["lint_s"] = round(time.perf_counter() - linted, 1)
        row["lint"] = {
            name: dict(entry["breakdown"]) or entry["count"]
            for name, entry in report.items()
            if entry["count"]
        }
        row["lint_counts"] = {
            name: entry["count"] for name, entry in report.items() if entry["count"]
        }
    return row


def main() -> None:
    """Check every seed, print a line per seed and the JSON summary (exit 1 unless clean)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4, 5])
    parser.add_argument("--no-lint", action="store_true", help="replay only")
    args = parser.parse_args()
    rows = []
    for seed in args.seeds:
        row = check_seed(args.n, seed, not args.no_lint)
        rows.append(row)
        print(
            f"seed {seed}: {row['conversations_passed']}/{row['conversations']} conversations, "
            f"{row['turns_passed']}/{row['turns']} turns passed; lint {row.get('lint_counts', '-')}"
        )
    total = {
        key: sum(row[key] for row in rows)
        for key in ("conversations", "conversations_passed", "turns", "turns_passed")
    }
    print(
        f"total: {total['conversations_passed']}/{total['conversations']} conversations, "
        f"{total['turns_passed']}/{total['turns']} turns passed"
    )
    findings = sum(sum(row.get("lint_counts", {}).values()) for row in rows)
    print(json.dumps({"total": total, "lint_findings": findings, "seeds": rows}))
    clean = total["conversations_passed"] == total["conversations"] and findings == 0
    sys.exit(0 if clean else 1)


if __name__ == "__main__":
    main()
