"""Parsing is linear and total: pathological texts at full size, huge integers, deep nesting.

No test times anything. The pathological inputs are the ones that made the old regexes
backtrack (``<tool>`` and whitespace: cubic; a fence and newlines: quadratic), at sizes where
the old parser took hours (``<tool>`` and 8 KB of spaces took 235 s; these are 200 KB): the
suite finishing is the check of speed, the asserted results the check of correctness. The
linear scanner is also compared, on small texts, with the regexes it replaced.
"""

from __future__ import annotations

import json
import re
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_gym.actions import (
    MAX_ACTION_CHARS,
    MAX_JSON_DEPTH,
    ActionError,
    FinalAnswer,
    ToolCall,
    _from_json_text,
    parse_action,
)

N = MAX_ACTION_CHARS // 2 - 100
"""Half the largest accepted action: two runs of it plus a call still fit."""
CALL = '{"name": "list_clients", "arguments": {}}'
LIST = ToolCall("list_clients", {})
TOOL_BLOCK = "A <tool> block must be closed with </tool> and hold one JSON object."
THINK_OPEN = "The <think> block is not closed with </think>."
DIGITS = sys.get_int_max_str_digits()
TOO_MANY_DIGITS = f"The tool call holds an integer of more than {DIGITS} digits."
NOT_JSON = "The tool call is not valid JSON: Expecting value (line 1, column 1)."
NO_PROPERTY_NAME = (
    "The tool call is not valid JSON: Expecting property name enclosed in double quotes "
    "(line 1, column 2)."
)
TOO_DEEP = f"The tool call is nested too deeply (at most {MAX_JSON_DEPTH} levels)."


# ---- pathological texts at full size ------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<tool>" + " " * 2 * N, ActionError(TOOL_BLOCK)),
        ("<tool_call>" + "\n" * 2 * N, ActionError(TOOL_BLOCK)),
        ("<tool>" + " " * N + "x" + " " * N, ActionError(TOOL_BLOCK)),
        ("<tool>" + " " * N + CALL + " \n" * (N // 2) + "</tool>", LIST),
        ("<tool_call>\n" + CALL + "\t" * N + "</tool_call>" + " " * N, LIST),
        ("<tool>" * (2 * N // 6), ActionError(TOOL_BLOCK)),
        ("</tool><tool_call>" * (2 * N // 18), ActionError(TOOL_BLOCK)),
        ("<tool>" * (N // 6) + "</tool_call>" + "<tool_call>" + CALL + "</tool_call>", LIST),
        ("```" + "\n" * 2 * N + "x", FinalAnswer("```" + "\n" * 2 * N + "x")),
        ("```json" + "\n" * N + CALL + "\n" * N + "```", LIST),
        ("```" + " \n" * N + "```", ActionError(NOT_JSON)),
        ("`" * 2 * N, ActionError(NOT_JSON)),  # a fence holding backticks
        ("<think>" + " " * 2 * N, ActionError(THINK_OPEN)),
        (" " * N + "<think>" + "</thin" * (N // 6), ActionError(THINK_OPEN)),
        ("<think>" + "x" * N + "</think>" + " " * N + "Done.", FinalAnswer("Done.")),
        ("<think>" + "<tool>" * (N // 6) + "</think>" + CALL, LIST),
        ("{" * 2 * N, ActionError(NO_PROPERTY_NAME)),
        ('{"name": "x", "arguments": ' + "[" * N, ActionError(TOO_DEEP)),
        ('{"a": ' * (2 * N // 6), ActionError(TOO_DEEP)),
        ("<" * 2 * N, FinalAnswer("<" * 2 * N)),
        ("\u2003" * N + CALL + "\u2003" * N, LIST),
    ],
    ids=lambda value: repr(value)[:24] if isinstance(value, str) else None,
)
def test_pathological_texts_parse_in_linear_time(text, expected):
    assert len(text) <= MAX_ACTION_CHARS
    assert parse_action(text) == expected


@pytest.mark.parametrize("unit", ["<tool> ", "```\n", "{", "<think>", "x"])
def test_a_megabyte_is_refused_as_too_long(unit):
    text = (unit * (1_000_000 // len(unit) + 1))[:1_000_000]
    assert parse_action(text) == ActionError(
        f"The action is too long (1000000 characters; at most {MAX_ACTION_CHARS})."
    )


# ---- integers past Python's digit limit ---------------------------------------------------------
@pytest.mark.parametrize(
    "wrap",
    [
        "{}",
        "<tool>{}</tool>",
        "<tool_call>\n{}\n</tool_call>",
        "```json\n{}\n```",
        "<think>x</think>{}",
        " {} ",
    ],
)
@pytest.mark.parametrize("sign", ["", "-"])
def test_an_integer_past_the_digit_limit_is_an_action_error(wrap, sign):
    call = '{"name": "create_quote", "arguments": {"amount": ' + sign + "9" * (DIGITS + 1) + "}}"
    assert parse_action(wrap.replace("{}", call)) == ActionError(TOO_MANY_DIGITS)


def test_an_integer_past_the_limit_in_an_arguments_string_is_an_action_error():
    arguments = json.dumps('{"amount": ' + "1" * 5_000 + "}")
    text = '{"name": "create_quote", "arguments": ' + arguments + "}"
    assert parse_action(text) == ActionError(
        f"The arguments string holds an integer of more than {DIGITS} digits."
    )
    openai = {"tool_calls": [{"function": {"name": "x", "arguments": json.loads(arguments)}}]}
    assert parse_action(json.dumps(openai)) == ActionError(
        f"The arguments string holds an integer of more than {DIGITS} digits."
    )


def test_an_integer_at_the_digit_limit_is_read():
    text = '{"name": "create_quote", "arguments": {"amount": ' + "7" * DIGITS + "}}"
    assert parse_action(text) == ToolCall("create_quote", {"amount": int("7" * DIGITS)})


def test_non_finite_numbers_are_read_as_json_reads_them():
    parsed = parse_action('{"name": "x", "arguments": {"a": NaN, "b": Infinity, "c": -1e999}}')
    assert isinstance(parsed, ToolCall)
    a, b, c = parsed.arguments.values()
    assert a != a and b == float("inf") and c == float("-inf")


# ---- nesting ------------------------------------------------------------------------------------
def nested(depth: int) -> str:
    """A tool call whose top-level object nests ``depth`` levels of lists and objects."""
    inner = "[" * (depth - 2) + "1" + "]" * (depth - 2)  # the call and its arguments: 2 levels
    return '{"name": "x", "arguments": {"a": ' + inner + "}}"


def test_nesting_up_to_the_cap_is_read_and_past_it_refused():
    assert isinstance(parse_action(nested(MAX_JSON_DEPTH)), ToolCall)
    assert parse_action(nested(MAX_JSON_DEPTH + 1)) == ActionError(TOO_DEEP)


def test_deep_nesting_in_an_arguments_string_is_refused_without_a_crash():
    for depth in (MAX_JSON_DEPTH + 1, 90_000):
        arguments = json.dumps('{"a": ' + "[" * depth + "]" * depth + "}")
        text = '{"name": "x", "arguments": ' + arguments + "}"
        assert parse_action(text) == ActionError(
            f"The arguments string is nested too deeply (at most {MAX_JSON_DEPTH} levels)."
        )


def test_brackets_inside_strings_do_not_count_as_nesting():
    text = '{"name": "x", "arguments": {"note": "' + "[{" * 10_000 + '"}}'
    assert parse_action(text) == ToolCall("x", {"note": "[{" * 10_000})


def test_function_wrappers_are_unwrapped_without_recursion():
    call = {"name": "list_clients", "arguments": {}}
    for _ in range(MAX_JSON_DEPTH - 2):
        call = {"function": call}
    assert parse_action(json.dumps(call)) == LIST


# ---- the scanner decides as the regexes it replaced ---------------------------------------------
_THINK = re.compile(r"^\s*<think>.*?</think>\s*", re.DOTALL)
_TAGGED = re.compile(r"<(tool|tool_call)>\s*(.*?)\s*</\1>", re.DOTALL)
_FENCED = re.compile(r"```(?:json|JSON|tool)?\s*\n?(.*?)```", re.DOTALL)


def regex_parse(text: str):
    """The parser before the scanner: regexes (backtracking, so only for small texts).

    Plus the rule added since: a text that is one whole JSON object is that object, even when a
    string in it holds a tag.
    """
    whole = _from_json_text(text.strip()) if text.strip().startswith("{") else None
    if whole is not None and not isinstance(whole, ActionError):
        return whole
    match = _THINK.match(text)
    if match:
        body = text[match.end() :]
    elif text.lstrip().startswith("<think>"):
        return ActionError(THINK_OPEN)
    else:
        body = text
    tagged = _TAGGED.search(body)
    if tagged:
        return _from_json_text(tagged[2])
    stripped = body.strip()
    fenced = _FENCED.fullmatch(stripped)
    if fenced:
        return _from_json_text(fenced[1])
    if stripped.startswith("{"):
        return _from_json_text(stripped)
    return ActionError(TOOL_BLOCK) if "<tool" in stripped else FinalAnswer(stripped)


PIECES = (
    ["<tool>", "</tool>", "<tool_call>", "</tool_call>", "<tool", "<think>", "</think>"]
    + ["```", "```json", "```tool", "json", "JSON", "`", "<", "{", "}", CALL, '{"answer": "a"}']
    + [" ", "\n", "\t", "\u2003", "\x1c", "a", "[1]"]
)
pieces = st.lists(st.sampled_from(PIECES), max_size=12).map("".join)


@settings(
    max_examples=3_000,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(pieces | st.text(alphabet="<>/`{}toolcal_jsn \n\"'", max_size=40))
def test_the_scanner_decides_as_the_regexes_did(text):
    assert parse_action(text) == regex_parse(text)
