"""Reading Arc conversations from JSONL files (or, lazily, a Hugging Face dataset).

Files are read as bytes and decoded line by line, so one bad line is one ``LoadProblem`` (with
its line number) and never a traceback: invalid UTF-8, invalid JSON, integers over Python's
4,300-digit limit, nesting deeper than ``MAX_DEPTH``, a value that is not an object, a record
that is not a conversation, a ``conversation_id`` already seen on an earlier line. What makes
the whole file unreadable (a directory, UTF-16/UTF-32 text, a corrupt gzip stream, no
conversation at all) raises ``DataFileError`` naming the file. A UTF-8 byte-order mark is
skipped and gzip-compressed files (by their magic bytes, whatever their suffix) are read as is.
"""

from __future__ import annotations

import gzip
import io
import json
import re
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from pydantic import ValidationError

from crm_gym.data.conversation import Conversation, check_upstream_schema
from crm_gym.errors import DataFileError, DataFileNotFoundError

MAX_DEPTH = 100
"""Deepest nesting of objects and arrays a line may have (Arc records have 5 levels).

Much deeper values overflow the recursion of the code that later walks them (templates,
``copy.deepcopy``: from about 300 levels), so they are refused at load time, with their line;
100 levels replay and reset an env. A line with at most 100 brackets is never walked.
"""

_GZIP_MAGIC = b"\x1f\x8b"
_UTF8_BOM = b"\xef\xbb\xbf"
_WIDE_BOMS = (
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)


@dataclass(frozen=True)
class LoadProblem:
    """A line of a dataset file that is not a conversation, and why."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


def iter_conversations(path: str | Path) -> Iterator[Conversation | LoadProblem]:
    """Yield each line's conversation, or a ``LoadProblem`` for a bad line (and carry on).

    Raises (while iterating, as ``open`` would on the first read):
        DataFileNotFoundError: if nothing exists at ``path``.
        DataFileError: if the file as a whole cannot be read (see the module docstring).
    """
    return _unique(_items(path))  # messages name the path as the caller spelled it


def _items(path: str | Path) -> Iterator[tuple[int, Conversation | LoadProblem]]:
    for number, raw in _numbered_lines(path):
        text = _decode(raw, number)
        if isinstance(text, LoadProblem):
            yield number, text
        elif text.strip():
            yield number, _parse_line(text, number)


def _unique(
    items: Iterable[tuple[int, Conversation | LoadProblem]],
) -> Iterator[Conversation | LoadProblem]:
    """Refuse a ``conversation_id`` seen before: an env indexes tasks by it, so one would hide."""
    first_line: dict[str, int] = {}
    for number, item in items:
        if isinstance(item, Conversation):
            seen = first_line.setdefault(item.conversation_id, number)
            if seen != number:
                message = f"duplicate conversation_id {item.conversation_id!r}"
                item = LoadProblem(number, f"{message} (first on line {seen})")
        yield item


def _numbered_lines(path: str | Path) -> Iterator[tuple[int, bytes]]:
    number = 0
    with _open_binary(path) as stream:
        try:
            for number, line in enumerate(stream, start=1):
                yield number, _first_line(line, path) if number == 1 else line
        except (OSError, EOFError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
            raise DataFileError(f"{path}: unreadable at line {number + 1}: {exc}") from exc


def _open_binary(path: str | Path) -> io.BufferedIOBase:
    """The file's bytes, decompressed when it starts with gzip's magic bytes."""
    if Path(path).is_dir():
        raise DataFileError(f"{path}: is a directory, expected a JSONL file")
    try:
        with open(path, "rb") as probe:
            magic = probe.read(2)
    except FileNotFoundError:
        raise DataFileNotFoundError(f"no such file: {path}") from None
    except OSError as exc:
        raise DataFileError(f"{path}: cannot read ({exc.strerror})") from None
    return gzip.open(path, "rb") if magic == _GZIP_MAGIC else open(path, "rb")  # noqa: SIM115


def _first_line(line: bytes, path: str | Path) -> bytes:
    """Line 1 without a UTF-8 byte-order mark; UTF-16/32 text is refused (JSONL is UTF-8)."""
    for bom, encoding in _WIDE_BOMS:
        if line.startswith(bom):
            raise DataFileError(f"{path}: the file is {encoding}; convert it to UTF-8")
    if b"\x00" in line:
        raise DataFileError(f"{path}: line 1 has NUL bytes (UTF-16 or binary?); expected UTF-8")
    return line.removeprefix(_UTF8_BOM)


def _decode(line: bytes, number: int) -> str | LoadProblem:
    try:
        return line.decode("utf-8")
    except UnicodeDecodeError as exc:
        byte = line[exc.start]
        return LoadProblem(number, f"not valid UTF-8 (byte 0x{byte:02x} at byte {exc.start + 1})")


def _parse_line(line: str, number: int) -> Conversation | LoadProblem:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as exc:
        return LoadProblem(number, f"not valid JSON ({exc.msg} at column {exc.colno})")
    except RecursionError:
        return LoadProblem(number, "not valid JSON (nested too deeply to parse)")
    except ValueError as exc:  # an integer over sys.get_int_max_str_digits() digits
        reason = str(exc).split(";")[0]  # drop the hint to raise the limit: not the user's fix
        return LoadProblem(number, f"not valid JSON ({reason[:1].lower()}{reason[1:]})")
    if line.count("[") + line.count("{") > MAX_DEPTH and _too_deep(record, MAX_DEPTH):
        return LoadProblem(number, f"nested deeper than {MAX_DEPTH} levels")
    return _conversation(record, number)


def _conversation(record: Any, number: int) -> Conversation | LoadProblem:
    if not isinstance(record, dict):
        return LoadProblem(number, f"expected a JSON object, got {type(record).__name__}")
    try:
        return Conversation.from_record(record)
    except ValidationError as exc:
        return LoadProblem(number, f"not a conversation: {_summary(exc)}")


def _too_deep(value: Any, limit: int) -> bool:
    """Whether objects/arrays nest deeper than ``limit`` (level by level: no recursion)."""
    level = [value] if isinstance(value, (dict, list)) else []
    for _ in range(limit):
        level = [
            child
            for node in level
            for child in (node.values() if isinstance(node, dict) else node)
            if isinstance(child, (dict, list))
        ]
        if not level:
            return False
    return True


def _summary(exc: ValidationError) -> str:
    errors = exc.errors()
    parts = [f"{'.'.join(map(str, e['loc'])) or '<record>'}: {e['msg']}" for e in errors[:3]]
    more = f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""
    return "; ".join(parts) + more


def read_conversations(path: str | Path) -> tuple[list[Conversation], list[LoadProblem]]:
    """All good conversations of a JSONL file and the problems of the bad lines.

    Raises:
        DataFileNotFoundError: if nothing exists at ``path``.
        DataFileError: if the file as a whole cannot be read (a directory, UTF-16, ...).
    """
    return _partition(iter_conversations(path))


def _partition(
    items: Iterable[Conversation | LoadProblem],
) -> tuple[list[Conversation], list[LoadProblem]]:
    good: list[Conversation] = []
    bad: list[LoadProblem] = []
    for item in items:
        (bad if isinstance(item, LoadProblem) else good).append(item)  # type: ignore[arg-type]
    return good, bad


def good_conversations(
    path: str | Path, on_problem: Callable[[LoadProblem], None]
) -> Iterator[Conversation]:
    """Stream a file's conversations, handing each bad line to ``on_problem`` (a CLI reports it).

    Raises:
        DataFileError: as ``iter_conversations``, and at the end if no line was a conversation
            (a file of bad lines must not look like an empty, passing dataset).
    """
    found = bad = 0
    for item in iter_conversations(path):
        if isinstance(item, LoadProblem):
            bad += 1
            on_problem(item)
        else:
            found += 1
            yield item
    if not found:
        why = f"all {bad} line(s) are bad" if bad else "it is empty"
        raise DataFileError(f"{path}: no conversation in the file ({why})")


def load_conversations(
    source: str | Path, split: str = "train", *, strict_upstream: bool = False
) -> list[Conversation]:
    """Every conversation of a JSONL file (optionally gzipped), or of a Hugging Face dataset.

    A string is a Hugging Face dataset name only when ``is_hub_name`` says so; anything else,
    and every ``Path``, is a local file. ``strict_upstream=True`` also rejects what upstream's
    schema did (``check_upstream_schema``).

    Raises:
        DataFileNotFoundError: if ``source`` is neither a file nor a dataset name.
        DataFileError: naming the file and its first bad lines if any line is not a
            conversation, or if the file holds no conversation at all.
        DatasetError: under ``strict_upstream``, naming the conversations upstream rejects.
    """
    if isinstance(source, str) and is_hub_name(source):
        conversations = _load_hub_dataset(source, split)
    else:
        good, bad = read_conversations(source)
        conversations = _all_good(str(source), good, bad)
    return check_upstream_schema(conversations, source) if strict_upstream else conversations


def _all_good(name: str, good: list[Conversation], bad: list[LoadProblem]) -> list[Conversation]:
    if bad:
        shown = "; ".join(str(problem) for problem in bad[:3])
        raise DataFileError(f"{name}: {len(bad)} bad line(s): {shown}")
    if not good:
        raise DataFileError(f"{name}: no conversation in the file (it is empty)")
    return good


_HUB_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")
_DATA_SUFFIXES = (".jsonl", ".json", ".ndjson", ".gz", ".txt", ".csv", ".parquet")


def is_hub_name(source: str) -> bool:
    """Whether ``source`` names a Hugging Face dataset rather than a local file.

    The rule: exactly ``owner/name``, each part an ASCII letter or digit then up to 95 letters,
    digits, ``_``, ``.`` or ``-`` (so never ``./x``, ``../x``, ``/x``, ``~/x``, ``a/b/c`` or a
    Windows path); no data-file suffix (``.jsonl``, ``.json``, ``.gz``, ...); nothing exists at
    that path; and ``owner`` is not a local directory (a missing ``data/tasks`` is a missing
    file when ``data/`` exists). A ``Path`` object is never a hub name.

    Example:
        >>> is_hub_name("arc-computer/arc-crm-benchmark"), is_hub_name("./tasks")
        (True, False)
    """
    return (
        _HUB_NAME.fullmatch(source) is not None
        and not source.lower().endswith(_DATA_SUFFIXES)
        and not Path(source).exists()
        and not Path(source.split("/", 1)[0]).is_dir()
    )


def _load_hub_dataset(name: str, split: str) -> list[Conversation]:
    try:
        import datasets  # noqa: PLC0415 (optional dependency, imported on use)
    except ImportError as exc:
        raise ImportError(
            f"{name!r} is not a local file; loading it as a Hugging Face dataset needs "
            '`pip install "crm-gym[hf]"`'
        ) from exc
    try:
        rows: Any = datasets.load_dataset(name, split=split)
    except FileNotFoundError as exc:  # datasets' DatasetNotFoundError subclasses it
        raise DataFileNotFoundError(f"no such file or Hugging Face dataset: {name}") from exc
    items = ((i, _parse_row(dict(row), i)) for i, row in enumerate(rows, 1))
    good, bad = _partition(_unique(items))
    return _all_good(f"{name} (split {split}, rows counted as lines)", good, bad)


def _parse_row(row: dict[str, Any], number: int) -> Conversation | LoadProblem:
    record = _decode_row(row)
    if _too_deep(record, MAX_DEPTH):
        return LoadProblem(number, f"nested deeper than {MAX_DEPTH} levels")
    return _conversation(record, number)


def _decode_row(row: dict[str, Any]) -> dict[str, Any]:
    """Hub datasets may store nested fields as JSON strings; decode those."""
    for key in ("turns", "initial_entities", "final_expected_state", "cumulative_context"):
        if isinstance(row.get(key), str):
            try:
                row[key] = json.loads(row[key])
            except (ValueError, RecursionError):  # left a string: validation names the field
                continue
    return row
