r"""Where the time goes: inclusive and own shares of each function in a py-spy raw profile.

A flame graph shows shares by hovering; this prints them as a table, so the shares quoted in the
docs can be recomputed. Record with py-spy (from PyPI) in its ``raw`` format, then read it::

    py-spy record -r 1000 -f raw -o gen.raw -- python -c "from crm_gym.generator import \
        generate_lines; sum(1 for _ in generate_lines(10000, 1))"
    python -m benchmarks.speed.profile_shares gen.raw --under make_line [--top 40]

``--under NAME`` keeps only the samples whose stack holds a function of that name (leaving out
imports and start-up), and shares are of those samples. A function is named ``name file.py``.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"(.*) \((.*?):\d+\)$")


def frame_name(frame: str) -> str:
    """``function file.py`` of a py-spy frame such as ``play (crm_gym/generator/scene.py:187)``."""
    match = _FRAME.match(frame)
    return f"{match[1]} {Path(match[2]).name}" if match else frame


def shares(lines: list[str], under: str | None = None) -> tuple[Counter, Counter, int]:
    """Samples per function (inclusive, own) and the number of samples counted."""
    inclusive: Counter = Counter()
    own: Counter = Counter()
    total = 0
    for line in lines:
        stack, _, count = line.rstrip().rpartition(" ")
        if not stack:
            continue
        names = [frame_name(frame) for frame in stack.split(";")]
        if under is not None and not any(name.split(" ")[0] == under for name in names):
            continue
        samples = int(count)
        total += samples
        inclusive.update(dict.fromkeys(set(names), samples))
        own[names[-1]] += samples
    return inclusive, own, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("profile", type=Path, help="a py-spy profile recorded with -f raw")
    parser.add_argument("--under", help="count only samples under this function name")
    parser.add_argument("--top", type=int, default=40)
    args = parser.parse_args()
    lines = args.profile.read_text().splitlines()
    inclusive, own, total = shares(lines, args.under)
    if not total:
        raise SystemExit("no samples matched")
    for title, counts in (("inclusive", inclusive), ("own", own)):
        print(f"--- {title} share of {total} samples")
        for name, samples in counts.most_common(args.top):
            print(f"{100 * samples / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
