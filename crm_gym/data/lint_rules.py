"""Turn-level checks of the dataset linter: tools, arguments, ids, templates and utterances.

Each check is a pure function of a ``Context`` (the conversation and its two replays) and one
turn; it yields ``Hit`` records that ``crm_gym.data.lint`` tallies. Finding names and units are
listed in ``crm_gym.data.lint.FINDINGS``; DATA-arc.md section 5 says what each one is for, and
the ``crm_gym.data.lint`` docstring states the rules that decide what is *not* a finding
(written number and date forms, intended unknown ids, declared empty searches).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterator

from crm_gym.crm.entities import ENTITY_TYPES, PRIMARY_KEYS, UUID_PATTERN, is_uuid
from crm_gym.crm.tool_catalogue import LISTING_TOOLS, TOOL_SPECS
from crm_gym.crm.tools import MODIFY_TOOLS, SEARCH_TOOLS, execution_arguments
from crm_gym.data.conversation import Conversation, Turn
from crm_gym.data.labels import CREATING_TOOLS
from crm_gym.data.language import states_value
from crm_gym.data.replay import TurnResult
from crm_gym.data.templates import TURN_TEMPLATE

PLACEHOLDER = re.compile(r"\{\{([^{}]*)\}\}")
"""Any ``{{...}}``; those that are not ``turn_N.field`` are never resolved (SPEC-arc.md 3.3)."""
UUID_TEXT = re.compile(rf"\b{UUID_PATTERN}\b")
"""A UUID anywhere in a text (ids in replies and error messages)."""
QUOTED = re.compile(r"'([^']+)'")
SINGLE_BRACE = re.compile(r"(?<!\{)\{(\w+)\}(?!\})")
"""A ``{name}`` format field the generator forgot to fill (``{criteria}``, ``{stage}``...)."""

SEARCHES = tuple(name for name in SEARCH_TOOLS if TOOL_SPECS[name].returns_records)
"""The searches that return records (a summary over everything is a sensible call with no
criteria)."""

ID_KINDS = {pk: kind for kind, pk in PRIMARY_KEYS.items()}
"""``client_id`` -> ``Client`` and so on: the entity a literal id under that key must be."""


@dataclass(frozen=True)
class Hit:
    """One occurrence of a finding; ``count`` > 1 when it stands for several units."""

    finding: str
    detail: str
    turn_id: int | None = None
    count: int = 1
    kind: str | None = None
    """Breakdown key (e.g. the missing argument names), or None."""


@dataclass(frozen=True)
class Context:
    """A conversation with what the checks need to know about it."""

    conversation: Conversation
    seeded: dict[str, str]
    """Seeded id -> entity type."""
    replayed: dict[int, TurnResult]
    """Turn id -> result of the default (crm-gym) replay."""
    upstream: dict[int, TurnResult]
    """Turn id -> result of the ``strict_upstream=True`` replay."""
    default_mode: bool = False
    """The conversation was made under crm-gym's default rules (it carries an ``episode_seed``):
    its replies and seed are judged against the default replay, not the upstream one."""

    @property
    def reply_source(self) -> dict[int, TurnResult]:
        """The replay whose results the expected replies describe (see ``default_mode``)."""
        return self.replayed if self.default_mode else self.upstream


# ---- small helpers -------------------------------------------------------------------------------
def strings(value: Any) -> Iterator[str]:
    """Every string nested in ``value`` (dict values and list items, not keys)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def leaves(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """``(key, scalar)`` pairs of a nested value; list items take their list's key."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from leaves(item, str(name))
    elif isinstance(value, list):
        for item in value:
            yield from leaves(item, key)
    else:
        yield key, value


def flat_arguments(turn: Turn) -> dict[str, Any]:
    """Expected arguments as the tool receives them (``criteria``/``updates`` merged in)."""
    flat = execution_arguments(turn.expected_tool, turn.expected_args)
    updates = flat.get("updates")
    if turn.expected_tool in MODIFY_TOOLS and isinstance(updates, dict):
        return {**updates, **{key: value for key, value in flat.items() if key != "updates"}}
    return flat


def templates_in(text: str) -> list[tuple[int, str]]:
    """``(turn number, field)`` of every ``{{turn_N.field}}`` in ``text``."""
    return [(int(n), field) for n, field in TURN_TEMPLATE.findall(text)]


def is_search(tool: str) -> bool:
    """True for the six ``*_search`` tools."""
    return tool in SEARCHES


def has_template(text: str) -> bool:
    """True when ``text`` holds any ``{{...}}`` (a turn template or another placeholder)."""
    return "{{" in text and PLACEHOLDER.search(text) is not None


# ---- 1. tools and argument names ----------------------------------------------------------------
def check_tool_and_arguments(context: Context, turn: Turn) -> Iterator[Hit]:
    """Unknown tools, argument keys the tool does not accept, and aliases (``document_url``)."""
    spec = TOOL_SPECS.get(turn.expected_tool)
    if spec is None:
        yield Hit("unknown_tool", f"'{turn.expected_tool}' is not a tool", turn.turn_id)
        return
    flat = flat_arguments(turn)
    for alias, target in spec.aliases.items():
        if alias in flat:
            detail = f"{alias} (not a {spec.entity} field; alias of {target})"
            yield Hit(f"{alias}_argument", detail, turn.turn_id)
    flat = {key: value for key, value in flat.items() if key not in spec.aliases}
    unknown = sorted(set(flat) - accepted_arguments(turn.expected_tool))
    if unknown:
        detail = f"{turn.expected_tool} does not accept {', '.join(unknown)}"
        yield Hit("unknown_argument", detail, turn.turn_id, kind=turn.expected_tool)


def accepted_arguments(tool: str) -> set[str]:
    """Argument keys a tool accepts after canonicalisation (searches: their entity's fields)."""
    spec = TOOL_SPECS[tool]
    fields = set(ENTITY_TYPES[spec.entity].model_fields) if spec.entity else set()
    if tool in SEARCH_TOOLS:
        return fields
    if tool in MODIFY_TOOLS:
        return fields | {"updates"}
    return set(spec.params) | (fields if spec.open_kwargs else set())


# ---- 2. replay outcomes -------------------------------------------------------------------------
def check_replay_outcome(context: Context, turn: Turn) -> Iterator[Hit]:
    """Success-path calls that fail, expected failures that succeed or fail differently."""
    if turn.expected_tool not in TOOL_SPECS:
        return
    upstream, replayed = context.upstream.get(turn.turn_id), context.replayed.get(turn.turn_id)
    if turn.expect_success:
        failed = [
            (mode, r)
            for mode, r in (("upstream", upstream), ("crm-gym", replayed))
            if r is not None and r.error is not None
        ]
        if failed:
            mode, result = failed[0]
            error = " / ".join(line.strip() for line in str(result.error).splitlines()[:3])
            detail = f"fails under {mode} rules: {error}"
            yield Hit("invalid_tool_call", detail, turn.turn_id, kind=turn.expected_tool)
        return
    succeeded = [
        mode
        for mode, r in (("upstream", upstream), ("crm-gym", replayed))
        if r is not None and r.verification == "unexpected_success"
    ]
    if succeeded:
        detail = f"{turn.expected_tool} succeeds under {' and '.join(succeeded)} rules"
        yield Hit("unexpected_success_turns", detail, turn.turn_id)
    elif upstream is not None and upstream.expected_error_mismatch:
        detail = f"error {upstream.error!r} lacks {turn.expected_error_substring!r}"
        yield Hit("expected_error_mismatch", detail, turn.turn_id)


# ---- 3. literal ids ------------------------------------------------------------------------------
def check_literal_ids(context: Context, turn: Turn) -> Iterator[Hit]:
    """Literal ids that are neither seeded nor produced earlier, or of the wrong entity type.

    Ids a turn means to be unknown are not dangling: see ``intended_unknown``.
    """
    flat = flat_arguments(turn)
    known = {**produced_ids(context, turn.turn_id), **context.seeded}
    intended = intended_unknown(turn)
    for key, value in leaves(flat):
        if not isinstance(value, str) or has_template(value) or new_id_key(turn, key):
            continue
        if intended is not None and (not intended or value in intended):
            continue
        expected = id_kind(key, flat)
        if expected is None and not (key.endswith(("_id", "_ids")) or is_uuid(value)):
            continue
        actual = known.get(value)
        if actual is None:
            yield Hit(
                "dangling_literal_id",
                f"{key}={value} is not seeded nor produced by an earlier turn",
                turn.turn_id,
            )
        elif expected is not None and actual != expected:
            detail = f"{key}={value} is a {actual} id, not a {expected} id"
            yield Hit("dangling_literal_id", detail, turn.turn_id)


def intended_unknown(turn: Turn) -> set[str] | None:
    """Literal ids an expected failure means to be unknown, or None when it means none.

    A turn with ``expect_success=false`` whose ``expected_error_substring`` is a "not found"
    error tests exactly that: the ids its error names (``Opportunity not found with ID '<id>'``),
    or, when the substring names no id, any literal id of the turn (empty set). The replay still
    checks that the call fails with that substring (``unexpected_success_turns``,
    ``expected_error_mismatch``), so a seeded or produced id cannot hide behind it.
    """
    substring = turn.expected_error_substring or ""
    if turn.expect_success or "not found" not in substring.lower():
        return None
    named = set(UUID_TEXT.findall(substring))
    return named or set(QUOTED.findall(substring))


def new_id_key(turn: Turn, key: str) -> bool:
    """True for the primary key of the record a create tool makes (an id given, not used)."""
    spec = TOOL_SPECS.get(turn.expected_tool)
    entity = spec.entity if spec is not None else None
    return turn.expected_tool in CREATING_TOOLS and key == PRIMARY_KEYS.get(entity or "")


def id_kind(key: str, arguments: dict[str, Any]) -> str | None:
    """The entity type an id under ``key`` must have, or None when any type will do."""
    if key == "entity_id":
        target = arguments.get("entity_type")
        return target if isinstance(target, str) and target in ENTITY_TYPES else None
    if key == "quote_ids":
        return "Quote"
    return ID_KINDS.get(key)


def produced_ids(context: Context, before: int) -> dict[str, str]:
    """Ids (-> entity type) that the replayed results of turns before ``before`` contain."""
    found: dict[str, str] = {}
    for turn_id, result in context.replayed.items():
        if turn_id < before and result.error is None:
            _collect_ids(result.result, found)
    return found


def _collect_ids(payload: Any, found: dict[str, str]) -> None:
    if isinstance(payload, list):
        for item in payload:
            _collect_ids(item, found)
    elif isinstance(payload, dict):
        for key, value in payload.items():
            kind = payload.get("entity_type") if key == "entity_id" else ID_KINDS.get(key)
            if isinstance(value, str) and isinstance(kind, str):
                found[value] = kind
            elif isinstance(value, (list, dict)):
                _collect_ids(value, found)


# ---- 4. templates --------------------------------------------------------------------------------
def check_templates(context: Context, turn: Turn) -> Iterator[Hit]:
    """Templates that cannot resolve statically, or read an empty or a multi-hit search."""
    turns = context.conversation.turns
    texts = [*strings(turn.expected_args), turn.user_utterance]
    used = dict.fromkeys(template for text in texts for template in templates_in(text))
    for source, field in used:
        reason = template_problem(turns, turn.turn_id, source, field)
        if reason:
            yield Hit(
                "bad_template_reference", f"{{{{turn_{source}.{field}}}}} {reason}", turn.turn_id
            )
    sources = sorted({n for text in strings(turn.expected_args) for n, _ in templates_in(text)})
    for source in sources:
        yield from _search_source(context, turn, source)


def template_problem(turns: list[Turn], current: int, source: int, field: str) -> str | None:
    """Why ``{{turn_<source>.<field>}}`` in turn ``current`` can never resolve, or None."""
    if source >= current:
        return f"points at turn {source}, not an earlier turn"
    if not 1 <= source <= len(turns):
        return f"points at turn {source}, out of range 1..{len(turns)}"
    tool = turns[source - 1].expected_tool
    fields = result_fields(tool)
    if fields is not None and field not in fields:
        return f"reads '{field}', which {tool} results do not have"
    return None


def result_fields(tool: str) -> frozenset[str] | None:
    """Keys of a tool's reference payload, or None when unknown (listings, unknown tools).

    A record's fields, or for other replies the row's ``reply_fields`` (section 2.3).
    """
    spec = TOOL_SPECS.get(tool)
    if spec is None or tool in LISTING_TOOLS:
        return None
    if spec.result_kind is None:
        return frozenset(spec.reply_fields)
    return frozenset(ENTITY_TYPES[spec.result_kind].model_fields)


def _search_source(context: Context, turn: Turn, source: int) -> Iterator[Hit]:
    result = context.replayed.get(source)
    if result is None or not isinstance(result.result, list):
        return
    hits = len(result.result)
    if hits == 0:
        detail = f"reads turn {source} ({result.tool_name}), which returns nothing"
        yield Hit("template_from_empty_search", detail, turn.turn_id)
    elif hits > 1 and is_search(result.tool_name):
        detail = f"reads the first of {hits} hits of turn {source} ({result.tool_name})"
        yield Hit("template_from_multi_hit_search", detail, turn.turn_id)


# ---- 5. placeholders ----------------------------------------------------------------------------
def check_placeholders(context: Context, turn: Turn) -> Iterator[Hit]:
    """Non-turn ``{{...}}`` placeholders, ``{name}`` leftovers and templated utterances."""
    texts = [turn.user_utterance, *strings(turn.expected_args)]
    others = sorted(
        {
            name
            for text in texts
            for name in PLACEHOLDER.findall(text)
            if not TURN_TEMPLATE.fullmatch(f"{{{{{name}}}}}")
        }
    )
    if others:
        names = ", ".join(f"{{{{{name}}}}}" for name in others)
        yield Hit("non_turn_placeholders", names, turn.turn_id, kind=others[0])
    if turn.expected_response is not None:
        texts += [turn.expected_response.text]
    for text in texts:
        for token in SINGLE_BRACE.findall(text):
            yield Hit(
                "single_brace_leftovers",
                f"{{{token}}} in {text!r}",
                turn.turn_id,
                kind=f"{{{token}}}",
            )
    if TURN_TEMPLATE.search(turn.user_utterance):
        yield Hit("utterance_turn_templates", repr(turn.user_utterance), turn.turn_id)


# ---- 6. references_previous_turns ----------------------------------------------------------------
def check_references(context: Context, turn: Turn) -> Iterator[Hit]:
    """``references_previous_turns`` must list every turn the arguments' templates read."""
    declared = set(turn.references_previous_turns)
    used = {n for text in strings(turn.expected_args) for n, _ in templates_in(text)}
    invalid = {n for n in declared if not 1 <= n < turn.turn_id}
    if used - declared or invalid:
        detail = f"declares {sorted(declared)}, templates read {sorted(used)}"
        yield Hit("references_previous_turns_mismatch", detail, turn.turn_id)


# ---- 7. utterances and searches -----------------------------------------------------------------
def check_underspecified(context: Context, turn: Turn) -> Iterator[Hit]:
    """Literal expected values (not ids, not templates) that the utterance never mentions.

    A value is mentioned in any form ``language.states_value`` reads (``$120k``, ``one hundred
    twenty thousand dollars``, ``40 percent``, ``March 3, 2025``...) or as its plain text.
    """
    utterance = turn.user_utterance.lower()
    missing = {
        key
        for key, value in leaves(flat_arguments(turn))
        if _is_literal(key, value) and not mentions(utterance, value)
    }
    if missing:
        keys = "+".join(sorted(missing))
        yield Hit(
            "underspecified_utterance",
            f"{keys} not in {turn.user_utterance!r}",
            turn.turn_id,
            kind=keys,
        )


def _is_literal(key: str, value: Any) -> bool:
    if value is None or key.endswith(("_id", "_ids")):
        return False
    return not (isinstance(value, str) and (is_uuid(value) or TURN_TEMPLATE.search(value)))


def mentions(utterance: str, value: Any) -> bool:
    """True when the lower-cased ``utterance`` states the value.

    As text (numbers also as ``5,000``), or in any written form that
    ``crm_gym.data.language.states_value`` recognises.
    """
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    forms = {str(value)}
    if isinstance(value, int) and not isinstance(value, bool):
        forms.add(f"{value:,}")
    if any(form.lower() in utterance for form in forms):
        return True
    try:
        return states_value(utterance, value)
    except (ValueError, OverflowError):  # an odd number (nan, inf) has no written form
        return False


def check_searches(context: Context, turn: Turn) -> Iterator[Hit]:
    """Searches with no criteria, undeclared empty searches, and contradicted hit counts.

    A search turn may declare ``"expected_hits": n`` (generated data does, on every successful
    search); ``expected_hits: 0`` marks an empty search as intended, which is then no
    ``empty_search_results`` finding, and any declared count must equal the replayed one.
    """
    if not is_search(turn.expected_tool):
        return
    if not flat_arguments(turn):
        yield Hit(
            "search_without_criteria",
            f"{turn.expected_tool}({turn.expected_args})",
            turn.turn_id,
            kind=turn.expected_tool,
        )
    result = context.replayed.get(turn.turn_id)
    if result is None or not isinstance(result.result, list):
        return
    declared = declared_hits(turn)
    if result.result == [] and declared != 0:
        detail = f"{turn.expected_tool}({turn.expected_args}) returns nothing"
        yield Hit("empty_search_results", detail, turn.turn_id, kind=turn.expected_tool)
    if declared is not None and declared != len(result.result):
        detail = f"declares expected_hits={declared} but the replay returns {len(result.result)}"
        yield Hit("search_hits_mismatch", detail, turn.turn_id, kind=turn.expected_tool)


def declared_hits(turn: Turn) -> int | None:
    """The turn's ``expected_hits`` (an extra key of the Arc format), or None."""
    value = (turn.model_extra or {}).get("expected_hits")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


TURN_CHECKS = (
    check_tool_and_arguments,
    check_replay_outcome,
    check_literal_ids,
    check_templates,
    check_placeholders,
    check_references,
    check_underspecified,
    check_searches,
)
"""Every per-turn check, in DATA-arc.md section 5 order."""
