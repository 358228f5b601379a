"""Reading Arc conversations from JSONL files (or, lazily, a Hugging Face dataset)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from pydantic import ValidationError

from crm_gym.data.conversation import Conversation, check_upstream_schema
from crm_gym.errors import DatasetError


@dataclass(frozen=True)
class LoadProblem:
    """A line of a dataset file that is not a conversation, and why."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def iter_conversations(path: str | Path) -> Iterator[Conversation | LoadProblem]:
    """Yield each line's conversation, or a ``LoadProblem`` for a bad line (and carry on)."""
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if line.strip():
                yield _parse_line(line, number)


def _parse_line(line: str, number: int) -> Conversation | LoadProblem:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return LoadProblem(number, f"not valid JSON ({exc.msg} at column {exc.colno})")
    if not isinstance(record, dict):
        return LoadProblem(number, f"expected a JSON object, got {type(record).__name__}")
    try:
        return Conversation.from_record(record)
    except ValidationError as exc:
        return LoadProblem(number, f"not a conversation: {_summary(exc)}")


def _summary(exc: ValidationError) -> str:
    errors = exc.errors()
    parts = [f"{'.'.join(map(str, e['loc'])) or '<record>'}: {e['msg']}" for e in errors[:3]]
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more


def read_conversations(path: str | Path) -> tuple[list[Conversation], list[LoadProblem]]:
    """All good conversations of a JSONL file and the problems of the bad lines."""
    good: list[Conversation] = []
    bad: list[LoadProblem] = []
    for item in iter_conversations(path):
        (bad if isinstance(item, LoadProblem) else good).append(item)  # type: ignore[arg-type]
    return good, bad


def load_conversations(
    source: str | Path, split: str = "train", *, strict_upstream: bool = False
) -> list[Conversation]:
    """Load every conversation of a JSONL file, or of a Hugging Face dataset by name.

    ``strict_upstream=True`` also rejects what upstream's schema did (``check_upstream_schema``).

    Raises:
        DatasetError: naming the first bad lines, if any line is not a conversation.
        FileNotFoundError: if ``source`` is neither a file nor a dataset name.
    """
    path = Path(source)
    if path.is_file():
        good, bad = read_conversations(path)
        if bad:
            shown = "; ".join(str(problem) for problem in bad[:3])
            raise DatasetError(f"{path}: {len(bad)} bad line(s): {shown}")
        return check_upstream_schema(good, path) if strict_upstream else good
    if isinstance(source, str) and _looks_like_hub_name(source):
        rows = _load_hub_dataset(source, split)
        return check_upstream_schema(rows, source) if strict_upstream else rows
    raise FileNotFoundError(f"no dataset file at {source}")


def _looks_like_hub_name(source: str) -> bool:
    """``owner/name`` with no file suffix (a missing ``data/x.jsonl`` is a missing file)."""
    return re.fullmatch(r"[\w.-]+/[\w.-]+", source) is not None and not source.endswith(
        (".jsonl", ".json", ".gz", ".txt")
    )


def _load_hub_dataset(name: str, split: str) -> list[Conversation]:
    try:
        import datasets  # noqa: PLC0415 (optional dependency, imported on use)
    except ImportError as exc:
        raise ImportError(
            f"loading '{name}' from the Hugging Face hub needs `pip install \"crm-gym[hf]\"`"
        ) from exc
    rows: Any = datasets.load_dataset(name, split=split)
    return [Conversation.from_record(_decode_row(dict(row))) for row in rows]


def _decode_row(row: dict[str, Any]) -> dict[str, Any]:
    """Hub datasets may store nested fields as JSON strings; decode those."""
    for key in ("turns", "initial_entities", "final_expected_state", "cumulative_context"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row
