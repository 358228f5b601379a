"""Dataset linter: every defect class of DATA-arc.md section 5, counted, with examples.

``lint(conversations)`` replays each conversation twice (crm-gym's default rules, and
``strict_upstream=True`` for what upstream's mock did), runs the per-turn checks of
``crm_gym.data.lint_rules`` and the response, conversation and seed checks below, and returns
``{finding: {"count", "unit", "examples", "breakdown"}}`` with every finding of ``FINDINGS``
present (count 0 when clean), so a consumer can assert zeros. Counts are turns unless the unit
says otherwise. Findings report; none of them stops the lint. Result sizes (searches, templates)
come from the default replay; rule violations from either.

Which replay the data is judged against. A conversation is judged by the rules it was made
under. Upstream data (no ``episode_seed``) was made for upstream's mock: reply ``key=value``
pairs are compared with the upstream replay, as DATA-arc.md section 3 measured them, and
``seed_altered`` reports what upstream's seeding changes or drops (114 records of the public
file). A conversation that carries an ``episode_seed`` (crm-gym's generator writes it; replay
seeds the CRM's ids and clock with it) was simulated under crm-gym's default rules, and the
default replay with that seed is the one that produced its replies: reply pairs are compared
with that replay, and ``seed_altered`` reports what *default* seeding changes or drops (it
seeds all 8 entity types and keeps every field the models know; notes and companies, which
upstream ignores, are then not "altered"). The replies of such data are therefore exact, while
upstream data's replies keep their 425 id mismatches.

What is not a finding (the rules that keep correct data clean):

- ``underspecified_utterance``: a value counts as stated when the utterance holds it as text
  (numbers also as ``5,000``) or in any written form ``crm_gym.data.language.states_value``
  recognises (``$120k``, ``$1.5M``, ``one hundred twenty thousand dollars``, ``40 percent``,
  ``March 3, 2025``, ``3 Mar 2025``...). Plain digits and ISO dates are among those forms, so
  the public file keeps its 656.
- ``response_foreign_ids``/``lookup_response_foreign_ids``: an id a reply shows is known when
  it is seeded, a literal argument of the turn, or in the default replay's result of this turn
  or an earlier one (records the episode created or found: with an ``episode_seed`` those are
  the ids the replies show). Upstream's replies come from another generation run, so its 384
  and 28 stay.
- ``dangling_literal_id``: a turn with ``expect_success=false`` whose
  ``expected_error_substring`` is a "not found" error means its id to be unknown (a typo, a
  made-up or a deleted id): the ids that error names (or, if it names none, the turn's literal
  ids) are exempt. The replay still requires the call to fail with that substring.
- ``empty_search_results``: a search turn may declare ``"expected_hits": n`` (an extra turn key;
  the Arc format keeps unknown keys, and the generator writes it on every successful search).
  ``expected_hits: 0`` marks an intended empty search, which is not reported; any declared
  count the replay contradicts is ``search_hits_mismatch``. Upstream's 77 empty searches
  declare nothing and stay findings.

Example:
    >>> record = {"conversation_id": "c1", "turns": [{"turn_id": 1, "expected_tool":
    ...     "find_deals", "user_utterance": "Find opportunities in stage {stage}"}]}
    >>> report = lint([Conversation.from_record(record)])
    >>> report["unknown_tool"]["examples"], report["single_brace_leftovers"]["count"]
    (["c1 turn 1: 'find_deals' is not a tool"], 1)
    >>> report["search_without_criteria"]
    {'count': 0, 'unit': 'turns', 'examples': [], 'breakdown': {}}
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Iterable, Iterator

from crm_gym.crm import CrmApi
from crm_gym.crm.entities import ENTITY_TYPES, FOREIGN_KEYS, PRIMARY_KEYS
from crm_gym.crm.tool_catalogue import TOOL_SPECS
from crm_gym.data.conversation import Conversation, Turn
from crm_gym.data.labels import CREATING_TOOLS
from crm_gym.data.lint_rules import (
    PLACEHOLDER,
    TURN_CHECKS,
    UUID_TEXT,
    Context,
    Hit,
    produced_ids,
    strings,
)
from crm_gym.data.replay import replay
from crm_gym.data.seeding import BUILDERS, FULL_ORDER, UPSTREAM_ORDER, keep_known
from crm_gym.data.templates import reference_payload

FINDINGS: dict[str, tuple[str, str]] = {
    # 1. tools and argument names
    "unknown_tool": ("turns", "expected_tool is not one of the 38 tools"),
    "unknown_argument": ("turns", "argument keys the tool does not accept (canonicalised)"),
    **{
        f"{alias}_argument": ("turns", f"{spec.name} with {alias} (alias of {target})")
        for spec in TOOL_SPECS.values()
        for alias, target in spec.aliases.items()
    },
    # 2. business rules
    "invalid_tool_call": ("turns", "expect_success turn whose ground truth fails in a replay"),
    "unexpected_success_turns": ("turns", "expect_success=false turn whose call succeeds"),
    "expected_error_mismatch": ("turns", "expected failure with another error than expected"),
    # 3. literal ids
    "dangling_literal_id": ("ids", "literal id not seeded, not produced earlier, or wrong type"),
    # 4. templates
    "bad_template_reference": (
        "turns",
        "{{turn_N.f}} with N >= current, N out of range, or f not on turn N's result type",
    ),
    "template_from_empty_search": ("turns", "template reads a turn whose result is empty"),
    "template_from_multi_hit_search": ("turns", "template reads the first of >= 2 search hits"),
    # 5. placeholders
    "non_turn_placeholders": ("turns", "{{...}} that is not a turn template, in args/utterance"),
    "single_brace_leftovers": ("tokens", "{name} tokens in utterances, args and responses"),
    "utterance_turn_templates": ("turns", "utterance holds a {{turn_N.*}} template"),
    # 6. references
    "references_previous_turns_mismatch": ("turns", "references_previous_turns misses templates"),
    # 7. utterances and searches
    "underspecified_utterance": ("turns", "literal expected values absent from the utterance"),
    "search_without_criteria": ("turns", "*_search call with no criteria"),
    "empty_search_results": (
        "turns",
        "*_search whose replay returns nothing (unless the turn declares expected_hits: 0)",
    ),
    "search_hits_mismatch": ("turns", "declared expected_hits differs from the replayed hits"),
    # 8. responses
    "null_in_expected_response": ("turns", "response text contains the word null"),
    "response_timestamps": ("turns", "response shows a DB timestamp (created_at=...)"),
    "response_placeholders": ("turns", "response contains a {{...}} placeholder"),
    "boolean_as_money": ("turns", "response renders a boolean as money ($True)"),
    "response_foreign_ids": (
        "turns",
        "response ids neither seeded, in the arguments, nor in the replayed results so far",
    ),
    "lookup_response_foreign_ids": (
        "turns",
        "non-creating tool whose response ids are all foreign",
    ),
    "response_id_mismatch": (
        "ids",
        "response *_id=... differs from the replay (upstream's, or "
        "the default one with an episode_seed)",
    ),
    "response_seeded_id_mismatch": ("ids", "the same, where the replay shows a seeded id"),
    "response_value_mismatch": (
        "values",
        "response key=value differs from the replay (as response_id_mismatch)",
    ),
    "response_emptiness_mismatch": ("turns", "'No results' response vs replayed result size"),
    # 9. labels
    "complexity_vs_turn_count": ("conversations", "complexity_level vs number of turns"),
    "complexity_vs_conversation_id": ("conversations", "complexity token in the id vs label"),
    "workflow_category_vs_task": ("conversations", "workflow_category vs the task in the id"),
    "failure_turn_mismatch": ("conversations", "contains_failure/failure_turn vs the turns"),
    "duplicate_conversation_id": ("conversations", "conversation_id seen before"),
    # 10. seeds
    "seed_rejected": ("records", "seed record the seeding builders (or crm-gym checks) reject"),
    "seed_altered": (
        "records",
        "seed record the seeding it was made for (upstream's, or the "
        "default one with an episode_seed) changes or drops fields of",
    ),
}
"""Finding name -> (unit of its count, what it means), in DATA-arc.md section 5 order."""

MAX_EXAMPLES = 5
MAX_DETAIL = 160

NULL_WORD = re.compile(r"\bnull\b")
TIMESTAMP = re.compile(r"\b(created_at|created_date|uploaded_at)=\d{4}-\d{2}-\d{2}\S*")
BOOLEAN_MONEY = re.compile(r"\w+=\$(?:True|False)\b")
KEY_VALUE = re.compile(r"\b(\w+)=([^,]*)")
TIMESTAMP_KEYS = ("created_at", "created_date", "uploaded_at")

COMPLEXITY_TURNS = {"simple": (1, 3), "medium": (4, 6), "complex": (7, 10)}
ID_COMPLEXITY = re.compile(r"_(simple|medium|complex)_")
ID_TASK = re.compile(r"^SKEL-(.+?)_(?:simple|medium|complex)_")
TASK_CATEGORIES = {
    "OPPORTUNIT": ("Opportunity Management",),
    "CLIENT": ("Client Management", "Company / Account Management"),
    "COMPANY": ("Company / Account Management", "Client Management"),
    "CONTACT": ("Contact Management",),
    "QUOTE": ("Quote Management",),
    "CONTRACT": ("Contract Management",),
    "DOCUMENT": ("Document Management",),
    "NOTE": ("Notes & Collaboration",),
}
"""Prefix of a word of the task name (``MODIFY OPPORTUNITY``) -> categories that fit it."""
NEUTRAL_CATEGORIES = ("General", "Unknown")


@dataclass
class Tally:
    """The running count, examples and breakdown of one finding."""

    count: int = 0
    examples: list[str] = field(default_factory=list)
    spare: list[str] = field(default_factory=list)
    """Further examples from conversations already shown, used only if too few others come."""
    shown: set[str] = field(default_factory=set)
    breakdown: Counter[str] = field(default_factory=Counter)

    def add(self, conversation_id: str, hit: Hit) -> None:
        """Count a hit and keep a few examples, from as many conversations as possible."""
        self.count += hit.count
        if hit.kind:
            self.breakdown[hit.kind] += hit.count
        if conversation_id not in self.shown and len(self.examples) < MAX_EXAMPLES:
            self.shown.add(conversation_id)
            self.examples.append(example(conversation_id, hit))
        elif len(self.spare) < MAX_EXAMPLES:
            self.spare.append(example(conversation_id, hit))

    def report(self, unit: str) -> dict[str, Any]:
        """The JSON-ready entry of this finding."""
        examples = (self.examples + self.spare)[:MAX_EXAMPLES]
        breakdown = dict(self.breakdown.most_common())
        return {"count": self.count, "unit": unit, "examples": examples, "breakdown": breakdown}


def example(conversation_id: str, hit: Hit) -> str:
    """``"<conversation_id> turn <n>: <detail>"`` (no turn for conversation-level hits)."""
    where = conversation_id if hit.turn_id is None else f"{conversation_id} turn {hit.turn_id}"
    detail = hit.detail[:MAX_DETAIL] + ("..." if len(hit.detail) > MAX_DETAIL else "")
    return f"{where}: {detail}"


def lint(conversations: Iterable[Conversation]) -> dict[str, dict[str, Any]]:
    """Count every finding of ``FINDINGS`` over ``conversations`` (all keys, zeros included)."""
    tallies = {name: Tally() for name in FINDINGS}
    seen: set[str] = set()
    for conversation in conversations:
        cid = conversation.conversation_id
        if cid in seen:
            tallies["duplicate_conversation_id"].add(cid, Hit("duplicate_conversation_id", "again"))
        seen.add(cid)
        for hit in lint_conversation(conversation):
            tallies[hit.finding].add(cid, hit)
    return {name: tallies[name].report(unit) for name, (unit, _) in FINDINGS.items()}


def lint_conversation(conversation: Conversation) -> Iterator[Hit]:
    """Every hit of one conversation: conversation-level checks, then each turn's."""
    context = build_context(conversation)
    for conversation_check in CONVERSATION_CHECKS:
        yield from conversation_check(context)
    for turn in conversation.turns:
        for turn_check in TURN_CHECKS + RESPONSE_CHECKS:
            yield from turn_check(context, turn)


def build_context(conversation: Conversation) -> Context:
    """Seeded ids and both replays (crm-gym default and strict upstream) of a conversation."""
    replayed = replay(conversation)
    upstream = replay(conversation, strict_upstream=True)
    seeded = {
        key: kind
        for kind, records in conversation.seed_data.items()
        if kind in ENTITY_TYPES and isinstance(records, dict)
        for key in records
    }
    return Context(
        conversation,
        seeded,
        {t.turn_id: t for t in replayed.turns},
        {t.turn_id: t for t in upstream.turns},
        made_by_crm_gym(conversation),
    )


def made_by_crm_gym(conversation: Conversation) -> bool:
    """True for a conversation that carries an ``episode_seed``.

    Such a conversation was made under crm-gym's default rules (the generator's), so it is judged
    against the default replay and seeding.
    """
    episode_seed = (conversation.model_extra or {}).get("episode_seed")
    return isinstance(episode_seed, int) and not isinstance(episode_seed, bool)


# ---- 8. responses --------------------------------------------------------------------------------
def response_texts(turn: Turn) -> list[str]:
    """The expected reply text and its accepted answers, without duplicates."""
    response = turn.expected_response
    if response is None:
        return []
    return [text for text in dict.fromkeys([response.text, *response.answers]) if text]


def check_response_text(context: Context, turn: Turn) -> Iterator[Hit]:
    """``null``, DB timestamps, ``{{...}}`` placeholders and ``$True`` in the expected reply."""
    text = "\n".join(response_texts(turn))
    patterns = (
        ("null_in_expected_response", NULL_WORD),
        ("response_placeholders", PLACEHOLDER),
        ("boolean_as_money", BOOLEAN_MONEY),
    )
    for finding, pattern in patterns:
        match = pattern.search(text)
        if match:
            yield Hit(finding, _excerpt(text, match), turn.turn_id, kind=turn.expected_tool)
    stamp = TIMESTAMP.search(text)
    if stamp:  # broken down by key: DATA-arc.md's 1,192 counts created_at/created_date only
        yield Hit("response_timestamps", _excerpt(text, stamp), turn.turn_id, kind=stamp[1])


def _excerpt(text: str, match: re.Match[str]) -> str:
    start, end = max(0, match.start() - 30), min(len(text), match.end() + 30)
    return ("..." if start else "") + text[start:end] + ("..." if end < len(text) else "")


def check_response_ids(context: Context, turn: Turn) -> Iterator[Hit]:
    """Reply ids that are neither seeded, nor arguments, nor in the replayed results so far.

    Results so far: the default replay's results of this turn and the earlier ones (records the
    episode created or found). Ids outside all three come from another generation run.
    """
    response = turn.expected_response
    shown = set(UUID_TEXT.findall(response.text)) if response is not None else set()
    if not shown:
        return
    argument_ids = {
        found for text in strings(turn.expected_args) for found in UUID_TEXT.findall(text)
    }
    known = set(context.seeded) | argument_ids
    if shown - known:
        known |= set(produced_ids(context, turn.turn_id + 1))
    foreign = sorted(shown - known)
    if foreign:
        more = f" (+{len(foreign) - 1} more)" if len(foreign) > 1 else ""
        yield Hit(
            "response_foreign_ids",
            f"{foreign[0]}{more} neither seeded nor in the arguments",
            turn.turn_id,
            kind=turn.expected_tool,
        )
        if turn.expected_tool not in CREATING_TOOLS and not shown & known:
            detail = f"{turn.expected_tool} reply shows only foreign ids ({len(shown)})"
            yield Hit("lookup_response_foreign_ids", detail, turn.turn_id, kind=turn.expected_tool)


def check_response_values(context: Context, turn: Turn) -> Iterator[Hit]:
    """Reply ``key=value`` pairs and 'No results' claims against the replayed results.

    Pairs are compared with the replay the data was made for (``Context.reply_source``), 'No
    results' claims with the default replay's result sizes.
    """
    texts = response_texts(turn)
    if not texts:
        return
    yield from _emptiness(context, turn, texts[0])
    result = context.reply_source.get(turn.turn_id)
    if result is None or result.error is not None:
        return
    payload = reference_payload(result.result)
    for key, shown in KEY_VALUE.findall(texts[0]):
        if key not in TIMESTAMP_KEYS:
            yield from _compare_value(context, turn, key, shown.strip().removesuffix("."), payload)


def _compare_value(
    context: Context, turn: Turn, key: str, shown: str, payload: dict[str, Any]
) -> Iterator[Hit]:
    actual = payload.get(key)
    detail = f"{key}={shown} but the replay has {actual!r}"
    if key.endswith("_id"):
        if str(actual) == shown:
            return
        seeded = isinstance(actual, str) and actual in context.seeded
        origin = "seeded" if seeded else "absent" if actual is None else "runtime"
        yield Hit("response_id_mismatch", detail, turn.turn_id, kind=origin)
        if seeded:
            yield Hit("response_seeded_id_mismatch", detail, turn.turn_id, kind=key)
    elif not same_shown(shown, actual):
        yield Hit("response_value_mismatch", detail, turn.turn_id, kind=key)


def same_shown(shown: str, actual: Any) -> bool:
    """True when a reply's rendering (``$100000.0``, ``50.0%``) shows the value ``actual``."""
    if str(actual) == shown:
        return True
    bare = shown.removeprefix("$").removesuffix("%")
    if isinstance(actual, (int, float)) and not isinstance(actual, bool):
        try:
            return float(bare) == float(actual)
        except ValueError:
            return False
    return str(actual) == bare


def _emptiness(context: Context, turn: Turn, text: str) -> Iterator[Hit]:
    result = context.replayed.get(turn.turn_id)
    if result is None or not isinstance(result.result, list):
        return
    says_empty = "no results" in text.lower()
    if says_empty != (not result.result):
        detail = f"reply {text[:50]!r} but the replay returns {len(result.result)} record(s)"
        yield Hit("response_emptiness_mismatch", detail, turn.turn_id, kind=turn.expected_tool)


RESPONSE_CHECKS = (check_response_text, check_response_ids, check_response_values)


# ---- 9. labels -----------------------------------------------------------------------------------
def check_complexity(context: Context) -> Iterator[Hit]:
    """The complexity label against the number of turns and the id's complexity token."""
    conversation = context.conversation
    level, turns = conversation.complexity_level, len(conversation.turns)
    low, high = COMPLEXITY_TURNS[level]
    if level == "complex" and conversation.chain_id is not None:
        high = turns  # chained conversations are unbounded upstream
    if not low <= turns <= high:
        detail = f"{level} with {turns} turns (expected {low}-{high})"
        yield Hit("complexity_vs_turn_count", detail, kind=level)
    token = ID_COMPLEXITY.search(conversation.conversation_id)
    if token and token[1] != level:
        detail = f"id says {token[1]}, labelled {level} ({turns} turns)"
        yield Hit("complexity_vs_conversation_id", detail, kind=f"{token[1]} -> {level}")


def check_workflow_category(context: Context) -> Iterator[Hit]:
    """A specific workflow_category that does not fit the task named in the id."""
    conversation = context.conversation
    task = ID_TASK.match(conversation.conversation_id)
    category = conversation.workflow_category
    if task is None or category in NEUTRAL_CATEGORIES:
        return
    fitting = {
        fit
        for word in task[1].split()
        for prefix, fits in TASK_CATEGORIES.items()
        if word.startswith(prefix)
        for fit in fits
    }
    if fitting and category not in fitting:
        yield Hit(
            "workflow_category_vs_task",
            f"{task[1]} labelled {category!r}",
            kind=f"{task[1]} -> {category}",
        )


def check_failure_flags(context: Context) -> Iterator[Hit]:
    """``contains_failure`` and ``failure_turn`` must agree with the turns' ``expect_success``."""
    conversation = context.conversation
    failing = [turn.turn_id for turn in conversation.turns if not turn.expect_success]
    first = failing[0] if failing else None
    if conversation.contains_failure != bool(failing) or conversation.failure_turn != first:
        detail = (
            f"contains_failure={conversation.contains_failure}, failure_turn="
            f"{conversation.failure_turn}, turns expecting failure {failing}"
        )
        yield Hit("failure_turn_mismatch", detail)


# ---- 10. seeds -----------------------------------------------------------------------------------
def check_seeds(context: Context) -> Iterator[Hit]:
    """Seed records the builders reject, and what the seeding the data was made for changes.

    Upstream data is judged by upstream's seeding (notes and companies ignored, closed stages
    downgraded, unknown fields dropped); a conversation with an ``episode_seed`` by crm-gym's
    default seeding (all 8 types, every model field kept).
    """
    seed_data = context.conversation.seed_data
    clients = seed_data.get("Client")
    fallback = next(iter(clients), None) if isinstance(clients, dict) else None
    strict = not context.default_mode
    api = _scratch_api(strict)
    order, seeding = (UPSTREAM_ORDER, "upstream") if strict else (FULL_ORDER, "crm-gym seeding")
    emails: set[str] = set()
    for kind, records in seed_data.items():
        for key, meta in records.items() if isinstance(records, dict) else ():
            if kind not in order:
                yield Hit("seed_altered", f"seed {kind} {key}: ignored by {seeding}", kind=kind)
                continue
            meta = meta if isinstance(meta, dict) else {}
            yield from _check_seed_record(context, (kind, key, meta), fallback, api, emails)


_SCRATCH: dict[bool, CrmApi] = {}


def _scratch_api(strict: bool) -> CrmApi:
    """An empty CRM of either mode for the builders (which only read its rules)."""
    if strict not in _SCRATCH:
        _SCRATCH[strict] = CrmApi(seed=0, strict_upstream=strict)
    return _SCRATCH[strict]


def _check_seed_record(
    context: Context,
    record: tuple[str, str, dict[str, Any]],
    fallback: str | None,
    api: CrmApi,
    emails: set[str],
) -> Iterator[Hit]:
    kind, key, meta = record
    where = f"seed {kind} {key}"
    try:
        built = BUILDERS[kind](key, meta, fallback, api)
        if not api.strict_upstream:
            built = keep_known(kind, meta, built)
        ENTITY_TYPES[kind](**{PRIMARY_KEYS[kind]: key, **built})
    except ValueError as exc:  # SeedingError or the model's ValidationError
        yield Hit("seed_rejected", f"{where}: {str(exc).splitlines()[0]}", kind=kind)
        return
    problem = reference_problem(context, kind, built, emails)
    if problem:
        yield Hit("seed_rejected", f"{where}: {problem} (crm-gym seeding)", kind=kind)
    changes = alterations(kind, meta, built)
    if changes:
        fields = ", ".join(sorted(change.split(" ")[0] for change in changes))
        yield Hit("seed_altered", f"{where}: {'; '.join(changes)}", kind=f"{kind}: {fields}")


def reference_problem(context: Context, kind: str, built: dict[str, Any], emails: set[str]) -> str:
    """What crm-gym's default seeding rejects beyond the builders: orphans, duplicate emails."""
    targets = dict(FOREIGN_KEYS.get(kind, {}))
    if kind in ("Document", "Note"):
        targets["entity_id"] = str(built.get("entity_type"))
    for name, target in targets.items():
        value = built.get(name)
        if value is not None and context.seeded.get(value) != target:
            return f"{name} {value} is not a seeded {target}"
    email = built.get("email") if kind == "Client" else None
    if isinstance(email, str):
        if email.lower() in emails:
            return f"email {email} used by another seeded client"
        emails.add(email.lower())
    return ""


def alterations(kind: str, meta: dict[str, Any], built: dict[str, Any]) -> list[str]:
    """Fields of ``meta`` that the builder drops or changes (defaults it adds are fine)."""
    changes = []
    for name, value in meta.items():
        if name == PRIMARY_KEYS[kind] or (kind, name) == ("Client", "owner_name"):
            continue
        if name not in built:
            changes.append(f"{name} dropped ({value!r})")
        elif not same_seed_value(value, built[name]):
            changes.append(f"{name} changed {value!r} -> {built[name]!r}")
    return changes


def same_seed_value(given: Any, stored: Any) -> bool:
    """Equal up to number type (100000 vs 100000.0) and surrounding whitespace."""
    numbers = (int, float)
    if isinstance(given, numbers) and isinstance(stored, numbers) and not isinstance(given, bool):
        return float(given) == float(stored)
    if isinstance(given, str) and isinstance(stored, str):
        return given.strip() == stored.strip()
    return given == stored


CONVERSATION_CHECKS = (check_complexity, check_workflow_category, check_failure_flags, check_seeds)
