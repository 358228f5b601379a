"""Text actions: every accepted form, every error message, and never an exception."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_gym.actions import (
    MAX_ACTION_CHARS,
    ActionError,
    FinalAnswer,
    ToolCall,
    _parse_text,
    format_tool_call,
    from_message,
    parse_action,
    to_json,
)
from crm_gym.crm.tool_catalogue import TOOL_SPECS
from tests.envs.support import JSON

SEARCH = ToolCall("client_search", {"name": "Acme"})
OPENAI_CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "client_search", "arguments": '{"name": "Acme"}'},
}


# ---- accepted forms ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        '{"name": "client_search", "arguments": {"name": "Acme"}}',
        '{"tool": "client_search", "args": {"name": "Acme"}}',
        '{"tool_name": "client_search", "parameters": {"name": "Acme"}}',
        '{"name": "client_search", "arguments": "{\\"name\\": \\"Acme\\"}"}',  # OpenAI's string
        '  {"name": " client_search ", "arguments": {"name": "Acme"}}\n',
        '<tool>{"name": "client_search", "arguments": {"name": "Acme"}}</tool>',
        '<tool>\n  {"name": "client_search", "arguments": {"name": "Acme"}}\n</tool>',
        'Look.\n<tool_call>{"name": "client_search", "arguments": {"name": "Acme"}}</tool_call>',
        json.dumps({"role": "assistant", "content": None, "tool_calls": [OPENAI_CALL]}),
        json.dumps(
            {
                "role": "assistant",
                "tool_calls": [
                    OPENAI_CALL,
                    {
                        **OPENAI_CALL,
                        "id": "2",
                        "function": {"name": "list_clients", "arguments": "{}"},
                    },
                ],
            }
        ),  # first used
        json.dumps(OPENAI_CALL),  # a bare tool_calls entry
        '<think>Acme.</think>{"name": "client_search", "arguments": {"name": "Acme"}}',
        "<think>\nmany\nlines\n</think>\n\n"
        '<tool>{"name": "client_search", "args": {"name": "Acme"}}'
        "</tool>",
        '```json\n{"name": "client_search", "arguments": {"name": "Acme"}}\n```',
        '```\n{"name": "client_search", "arguments": {"name": "Acme"}}\n```',
        '```tool\n{"name": "client_search", "arguments": {"name": "Acme"}}```',
        '<think>hm</think>```json\n{"name": "client_search", "arguments": {"name": "Acme"}}\n```',
    ],
)
def test_tool_call_forms(text):
    assert parse_action(text) == SEARCH


@pytest.mark.parametrize(
    ("text", "arguments"),
    [
        ('{"name": "list_clients"}', {}),
        ('{"name": "list_clients", "arguments": null}', {}),
        ('{"name": "list_clients", "arguments": ""}', {}),
        ('{"name": "list_clients", "arguments": "  "}', {}),
        ('{"name": "list_clients", "arguments": {}, "answer": "ignored"}', {}),
    ],
)
def test_missing_or_empty_arguments_mean_none(text, arguments):
    assert parse_action(text) == ToolCall("list_clients", arguments)


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("The quote was sent.", "The quote was sent."),
        ("  padded answer \n", "padded answer"),
        ("", ""),
        ("<think>done thinking</think>All set.", "All set."),
        ("  <think>a</think>  hello  ", "hello"),
        ('{"answer": " Acme has two deals. "}', "Acme has two deals."),
        ('{"final_answer": "Done."}', "Done."),
        ('{"response": "Done."}', "Done."),
        ('<think>x</think>{"answer": "Done."}', "Done."),
        (json.dumps({"role": "assistant", "content": " Hi ", "tool_calls": []}), "Hi"),
        ("[1, 2]", "[1, 2]"),  # not an object and not in a tool block: plain text
        ('Here: ```json\n{"name": "x"}\n``` ok', 'Here: ```json\n{"name": "x"}\n``` ok'),
        ("Use {braces} freely", "Use {braces} freely"),
        ("x" * MAX_ACTION_CHARS, "x" * MAX_ACTION_CHARS),
    ],
)
def test_final_answer_forms(text, answer):
    assert parse_action(text) == FinalAnswer(answer)


def test_from_message_reads_decoded_objects():
    assert from_message({"name": "client_search", "arguments": {"name": "Acme"}}) == SEARCH
    assert from_message({"tool_calls": [OPENAI_CALL]}) == SEARCH
    assert from_message({"answer": "ok"}) == FinalAnswer("ok")


def test_format_tool_call_round_trips():
    text = format_tool_call("client_search", {"name": "Acme — Ünï"})
    assert text == '{"name": "client_search", "arguments": {"name": "Acme — Ünï"}}'
    assert parse_action(text) == ToolCall("client_search", {"name": "Acme — Ünï"})


# ---- errors --------------------------------------------------------------------------------------
INVALID_JSON = "The tool call is not valid JSON: "
NAME_EXPECTED = "Expecting property name enclosed in double quotes"
NEEDS_FUNCTION = 'Each entry of "tool_calls" needs a "function" object.'
TOOL_BLOCK = "A <tool> block must be closed with </tool> and hold one JSON object."
TOO_DEEP = "The tool call is nested too deeply (at most 64 levels)."
NEEDS_NAME = 'A tool call needs a "name" (the tool) and "arguments" (an object).'


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"name": "x", ', INVALID_JSON + f"{NAME_EXPECTED} (line 1, column 14)."),
        ("{", INVALID_JSON + f"{NAME_EXPECTED} (line 1, column 2)."),
        ('{"name": "x"} trailing', INVALID_JSON + "Extra data (line 1, column 15)."),
        ('{\n"name": 1,\n"args": {,}}', f"{INVALID_JSON}{NAME_EXPECTED} (line 3, column 10)."),
        ("<tool>not json</tool>", INVALID_JSON + "Expecting value (line 1, column 1)."),
        ("<tool>[1, 2]</tool>", "A tool call must be a JSON object, got list."),
        ('<tool>"text"</tool>', "A tool call must be a JSON object, got str."),
        ("```json\n[1]\n```", "A tool call must be a JSON object, got list."),
        ('{"arguments": {"name": "Acme"}}', NEEDS_NAME),
        ('{"answer": 5}', NEEDS_NAME),
        ('{"name": "", "arguments": {}}', "The tool name must be a non-empty string."),
        ('{"name": "   "}', "The tool name must be a non-empty string."),
        ('{"name": 3}', "The tool name must be a non-empty string."),
        ('{"name": "x", "arguments": [1]}', "Tool arguments must be a JSON object, got list."),
        ('{"name": "x", "arguments": 7}', "Tool arguments must be a JSON object, got int."),
        ('{"name": "x", "arguments": "[1]"}', "Tool arguments must be a JSON object, got list."),
        ('{"name": "x", "args": "{"}', f"The arguments string is not valid JSON: {NAME_EXPECTED}."),
        ('{"tool_calls": []}', "Empty tool_calls."),
        ('{"tool_calls": [5]}', NEEDS_FUNCTION),
        ('{"tool_calls": [{"function": 1}]}', NEEDS_FUNCTION),
        ("<think>never closed", "The <think> block is not closed with </think>."),
        ('  <think>never closed {"name": "x"}', "The <think> block is not closed with </think>."),
        ('<tool>{"name": "x"}', TOOL_BLOCK),
        ('<tool_call>{"name": "x"}</tool>', TOOL_BLOCK),
        (
            "x" * (MAX_ACTION_CHARS + 1),
            f"The action is too long ({MAX_ACTION_CHARS + 1} characters; at most 200000).",
        ),
        (5, "An action must be text, got int."),
        (None, "An action must be text, got NoneType."),
        (b"{}", "An action must be text, got bytes."),
        ({"name": "x"}, "An action must be text, got dict."),
    ],
)
def test_errors_say_what_to_fix(text, message):
    assert parse_action(text) == ActionError(message)


def test_deep_nesting_is_an_error_not_a_crash():
    deep = '{"name": "x", "arguments": ' + '{"a": ' * 5000 + "1" + "}" * 5001
    assert parse_action(deep) == ActionError(TOO_DEEP)
    wrapped = '{"function": ' * 5000 + "{}" + "}" * 5000
    assert parse_action(wrapped) == ActionError(TOO_DEEP)


# ---- never raises --------------------------------------------------------------------------------
FAST = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
KEYS = [
    "name",
    "tool",
    "tool_name",
    "arguments",
    "args",
    "parameters",
    "answer",
    "final_answer",
    "response",
    "tool_calls",
    "function",
    "content",
    "type",
]
MESSAGE = st.recursive(
    st.dictionaries(st.sampled_from(KEYS), JSON, max_size=4),
    lambda inner: st.dictionaries(
        st.sampled_from(KEYS), inner | st.lists(inner, max_size=2) | JSON, max_size=4
    ),
    max_leaves=12,
)
WRAPPERS = [
    "{}",
    "<tool>{}</tool>",
    "<tool_call>{}</tool_call>",
    "```json\n{}\n```",
    "<think>hm</think>{}",
    "<think>{}",
    "<tool>{}",
    "{} trailing",
]


def assert_well_formed(action) -> None:
    assert isinstance(action, (ToolCall, FinalAnswer, ActionError))
    if isinstance(action, ToolCall):
        assert isinstance(action.name, str) and action.name == action.name.strip() != ""
        assert isinstance(action.arguments, dict)
    elif isinstance(action, FinalAnswer):
        assert isinstance(action.text, str)
    else:
        assert isinstance(action.message, str) and action.message


@FAST
@given(st.text())
def test_any_text_parses(text):
    assert_well_formed(parse_action(text))


@FAST
@given(st.text(alphabet=st.characters(codec="utf-8")) | st.text(alphabet='{}[]":,<>/\\ tool'))
def test_any_unicode_or_json_like_text_parses(text):
    assert_well_formed(parse_action(text))


@FAST
@given(value=JSON | MESSAGE, wrapper=st.sampled_from(WRAPPERS), ascii_only=st.booleans())
def test_any_json_in_any_wrapper_parses(value, wrapper, ascii_only):
    text = wrapper.replace("{}", json.dumps(value, ensure_ascii=ascii_only), 1)
    assert_well_formed(parse_action(text))


@FAST
@given(
    name=st.sampled_from(sorted(TOOL_SPECS)), arguments=st.dictionaries(st.text(), JSON, max_size=5)
)
def test_format_tool_call_always_parses_back(name, arguments):
    assert parse_action(format_tool_call(name, arguments)) == ToolCall(name, arguments)


def test_a_tag_inside_a_json_string_is_text():
    """Found by hypothesis: a call whose argument value holds "<tool></tool>" is still that call."""
    call = format_tool_call("add_note", {"": "<tool></tool>", "note": "use <tool>{}</tool>"})
    assert parse_action(call) == ToolCall(
        "add_note", {"": "<tool></tool>", "note": "use <tool>{}</tool>"}
    )


PIECES = (
    ['{"name": "x"}', "{", "}", "<tool>", "</tool>"]
    + ["<think>", "</think>", "```", "`", "<"]
    + [" ", "\n", "\u2003", "a"]
)


@FAST
@given(st.lists(st.sampled_from(PIECES), max_size=8).map("".join) | st.text())
def test_fast_paths_decide_as_the_general_parser(text):
    # parse_action decides bare objects and plain text without regexes: same answers
    assert parse_action(text) == _parse_text(text)


@FAST
@given(value=JSON | MESSAGE, when=st.dates() | st.datetimes())
def test_to_json_writes_what_json_dumps_writes(value, when):
    for item in (value, {"when": when, "value": value}, [when, value]):
        assert to_json(item) == json.dumps(item, ensure_ascii=False, default=str)
