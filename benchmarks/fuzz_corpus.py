"""Adversarial agent actions for ``benchmarks.fuzz_actions``, drawn from a seeded generator.

Each kind is a function ``(rng, reference) -> str``; ``reference`` is the current turn's
expected call (``info["reference"]``), so mutated calls carry real tool names and live ids.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> kind, text = draw(rng, {"expected_tool": "list_clients", "expected_arguments": {}})
    >>> kind in KINDS and isinstance(text, str)
    True
"""

from __future__ import annotations

import copy
import json
import math
from typing import Any, Callable, Mapping

import numpy as np

from crm_gym.actions import MAX_ACTION_CHARS
from crm_gym.crm.tool_catalogue import TOOL_SPECS

ONE_MB = 1_000_000
TOOL_NAMES = sorted(TOOL_SPECS)
# the corpora are lists built in rows so that each row reads as one kind of value
WEIRD: list[Any] = (
    [math.nan, math.inf, -math.inf, 1e308, -1e308, -0.0, 5e-324]
    + [2**63, 2**64, -(2**63) - 1, 10**4000, -(10**4000), 0, -1, True, False, None]
    + ["", " ", "\x00", "a\x00b", "\ud800", "'; DROP TABLE clients; --", "x" * 10_000]
    + ["NaN", "1e999", "2025-02-30", "9" * 5000, "Active", "Qualification", "Draft", "Client"]
    + ["a@b.example", [], {}, [None], {"": None}, {"criteria": {"name": None}}]
    + ["{{turn_1.client_id}}", "\u202e\u0301\ufeff", "😀" * 100]
)
"""Values that break naive validation: non-finite and huge numbers, NUL, surrogates, SQL."""
WRAPS = (
    ["{}", "<tool>{}</tool>", "<tool_call>{}</tool_call>", "```json\n{}\n```", "```\n{}```"]
    + ["```tool {}```", "<think>hmm</think>{}", "<think>{}", "<tool>{}", "Sure. <tool>{}</tool> ok"]
    + ["{} trailing", " \n{}\n ", "<tool_call>{}</tool>", "<think></think>\n<tool> {} </tool>"]
)
SHAPES = (("name", "arguments"), ("tool", "args"), ("tool_name", "parameters"))
PATTERNS = (
    [("<tool>", " "), ("<tool_call>", "\n"), ("```", "\n"), ("```json", "\n \t"), ("<think>", " ")]
    + [("", "<tool>"), ("", "</tool><tool_call>"), ("", "{"), ("", "["), ("", '"'), ("", "`")]
    + [("", "<"), ("", "<think>"), ("  ", "</think>"), ('{"name": "x", "arguments": ', "[")]
    + [('{"name": "x", "arguments": "', "\\"), ("", "\u2003"), ("<tool>{", ' "a": 1,')]
)
"""(prefix, unit): pathological texts are the prefix and the unit repeated (then maybe "x")."""
PUNCTUATION = list('{}[]":,\\<>/` \n') + ["\ud800", "\x00", "é", "<tool>", "```", "</think>"]


# ---- building blocks ----------------------------------------------------------------------------
def plain(value: Any) -> Any:
    """A plain, mutable copy of a (read-only) JSON-like value."""
    if isinstance(value, Mapping):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(item) for item in value]
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def pick(rng: np.random.Generator, items: list[Any]) -> Any:
    """One element of ``items``, uniformly."""
    return items[int(rng.integers(len(items)))]


def weird(rng: np.random.Generator) -> Any:
    """One of ``WEIRD``, copied (mutating it later must not change the list)."""
    return copy.deepcopy(pick(rng, WEIRD))


def random_text(rng: np.random.Generator, size: int) -> str:
    """``size`` random code points (surrogates, controls and unassigned ones included)."""
    high = pick(rng, [0x80, 0x800, 0x10000, 0x110000])
    return "".join(map(chr, rng.integers(0, high, size=size).tolist()))


def random_json(rng: np.random.Generator, depth: int = 0) -> Any:
    """A random JSON value: scalars, weird values, lists and objects up to four deep."""
    roll = int(rng.integers(10 if depth < 4 else 6))
    if roll == 0:
        return weird(rng)
    if roll == 1:
        return int(rng.integers(-(2**62), 2**62)) * pick(rng, [1, 10**20])
    if roll == 2:
        return float(rng.normal() * 10 ** int(rng.integers(-5, 300)))
    if roll in (3, 4):
        return random_text(rng, int(rng.integers(0, 30)))
    if roll == 5:
        return pick(rng, [None, True, False, "Active", "Client", 50])
    if roll in (6, 7):
        return [random_json(rng, depth + 1) for _ in range(int(rng.integers(0, 4)))]
    keys = [*TOOL_NAMES[:3], "name", "arguments", "criteria", "updates", "client_id", "amount", ""]
    return {
        pick(rng, keys) if rng.random() < 0.5 else random_text(rng, 5): random_json(rng, depth + 1)
        for _ in range(int(rng.integers(0, 4)))
    }


def call_text(rng: np.random.Generator, name: Any, arguments: Any) -> str:
    """A tool call in one of the accepted shapes and wrappers (or an OpenAI message)."""
    ascii_only = bool(rng.random() < 0.3)
    if rng.random() < 0.15:
        encoded = json.dumps(arguments, ensure_ascii=ascii_only)
        function = {"name": name, "arguments": encoded}
        return json.dumps({"role": "assistant", "tool_calls": [{"function": function}]})
    name_key, arguments_key = pick(rng, list(SHAPES))
    if rng.random() < 0.1:
        arguments = json.dumps(arguments, ensure_ascii=ascii_only)  # OpenAI's string form
    text = json.dumps({name_key: name, arguments_key: arguments}, ensure_ascii=ascii_only)
    return pick(rng, WRAPS).replace("{}", text, 1)


def reference_call(reference: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The turn's expected tool and a plain copy of its expected arguments."""
    return str(reference["expected_tool"]), plain(reference["expected_arguments"])


def _placeholder_call(rng: np.random.Generator, reference: dict[str, Any], marker: str) -> str:
    """The reference call with one argument replaced by the string ``marker``."""
    name, arguments = reference_call(reference)
    keys = [*arguments, "amount", "name", "criteria"]
    arguments[pick(rng, keys)] = marker
    return json.dumps({"name": name, "arguments": arguments}, ensure_ascii=False)


# ---- the kinds ----------------------------------------------------------------------------------
def valid_call(rng: np.random.Generator, reference: dict[str, Any]) -> str:
    """The turn's reference call, in a random accepted form: progress for the episode."""
    return call_text(rng, *reference_call(reference))


def mutated_call(rng: np.random.Generator, reference: dict[str, Any]) -> str:
    """The reference call with values, keys or the tool name replaced by weird ones."""
    name, arguments = reference_call(reference)
    for _ in range(int(rng.integers(1, 4))):
        if not isinstance(arguments, dict):
            break  # replaced by a non-object below: nothing left to edit
        roll = rng.random()
        if roll < 0.5 or not arguments:
            key = pick(rng, [*arguments, "criteria", "updates", "extra", ""])
            arguments[key] = weird(rng) if rng.random() < 0.7 else random_json(rng)
        elif roll < 0.7:
            del arguments[pick(rng, list(arguments))]
        elif roll < 0.85:
            name = pick(rng, [*TOOL_NAMES, name.upper(), f" {name} ", "", "drop_tables"])
        else:
            arguments = random_json(rng) if rng.random() < 0.5 else weird(rng)
    return call_text(rng, name, arguments)


def huge_int(rng: np.random.Generator, reference: dict[str, Any]) -> str:
    """An integer of 1,000 to 20,000 digits in the arguments (over 4,300 cannot be read)."""
    digits = int(rng.integers(1_000, 20_000))
    number = ("-" if rng.random() < 0.3 else "") + "9" * digits
    return _placeholder_call(rng, reference, "@@").replace('"@@"', number, 1)


def deep_nesting(rng: np.random.Generator, reference: dict[str, Any]) -> str:
    """Lists or objects nested around the depth cap (64) or far beyond the recursion limit."""
    depth = int(pick(rng, [60, 63, 64, 65, 100, 900, 1_000, 5_000, 20_000]))
    opening, closing = pick(rng, [("[", "]"), ('{"a": ', "}")])
    tail = closing * depth if rng.random() < 0.8 else ""
    value = opening * depth + "1" + tail
    return _placeholder_call(rng, reference, "@@").replace('"@@"', value, 1)


def json_noise(rng: np.random.Generator, reference: dict[str, Any]) -> str:
    """Random JSON: as the whole action, as arguments of a real tool, or in a wrapper."""
    value = random_json(rng)
    roll = rng.random()
    if roll < 0.4:
        return call_text(rng, pick(rng, TOOL_NAMES), value)
    text = json.dumps(value, ensure_ascii=bool(rng.random() < 0.5))
    return text if roll < 0.7 else pick(rng, WRAPS).replace("{}", text, 1)


def pathological(rng: np.random.Generator, reference: dict[str, Any]) -> str:
    """Text that made the old regexes backtrack: a tag or fence and up to 200,000 repeats."""
    prefix, unit = pick(rng, PATTERNS)
    size = int(10 ** rng.uniform(2, math.log10(MAX_ACTION_CHARS)))
    body = prefix + unit * max(1, (size - len(prefix)) // len(unit))
    return body[: MAX_ACTION_CHARS - 1] + pick(rng, ["", "x", "`", "<"])


def unicode_text(rng: np.random.Generator, reference: dict[str, Any]) -> str:
    """Random code points, alone or as the values of a real call."""
    text = random_text(rng, int(rng.integers(0, 3_000)))
    if rng.random() < 0.5:
        return text
    name, arguments = reference_call(reference)
    key = pick(rng, [*arguments, "name"])
    return call_text(rng, name, {**arguments, key: text})


def megabyte(rng: np.random.Generator, reference: dict[str, Any]) -> str:
    """A 1 MB text of a pathological pattern (over ``MAX_ACTION_CHARS``), or one at the limit."""
    prefix, unit = pick(rng, PATTERNS)
    size = ONE_MB if rng.random() < 0.8 else MAX_ACTION_CHARS
    return (prefix + unit * (size // len(unit) + 1))[:size]


def text_mutation(rng: np.random.Generator, reference: dict[str, Any]) -> str:
    """A valid call's text with characters deleted, inserted, duplicated or cut off."""
    text = valid_call(rng, reference)
    for _ in range(int(rng.integers(1, 6))):
        at = int(rng.integers(0, len(text) + 1))
        roll = rng.random()
        if roll < 0.3:
            text = text[:at] + text[at + 1 :]
        elif roll < 0.7:
            text = text[:at] + pick(rng, PUNCTUATION) + text[at:]
        elif roll < 0.9:
            text = text[:at] + text[at : at + int(rng.integers(1, 20))] + text[at:]
        else:
            text = text[:at]
    return text


def answer(rng: np.random.Generator, reference: dict[str, Any]) -> str:
    """A final answer (ends the turn): the expected reply, plain text, numbers or nothing."""
    expected = reference.get("expected_response") or "Done."
    options = [expected, "Done.", "", "$120,000 at 50%", random_text(rng, 40), expected * 50]
    return pick(rng, options)


GENERATORS: dict[str, tuple[Callable[[np.random.Generator, dict[str, Any]], str], float]] = {
    "valid_call": (valid_call, 10),
    "mutated_call": (mutated_call, 22),
    "huge_int": (huge_int, 6),
    "deep_nesting": (deep_nesting, 6),
    "json_noise": (json_noise, 12),
    "pathological": (pathological, 5),
    "unicode": (unicode_text, 8),
    "megabyte": (megabyte, 1),
    "text_mutation": (text_mutation, 18),
    "answer": (answer, 12),
}
"""Kind -> (generator, weight)."""
KINDS = tuple(GENERATORS)
_WEIGHTS = np.array([weight for _, weight in GENERATORS.values()]) / sum(
    weight for _, weight in GENERATORS.values()
)


def draw(rng: np.random.Generator, reference: dict[str, Any]) -> tuple[str, str]:
    """One adversarial action: its kind and its text."""
    kind = KINDS[int(rng.choice(len(KINDS), p=_WEIGHTS))]
    return kind, GENERATORS[kind][0](rng, reference)
