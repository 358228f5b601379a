"""JSONL import and export of the guideline memory: one guideline (a JSON object) per line.

An import checks every line before it writes anything: a bad line is reported as ``FILE:LINE``
with what is wrong, in one ``GuidelineMemoryError`` that lists them all, and nothing is imported.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Iterable

from crm_gym.errors import GuidelineMemoryError

FIELDS: dict[str, type] = {
    "key": str,
    "text": str,
    "task": str,
    "source": str,
    "count": int,
    "seq": int,
    "created": str,
}
"""The fields of a ``Guideline`` line and their JSON types (``key`` and ``text`` required)."""
REQUIRED = ("key", "text")
MAX_REPORTED = 10


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """The guideline objects of a JSONL file (blank lines skipped), or every bad line's error."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as exc:
        raise GuidelineMemoryError(f"{path}: not UTF-8 text ({exc.reason})") from None
    rows, problems = [], []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        row, problem = parse_line(line)
        if problem:
            problems.append(f"{path}:{number}: {problem}")
        else:
            rows.append(row)
    if problems:
        shown = problems[:MAX_REPORTED]
        if len(problems) > MAX_REPORTED:
            shown.append(f"... and {len(problems) - MAX_REPORTED} more bad lines")
        raise GuidelineMemoryError("nothing imported:\n" + "\n".join(shown))
    return rows


def parse_line(line: str) -> tuple[dict[str, Any], str]:
    """One line's guideline, and what is wrong with it ("" when nothing)."""
    try:
        value = json.loads(line)
    except json.JSONDecodeError as exc:
        return {}, f"not JSON ({exc.msg} at column {exc.colno})"
    if not isinstance(value, dict):
        return {}, f"expected a JSON object, got {type(value).__name__}"
    return value, _problem(value)


def _problem(value: dict[str, Any]) -> str:
    unknown = sorted(set(value) - set(FIELDS))
    if unknown:
        return f"unknown field {unknown[0]!r} (fields: {', '.join(FIELDS)})"
    missing = [name for name in REQUIRED if name not in value]
    if missing:
        return f"missing field {missing[0]!r}"
    for name, kind in FIELDS.items():
        field = value.get(name, kind())
        if not isinstance(field, kind) or isinstance(field, bool):
            return f"field {name!r} must be {kind.__name__}, got {field!r}"
    for name, least in (("count", 1), ("seq", 0)):
        if value.get(name, least) < least:
            return f"field {name!r} must be >= {least}, got {value[name]}"
    return ""


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> int:
    """Write rows as JSONL atomically (a reader never sees half a file); the number written."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [json.dumps(row, ensure_ascii=False) + "\n" for row in rows]
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text("".join(lines), encoding="utf-8")
    os.replace(temporary, path)
    return len(lines)
