"""Fuzzed actions: adversarial text through both envs on every store, checked after every step.

Actions come from ``benchmarks.fuzz_corpus`` (seeded): the turn's reference call as it is and
mutated (weird values, keys, tool names), integers of 1,000-20,000 digits, nesting around the
depth cap and far past the recursion limit, random JSON, the texts that made the old regexes
backtrack (a tag or fence and up to 200,000 repeats), random code points, 1 MB texts, character
edits of a valid call, and final answers. ``--actions`` are split evenly over the stores, and on
each store between ``ArcCrm-v1`` and ``ArcCrmConversation-v1`` (the built-in conversations,
``max_steps=8``). After every step:

- ``step`` returned (an exception is counted, reported, and the env reset);
- the observation is a ``str`` in the observation space, ``terminated``/``truncated`` are bools,
  the reward is a finite float within ``RewardConfig().bounds`` (over the number of turns on the
  conversation env, whose return must also stay within the bounds);
- the CRM's invariants hold: records are their model under their own key, with finite numbers;
  foreign keys and document/note targets resolve; client emails are unique case-insensitively
  (and the memory store's email index agrees);
- an action that ran no tool, a failed tool call, or a read-only tool left every record as it was
  (``outcomes`` counts the steps by what they did: answers, action errors, tool errors, reads,
  writes).

Parse times are taken with ``parse_action`` on each action apart from the step; ``1 MB`` times
are ``parse_action`` on a 1,000,000-character text of each pathological pattern (refused as too
long) and ``_parse_text`` on it (the scanner itself, with no length cap).

Run::

    python -m benchmarks.fuzz_actions --actions 100000           # memory, SQLite, PostgreSQL
    python -m benchmarks.fuzz_actions --actions 300 --stores memory

PostgreSQL comes from ``--pg-dsn``, else ``$CRM_GYM_TEST_PG_DSN``, else a throwaway cluster
(``benchmarks.postgres``); without one it is skipped and the JSON says why. The last line printed
is one JSON object with every number; the exit status is 1 when any step raised or any check
failed.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import platform
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterator

import numpy as np

from benchmarks.fuzz_corpus import ONE_MB, PATTERNS, draw
from benchmarks.postgres import ClusterUnavailable, throwaway_cluster
from crm_gym.actions import FinalAnswer, ToolCall, _parse_text, parse_action
from crm_gym.crm.entities import ENTITY_TYPES, FOREIGN_KEYS, PRIMARY_KEYS
from crm_gym.crm.store import MemoryStore, Store, make_store
from crm_gym.crm.tools import READ_ONLY_TOOLS
from crm_gym.data.examples import builtin_path
from crm_gym.data.loading import load_conversations
from crm_gym.envs import ConversationEnv, CrmEnv
from crm_gym.envs.base import CrmEnvBase

STORES = ("memory", "sqlite", "postgresql")
ENVS = (CrmEnv, ConversationEnv)
MAX_STEPS = 8
MAX_EXAMPLES = 10
NUMBERS = ("amount", "value", "probability")
Tables = dict[str, dict[str, Any]]


@dataclass
class Tally:
    """What one run saw: counts, reward extremes, the slowest parse, and failure examples."""

    actions: int = 0
    exceptions: int = 0
    violations: int = 0
    reward_min: float = math.inf
    reward_max: float = -math.inf
    return_min: float = math.inf
    return_max: float = -math.inf
    slowest_parse_s: float = 0.0
    slowest_parse_kind: str = ""
    kinds: Counter = field(default_factory=Counter)
    outcomes: Counter = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)

    def note(self, what: str, kind: str, action: str, detail: str) -> None:
        """Keep the first few failures, with the action's kind and start."""
        if len(self.examples) < MAX_EXAMPLES:
            self.examples.append(f"{what} [{kind}] {detail[:300]} | action: {action[:120]!r}")

    def episode_return(self, total: float, bounds: tuple[float, float]) -> list[str]:
        """Note an episode's return; the problem when it lies outside ``bounds``."""
        self.return_min, self.return_max = min(self.return_min, total), max(self.return_max, total)
        low, high = bounds
        return [] if low - 1e-9 <= total <= high + 1e-9 else [f"return {total} outside {bounds}"]

    def merge(self, other: Tally) -> None:
        """Add ``other``'s counts and extremes to this tally."""
        for name in ("actions", "exceptions", "violations"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.reward_min = min(self.reward_min, other.reward_min)
        self.reward_max = max(self.reward_max, other.reward_max)
        self.return_min = min(self.return_min, other.return_min)
        self.return_max = max(self.return_max, other.return_max)
        if other.slowest_parse_s > self.slowest_parse_s:
            self.slowest_parse_s, self.slowest_parse_kind = (
                other.slowest_parse_s,
                other.slowest_parse_kind,
            )
        self.kinds.update(other.kinds)
        self.outcomes.update(other.outcomes)
        self.examples += other.examples[: MAX_EXAMPLES - len(self.examples)]

    def summary(self) -> dict[str, Any]:
        """The JSON-ready numbers."""
        finite = [self.reward_min, self.reward_max, self.return_min, self.return_max]
        low, high, ret_low, ret_high = (x if math.isfinite(x) else None for x in finite)
        return {
            "actions": self.actions,
            "exceptions": self.exceptions,
            "invariant_violations": self.violations,
            "reward_min": low,
            "reward_max": high,
            "return_min": ret_low,
            "return_max": ret_high,
            "slowest_parse_s": self.slowest_parse_s,
            "slowest_parse_kind": self.slowest_parse_kind,
            "kinds": dict(sorted(self.kinds.items())),
            "outcomes": dict(sorted(self.outcomes.items())),
            "examples": self.examples,
        }


# ---- checks -------------------------------------------------------------------------------------
def read_tables(store: Store) -> Tables:
    """Every record of the store, by kind and key."""
    return {kind: dict(store.items(kind)) for kind in ENTITY_TYPES}


def crm_problems(tables: Tables, store: Store) -> list[str]:
    """The CRM invariants that ``tables`` (read from ``store``) break."""
    problems = [*_record_problems(tables), *_reference_problems(tables)]
    emails: dict[str, list[str]] = {}
    for key, client in tables["Client"].items():
        if client.email is not None:
            emails.setdefault(client.email.lower(), []).append(key)
    problems += [f"email {email!r} on {keys}" for email, keys in emails.items() if len(keys) > 1]
    if isinstance(store, MemoryStore):
        index = {email: sorted(keys) for email, keys in store.email_index.items()}
        if index != {email: sorted(keys) for email, keys in emails.items()}:
            problems.append("the email index disagrees with the clients")
    return problems


def _record_problems(tables: Tables) -> Iterator[str]:
    for kind, records in tables.items():
        for key, record in records.items():
            if type(record) is not ENTITY_TYPES[kind]:
                yield f"{kind} {key} is a {type(record).__name__}"
            elif getattr(record, PRIMARY_KEYS[kind]) != key:
                yield f"{kind} {key} is stored under another key"
            for number in NUMBERS:
                value = getattr(record, number, None)
                if value is not None and not (type(value) is float and math.isfinite(value)):
                    yield f"{kind} {key} {number}={value!r}"


def _reference_problems(tables: Tables) -> Iterator[str]:
    for kind, links in FOREIGN_KEYS.items():
        for key, record in tables[kind].items():
            for name, target in links.items():
                value = getattr(record, name)
                if value not in tables[target] and not (value is None and name == "opportunity_id"):
                    yield f"{kind} {key} {name}={value!r} does not resolve"
    for kind in ("Document", "Note"):
        for key, record in tables[kind].items():
            if record.entity_id not in tables.get(record.entity_type, {}):
                yield f"{kind} {key} points at a missing {record.entity_type}"


def step_problems(env: CrmEnvBase, result: tuple, turns: int) -> list[str]:
    """What a step's return value breaks of the env contract and the reward bounds."""
    observation, reward, terminated, truncated, _ = result
    low, high = env.reward_config.bounds
    problems = []
    if not isinstance(observation, str) or observation not in env.observation_space:
        problems.append(f"observation outside the space: {str(observation)[:80]!r}")
    if type(terminated) is not bool or type(truncated) is not bool:
        problems.append(f"terminated/truncated not bools: {terminated!r}, {truncated!r}")
    in_bounds = low / turns - 1e-9 <= reward <= high / turns + 1e-9
    if type(reward) is not float or not math.isfinite(reward) or not in_bounds:
        problems.append(f"reward {reward!r} outside [{low}/{turns}, {high}/{turns}]")
    return problems


def step_outcome(action: str, observation: str) -> str:
    """What the step did: ``answer``, ``action_error``, ``tool_error``, ``read`` or ``write``.

    Only ``write`` (a mutating tool call that succeeded) may change the CRM.
    """
    parsed = parse_action(action)
    if isinstance(parsed, FinalAnswer):
        return "answer"
    if not isinstance(parsed, ToolCall):
        return "action_error"
    if observation.startswith("Tool error ("):
        return "tool_error"
    return "read" if parsed.name in READ_ONLY_TOOLS else "write"


# ---- the run ------------------------------------------------------------------------------------
def fuzz_env(env: CrmEnvBase, n: int, rng: np.random.Generator) -> Tally:
    """Play ``n`` drawn actions on ``env`` (resetting at episode ends), checking every step."""
    tally = Tally()
    _, info = env.reset(seed=int(rng.integers(2**31)))
    before, total = read_tables(env.api.store), 0.0
    for _ in range(n):
        kind, action = draw(rng, info["reference"])
        tally.actions += 1
        tally.kinds[kind] += 1
        turns = len(env._conversation.turns) if isinstance(env, ConversationEnv) else 1
        try:
            _time_parse(tally, kind, action)
            result = env.step(action)
        except Exception as exc:  # noqa: BLE001 - counting what step raises is the point
            tally.exceptions += 1
            tally.note("exception", kind, action, f"{type(exc).__name__}: {exc}")
            _, info = env.reset(seed=int(rng.integers(2**31)))
            before, total = read_tables(env.api.store), 0.0
            continue
        observation, reward, terminated, truncated, info = result
        after = read_tables(env.api.store)
        problems = step_problems(env, result, turns) + crm_problems(after, env.api.store)
        outcome = step_outcome(action, observation)
        tally.outcomes[outcome] += 1
        if after != before and outcome != "write":
            problems.append(f"the CRM changed on a step that wrote nothing ({outcome})")
        tally.reward_min, tally.reward_max = (
            min(tally.reward_min, reward),
            max(tally.reward_max, reward),
        )
        total += reward
        if terminated or truncated:
            problems += tally.episode_return(total, env.reward_config.bounds)
            _, info = env.reset(seed=int(rng.integers(2**31)))
            after, total = read_tables(env.api.store), 0.0
        if problems:
            tally.violations += len(problems)
            tally.note("violation", kind, action, "; ".join(problems))
        before = after
    return tally


def _time_parse(tally: Tally, kind: str, action: str) -> None:
    elapsed = parse_seconds(action, repeats=1)
    if elapsed > tally.slowest_parse_s:  # a new record: time it again, keep the best of three
        elapsed = min(elapsed, parse_seconds(action, repeats=2))
        if elapsed > tally.slowest_parse_s:
            tally.slowest_parse_s, tally.slowest_parse_kind = elapsed, kind


def parse_seconds(text: str, repeats: int, parse: Any = parse_action) -> float:
    """The fastest of ``repeats`` timings of ``parse(text)`` (the others met a busy machine)."""
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        parse(text)
        best = min(best, time.perf_counter() - start)
    return best


def megabyte_parse_times() -> dict[str, float]:
    """Seconds for the slowest 1 MB text, best of three timings each.

    Through ``parse_action``, which refuses it as too long, and through the scanner with no
    length cap (``_parse_text``).
    """
    worst = {"one_mb_parse_s": 0.0, "one_mb_scan_s": 0.0}
    for prefix, unit in PATTERNS:
        for end in ("", "x"):
            text = (prefix + unit * (ONE_MB // len(unit) + 1))[: ONE_MB - len(end)] + end
            for key, parse in (("one_mb_parse_s", parse_action), ("one_mb_scan_s", _parse_text)):
                worst[key] = max(worst[key], parse_seconds(text, 3, parse))
    return worst


@contextlib.contextmanager
def store_specs(names: list[str], pg_dsn: str | None) -> Iterator[dict[str, str]]:
    """Store specs by name; PostgreSQL from ``pg_dsn`` or a throwaway cluster (else left out)."""
    specs = {name: name for name in names if name != "postgresql"}
    if "postgresql" not in names:
        yield specs
        return
    if pg_dsn:
        yield {**specs, "postgresql": pg_dsn}
        return
    try:
        with throwaway_cluster() as dsn:
            yield {**specs, "postgresql": dsn}
    except ClusterUnavailable as exc:
        print(f"PostgreSQL skipped: {exc}", file=sys.stderr)
        yield {**specs, "postgresql_skipped": str(exc)}


def run(actions: int, names: list[str], seed: int, pg_dsn: str | None) -> dict[str, Any]:
    """Fuzz every store (``actions`` split evenly over stores and envs); the result's numbers."""
    tasks = load_conversations(builtin_path())
    total, per_store, started = Tally(), {}, time.perf_counter()
    with store_specs(names, pg_dsn) as specs:
        skipped = specs.pop("postgresql_skipped", None)
        shares = np.array_split(np.arange(actions), len(specs) * len(ENVS))
        for index, (name, spec) in enumerate(specs.items()):
            store_tally = Tally()
            for offset, env_cls in enumerate(ENVS):
                n = len(shares[index * len(ENVS) + offset])
                rng = np.random.default_rng([seed, index, offset])
                store = make_store(spec)
                try:
                    env = env_cls(tasks, max_steps=MAX_STEPS, expose_reference=True, store=store)
                    store_tally.merge(fuzz_env(env, n, rng))
                finally:
                    if not isinstance(store, MemoryStore):
                        store.close()  # type: ignore[attr-defined]
            per_store[name] = store_tally.summary()
            total.merge(store_tally)
            print(_line(name, store_tally), flush=True)
    result = {**total.summary(), **megabyte_parse_times(), "stores": per_store}
    result |= {"seed": seed, "seconds": round(time.perf_counter() - started, 1)}
    result |= {"python": platform.python_version(), "postgresql_skipped": skipped}
    return result


def _line(name: str, tally: Tally) -> str:
    return (
        f"{name:>10}: {tally.actions:,} actions, {tally.exceptions} exceptions, "
        f"{tally.violations} invariant violations, reward in "
        f"[{tally.reward_min:.4g}, {tally.reward_max:.4g}], slowest parse "
        f"{tally.slowest_parse_s * 1e3:.2f} ms ({tally.slowest_parse_kind})"
    )


def main(argv: list[str] | None = None) -> int:
    """Command line: fuzz, print a line per store and the JSON; 1 if anything failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--actions", type=int, default=100_000, help="total over all stores")
    parser.add_argument(
        "--stores", default=",".join(STORES), help="comma-separated: " + ", ".join(STORES)
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pg-dsn", default=os.environ.get("CRM_GYM_TEST_PG_DSN"))
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.stores.split(",") if name.strip()]
    unknown = sorted(set(names) - set(STORES))
    if unknown or not names or args.actions < 1:
        parser.error(
            f"--stores must name some of {', '.join(STORES)} (got {args.stores!r}) "
            f"and --actions must be >= 1 (got {args.actions})"
        )
    result = run(args.actions, names, args.seed, args.pg_dsn)
    print(
        f"1 MB: parse_action {result['one_mb_parse_s'] * 1e3:.3f} ms, "
        f"scanner {result['one_mb_scan_s'] * 1e3:.2f} ms"
    )
    print(json.dumps(result))
    return int(result["exceptions"] > 0 or result["invariant_violations"] > 0)


if __name__ == "__main__":
    sys.exit(main())
