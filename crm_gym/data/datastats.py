"""The diversity report of a conversation set: one streaming pass, a table and a JSON line.

It measures what the generator promises: distinct utterance templates once values are masked,
tool coverage, the failure share, complexity shares, distinct client names, curriculum arms,
failure categories, seeded entity types and search result sizes.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, Iterable

from crm_gym.crm.tool_catalogue import TOOL_SPECS
from crm_gym.data.conversation import Conversation
from crm_gym.data.labels import ARMS, arm_name, difficulty_of, skill_of
from crm_gym.data.language import mask_utterance

_HITS = re.compile(r"^(No results|Found (\d+) )")
CLIENT_MAKERS = frozenset(
    name for name, spec in TOOL_SPECS.items() if spec.creates and spec.entity == "Client"
)
"""Tools that may make a client: the names they are given count as client names."""


class DataStats:
    """Accumulates the report over conversations added one at a time (constant per-item work)."""

    def __init__(self) -> None:
        self.conversations = 0
        self.turns = 0
        self.failures = 0
        self.templates: set[str] = set()
        self.tools: Counter[str] = Counter()
        self.complexity: Counter[str] = Counter()
        self.clients: set[str] = set()
        self.arms: Counter[str] = Counter()
        self.categories: Counter[str] = Counter()
        self.seeded: Counter[str] = Counter()
        self.hits: Counter[str] = Counter()

    def add(self, conversation: Conversation) -> None:
        """Count one conversation."""
        self.conversations += 1
        self.complexity[conversation.complexity_level] += 1
        self.arms[arm_name(skill_of(conversation), difficulty_of(conversation))] += 1
        for kind, records in conversation.seed_data.items():
            self.seeded[kind] += len(records or {})
            if kind == "Client":
                self.clients.update(str(meta.get("name")) for meta in (records or {}).values())
        for turn in conversation.turns:
            self._add_turn(turn)

    def add_line(self, line: str) -> None:
        """Count one conversation given as a JSONL line."""
        self.add(Conversation.model_validate_json(line))

    def _add_turn(self, turn: Any) -> None:
        self.turns += 1
        self.templates.add(mask_utterance(turn.user_utterance))
        self.tools[turn.expected_tool] += 1
        if not turn.expect_success:
            self.failures += 1
            self.categories[turn.failure_category or "unlabelled"] += 1
        elif turn.expected_tool in CLIENT_MAKERS and "name" in turn.expected_args:
            self.clients.add(str(turn.expected_args["name"]))
        if (
            turn.expected_tool.endswith("_search")
            and turn.expect_success
            and turn.expected_response
        ):
            match = _HITS.match(turn.expected_response.text)
            if match:
                count = int(match[2]) if match[2] else 0
                self.hits["0" if count == 0 else "1" if count == 1 else "2+"] += 1

    def report(self) -> dict[str, Any]:
        """The numbers, JSON-ready."""
        n, turns = max(self.conversations, 1), max(self.turns, 1)
        return {
            "conversations": self.conversations,
            "turns": self.turns,
            "distinct_templates": len(self.templates),
            "tools_covered": sum(1 for tool in TOOL_SPECS if self.tools[tool]),
            "tools_total": len(TOOL_SPECS),
            "tools_missing": [tool for tool in TOOL_SPECS if not self.tools[tool]],
            "failure_share": round(self.failures / turns, 4),
            "complexity_shares": {
                k: round(self.complexity[k] / n, 4) for k in ("simple", "medium", "complex")
            },
            "distinct_client_names": len(self.clients),
            "arms": {arm: self.arms[arm] for arm in ARMS},
            "failure_categories": dict(sorted(self.categories.items())),
            "seeded_entities": dict(sorted(self.seeded.items())),
            "search_hits": {key: self.hits[key] for key in ("0", "1", "2+")},
        }


def datastats(conversations: Iterable[Conversation]) -> dict[str, Any]:
    """The report of a whole set."""
    stats = DataStats()
    for conversation in conversations:
        stats.add(conversation)
    return stats.report()


def format_table(report: dict[str, Any]) -> str:
    """The report as an aligned two-column table."""
    rows = [
        ("conversations / turns", f"{report['conversations']} / {report['turns']}"),
        ("distinct utterance templates", report["distinct_templates"]),
        ("tool coverage", f"{report['tools_covered']}/{report['tools_total']}"),
        ("failure share", f"{report['failure_share']:.2%}"),
        (
            "complexity shares",
            ", ".join(f"{k} {v:.1%}" for k, v in report["complexity_shares"].items()),
        ),
        ("distinct client names", report["distinct_client_names"]),
        ("search hits 0 / 1 / 2+", " / ".join(str(v) for v in report["search_hits"].values())),
        (
            "failure categories",
            ", ".join(f"{k} {v}" for k, v in report["failure_categories"].items()),
        ),
        ("seeded entities", ", ".join(f"{k} {v}" for k, v in report["seeded_entities"].items())),
        ("arms (skill-difficulty)", ", ".join(f"{k} {v}" for k, v in report["arms"].items())),
    ]
    width = max(len(label) for label, _ in rows)
    return "\n".join(f"{label:<{width}}  {value}" for label, value in rows)
