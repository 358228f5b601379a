"""A conversation under construction, simulated turn by turn on a live CRM.

The scene seeds a ``CrmApi`` exactly as replay will (same seed data, same ``episode_seed``), so
every turn's expected arguments are executed with templates resolved from this simulation, its
outcome is checked as it happens (a planned success must succeed, a planned failure must fail
with its error substring), and the expected reply is computed from the real payload. Ids and
timestamps are the ones replay will see, so the data is correct by construction.
"""

from __future__ import annotations

from typing import Any, Callable

from crm_gym.crm import CrmApi
from crm_gym.crm.entities import PRIMARY_KEYS
from crm_gym.crm.tools import ToolResult, call_tool
from crm_gym.data.seeding import seed_generated
from crm_gym.data.templates import is_plain, reference_payload, resolve
from crm_gym.errors import GenerationError
from crm_gym.generator import responses, wording
from crm_gym.generator.intents import Failure, Intent, Mention, turn_template
from crm_gym.generator.pools import Dice
from crm_gym.generator.responses import RESULT_KIND
from crm_gym.scoring.matching import error_matches


def name_of(kind: str, record: Any) -> str | None:
    """The human label of a record (dict payload or entity), if it has one."""
    if record is None:
        return None
    fields = record if isinstance(record, dict) else record.__dict__
    if kind == "Contact":
        return f"{fields.get('first_name')} {fields.get('last_name')}"
    return fields.get("file_name" if kind == "Document" else "name")


class Scene:
    """The CRM, the turns so far and the entities the conversation knows about."""

    def __init__(
        self,
        rng: Dice,
        seed_data: dict[str, Any],
        episode_seed: int,
        underspecified: float = 0.0,
        empty_searches: float = 0.0,
    ):
        self.rng = rng
        self.seed_data = seed_data
        self.api = CrmApi(seed=episode_seed)
        self.seeded = seed_generated(self.api, seed_data)
        """The seed records, as ``seeding.seed_conversation`` caches them (equal to validated)."""
        self.turns: list[dict[str, Any]] = []
        self.payloads: dict[int, dict[str, Any]] = {}
        self.known: dict[str, Mention] = {}
        self.recent: dict[str, int] = {}
        self.ticks = 0
        self.gone: list[Mention] = []
        self.last: Mention | None = None
        self.underspecified = underspecified
        self.empty_searches = empty_searches

    # ---- what the conversation knows ----------------------------------------------------------
    @property
    def next_turn(self) -> int:
        """The id of the turn being built."""
        return len(self.turns) + 1

    def records(self, kind: str, where: Callable[[Any], bool] | None = None) -> list[Any]:
        """Live records of a kind (optionally filtered), in store order (the kind's model)."""
        found = self.api.store.records(kind)
        return [r for r in found if where(r)] if where else list(found)

    def pick(self, kind: str, where: Callable[[Any], bool] | None = None) -> Mention | None:
        """A live entity to talk about: mostly the last result or the last touched, else any."""
        items = self.api.store.items(kind)  # keyed by primary key
        keys = [key for key, r in items if where(r)] if where else [key for key, _ in items]
        if not keys:
            return None
        rng, last = self.rng, self.last
        if last is not None and last.kind == kind and last.key in keys and rng.random() < 0.75:
            return self.mention(kind, last.key)
        recent = self.recent
        touched = [key for key in keys if key in recent]
        if touched and rng.random() < 0.65:
            return self.mention(kind, max(touched, key=recent.__getitem__))
        return self.mention(kind, rng.pick(keys))

    def mention(self, kind: str, key: str) -> Mention:
        """How to name this live entity now (its latest turn reference, or its literal id)."""
        name = name_of(kind, self.api.store.get(kind, key))
        known = self.known.get(key)
        if known is None:
            return Mention(kind, key, key, name)
        return known if known.name == name else known._replace(name=name)

    def record(self, mention: Mention) -> Any:
        """The stored record a mention names (None once deleted)."""
        return self.api.store.get(mention.kind, mention.key)

    def exists(self, key: str) -> bool:
        """True when a live record of any kind has this id."""
        return any(self.api.store.get(kind, key) is not None for kind in PRIMARY_KEYS)

    def touch(self, key: str) -> None:
        """Mark an entity as the one most recently talked about."""
        self.ticks += 1
        self.recent[key] = self.ticks

    # ---- playing a turn -----------------------------------------------------------------------
    def play(
        self, intent: Intent, failure: Failure | None = None, recovery: bool = False
    ) -> ToolResult:
        """Execute the intent's call, check its planned outcome and append the turn."""
        turn_id = len(self.turns) + 1
        args = intent.args
        referenced: set[int] = set()
        plain = is_plain(args)
        resolved = dict(args) if plain else resolve(args, self.payloads, turn_id, referenced)
        outcome = call_tool(self.api, intent.tool, resolved)
        if failure is not None or not outcome.ok:  # else succeeded as planned
            _check(intent, resolved, outcome, failure)
        vague = failure is None and self.underspecified > 0 and self.rng.chance(self.underspecified)
        unsaid = wording.unsayable(intent, self.rng) if vague else None
        utterance = wording.render(intent, self.rng, turn_id, recovery, unsaid)
        text = responses.describe(intent, outcome)
        turn = _turn(turn_id, utterance, intent, failure, text, referenced, unsaid is not None)
        if outcome.ok and intent.tool.endswith("_search"):
            turn["expected_hits"] = len(outcome.payload)  # 0 marks an empty search as intended
        self.turns.append(turn)
        for mention in intent.mentions.values():
            for item in mention if isinstance(mention, list) else (mention,):
                self.touch(item.key)
        if outcome.ok:
            if intent.tool.startswith("delete_"):
                self.gone.append(intent.mentions["target"])
            self.payloads[turn_id] = reference_payload(outcome.payload)
            self._learn(intent, outcome.payload, turn_id)
        return outcome

    def _learn(self, intent: Intent, payload: Any, turn_id: int) -> None:
        """Remember the record a turn returned, so later turns can say "the deal from turn 2"."""
        if isinstance(payload, list):
            payload = payload[0] if len(payload) == 1 else None
        if not intent.learns or not isinstance(payload, dict):
            return
        kind = RESULT_KIND[intent.tool]
        key = payload[PRIMARY_KEYS[kind]]
        template = turn_template(turn_id, PRIMARY_KEYS[kind])
        self.known[key] = self.last = Mention(
            kind, key, template, name_of(kind, payload), turn_id, intent.learns
        )
        self.touch(key)


def _check(
    intent: Intent, resolved: dict[str, Any], outcome: ToolResult, failure: Failure | None
) -> None:
    """Refuse a turn whose simulated outcome differs from the plan (a generator bug)."""
    if failure is None and not outcome.ok:
        raise GenerationError(f"{intent.tool}({resolved}) failed: {outcome.error}")
    if failure is not None and outcome.ok:
        raise GenerationError(f"{intent.tool}({resolved}) succeeded; planned {failure.category}")
    if failure is not None and not error_matches(outcome.error, failure.substring):
        raise GenerationError(f"{intent.tool}: error {outcome.error!r} lacks {failure.substring!r}")


def _turn(
    turn_id: int,
    utterance: str,
    intent: Intent,
    failure: Failure | None,
    text: str,
    referenced: set[int],
    vague: bool,
) -> dict[str, Any]:
    turn = {
        "turn_id": turn_id,
        "user_utterance": utterance,
        "expected_tool": intent.tool,
        "expected_args": intent.args,
        "references_previous_turns": sorted(referenced),
        "expect_success": failure is None,
        "expected_error_substring": failure.substring if failure else None,
        "failure_category": failure.category if failure else None,
        "expected_response": {
            "text": text,
            "evaluation": "structured",
            "answers": [text],
            "requires_judge": False,
        },
    }
    if vague:
        turn["underspecified"] = True
    return turn
