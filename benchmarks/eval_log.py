"""One evaluation log: whose run it is (``LOG.meta.json``), its lock, and the attempts it holds.

A log belongs to one run: one policy (the records' name), one task set (sha256 of the
conversations), attempts, seed, env and reward settings (``strict_upstream`` included), sampling
and judge. ``EvalLog.open`` writes that identity next to a new log and compares it with an
existing one's; any difference is refused, naming the fields, so two policies or two task sets
never share a log and a rerun never skips attempts that another run made. A log written before
meta files existed is adopted when every record agrees with this run.

The log is locked (``fcntl.flock`` on the log itself) while a run writes it: a second writer is
refused at once instead of appending duplicates. ``step`` is not part of the identity: one
policy's checkpoints share a log (the report's sample-efficiency curves), told apart by step.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import IO, Any, Iterable, Sequence

from benchmarks.records import ConversationRecord, RecordError, parse_records
from crm_gym.data.conversation import Conversation
from crm_gym.errors import EvalLogError

META_FORMAT = "crm-gym-eval-log/1"
META_SUFFIX = ".meta.json"
IDENTITY_KEYS = (
    "policy",
    "tasks_sha256",
    "num_tasks",
    "attempts",
    "seed",
    "episode_seed_base",
    "env",
    "sampling",
    "judge",
    "memory",
)
"""The fields that must agree for a run to write into an existing log."""


def meta_path(log: str | Path) -> Path:
    """The meta file of a log: ``LOG.meta.json`` beside it."""
    log = Path(log)
    return log.with_name(log.name + META_SUFFIX)


def tasks_fingerprint(conversations: Sequence[Conversation]) -> str:
    """sha256 of the conversations (their JSON, in id order): the task set's identity."""
    digest = hashlib.sha256()
    for conversation in sorted(conversations, key=lambda c: c.conversation_id):
        digest.update(conversation.model_dump_json().encode("utf-8") + b"\n")
    return digest.hexdigest()


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one file (through links and ``..``)."""
    a, b = Path(a), Path(b)
    if a.exists() and b.exists():
        return os.path.samefile(a, b)
    return a.resolve() == b.resolve()


def read_records(path: str | Path, lines: Iterable[bytes]) -> list[ConversationRecord]:
    """Every record of a log's lines; a line that is not one raises ``EvalLogError`` naming it."""
    try:
        return parse_records(path, lines)
    except RecordError as exc:
        raise EvalLogError(str(exc)) from None


class EvalLog:
    """An open, locked log of one run; ``append`` adds records, ``done`` says what is there.

    Example:
        >>> import tempfile
        >>> path = Path(tempfile.mkdtemp()) / "runs" / "log.jsonl"
        >>> with EvalLog.open(path, {"policy": "replay", "seed": 0}) as log:
        ...     log.done(step=None)
        set()
    """

    def __init__(self, path: Path, identity: dict[str, Any], file: IO[bytes]):
        self.path, self.identity, self.file = path, identity, file
        self.records: list[ConversationRecord] = []

    @classmethod
    def open(cls, path: str | Path, identity: dict[str, Any]) -> EvalLog:
        """Create or reopen ``path`` for the run ``identity``: lock it and check whose it is."""
        path = Path(path)
        identity = json.loads(json.dumps(identity))  # as the meta file will hold it
        file = _open_locked(path)
        try:
            log = cls(path, identity, file)
            log._load()
        except BaseException:
            file.close()
            raise
        return log

    def __enter__(self) -> EvalLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Unlock and close the log."""
        if not self.file.closed:
            fcntl.flock(self.file, fcntl.LOCK_UN)
            self.file.close()

    def done(self, step: int | None) -> set[tuple[str, int]]:
        """``(conversation_id, attempt)`` of the records of ``step`` already in the log."""
        return {(r.conversation_id, r.attempt) for r in self.records if r.step == step}

    def append(self, records: Sequence[ConversationRecord]) -> None:
        """Append records and flush them (a kill loses only episodes still running)."""
        self.file.write(b"".join(r.model_dump_json().encode("utf-8") + b"\n" for r in records))
        self.file.flush()
        self.records.extend(records)

    def _load(self) -> None:
        """Drop a partial last line, read the records, then check or write the meta file."""
        self.file.seek(0)
        data = self.file.read()
        if data and not data.endswith(b"\n"):  # a kill mid-line: that attempt runs again
            data = data[: data.rfind(b"\n") + 1]
            self.file.truncate(len(data))
        self.records = read_records(self.path, data.splitlines())
        meta = meta_path(self.path)
        if meta.exists() and self.records:  # an empty log is anyone's: its meta is rewritten
            self._check_meta(meta)
        else:
            self._check_records()
            _write_json(meta, {"format": META_FORMAT, **self.identity})

    def _check_meta(self, meta: Path) -> None:
        try:
            saved = json.loads(meta.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise EvalLogError(f"{meta}: unreadable meta file of {self.path}: {exc}") from None
        if not isinstance(saved, dict) or saved.get("format") != META_FORMAT:
            raise EvalLogError(f"{meta}: not a crm-gym eval meta file ({META_FORMAT})")
        differ = [
            f"{key} {saved.get(key)!r} (this run: {self.identity.get(key)!r})"
            for key in IDENTITY_KEYS
            if key in self.identity and saved.get(key) != self.identity[key]
        ]
        if differ:
            raise EvalLogError(
                f"{self.path} belongs to another run: {'; '.join(differ)}; use another -o"
            )

    def _check_records(self) -> None:
        """A log without meta file is adopted only when its records are of this run."""
        for key in ("policy", "seed"):
            if key not in self.identity:
                continue
            other = {getattr(r, key) for r in self.records} - {self.identity[key]}
            if other:
                raise EvalLogError(
                    f"{self.path} holds records of {key} {sorted(other, key=str)[:3]} (this run: "
                    f"{self.identity[key]!r}) and no {META_SUFFIX} file; use another -o"
                )


def _open_locked(path: Path) -> IO[bytes]:
    """``path`` opened for reading and appending (parents created), locked or refused."""
    if path.is_dir():
        raise EvalLogError(f"{path}: a directory, not a log file")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        file = open(path, "a+b")  # noqa: SIM115 (held open, locked, for the whole run)
    except OSError as exc:
        raise EvalLogError(f"{path}: cannot write the log: {exc.strerror}") from None
    try:
        fcntl.flock(file, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        file.close()
        raise EvalLogError(
            f"{path}: another crm-gym eval is writing this log (it is locked); "
            "wait for it to finish or use another -o"
        ) from None
    return file


def _write_json(path: Path, value: dict[str, Any]) -> None:
    """Write a JSON file whole (a temporary file renamed over it)."""
    partial = path.with_name(path.name + ".partial")
    try:
        partial.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        partial.replace(path)
    except OSError as exc:
        raise EvalLogError(f"{path}: cannot write the log's meta file: {exc.strerror}") from None
