"""Every error text of SPEC-arc.md section 1.4 (R1-R29) and the order of checks of section 2.2.

A case is a tool, its arguments (``"$nickname"`` names an id of ``build_world``) and the exact
error text (``{nickname}`` is filled in), or ``Has(...)`` parts for pydantic's multi-line texts.
Each case runs on ``CrmApi`` (raises ``CrmError``) and through ``call_tool`` (``ok=False``), and
must leave the CRM exactly as it was.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from crm_gym.crm.tools import call_tool
from crm_gym.errors import CrmError, DuplicateEmailError
from tests.crm.error_cases import (
    NEEDS_DATETIME,
    ORDER,
    RULES,
    SIGNATURE,
    Has,
    client,
    document,
    extra_forbidden,
)
from tests.crm.world import build_world, dump_state, resolve


def _prepare(args: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    args = resolve(args, ids)
    for key, value in args.items():
        if value is NEEDS_DATETIME:
            args[key] = datetime(2030, 1, 1, 10, 30)
    return args


def _failure(api: Any, tool: str, args: dict[str, Any], via: str) -> str:
    if via == "api":
        with pytest.raises(CrmError) as info:
            getattr(api, tool)(**args)
        return str(info.value)
    result = call_tool(api, tool, args)
    assert not result.ok
    assert result.payload is None
    assert result.arguments == args
    return result.error


def _assert_text(text: str, expected: Any, ids: dict[str, str]) -> None:
    if isinstance(expected, Has):
        for part in expected:
            assert part in text, (part, text)
    else:
        assert text == expected.format_map(ids)


@pytest.mark.parametrize("via", ["api", "call_tool"])
@pytest.mark.parametrize(
    "tool, args, expected", [case[1:] for case in RULES], ids=[f"{c[0]}-{c[1]}" for c in RULES]
)
def test_rule_error_text(tool: str, args: dict, expected: Any, via: str) -> None:
    api, ids = build_world()
    before = dump_state(api)
    _assert_text(_failure(api, tool, _prepare(args, ids), via), expected, ids)
    assert dump_state(api) == before


@pytest.mark.parametrize("via", ["api", "call_tool"])
@pytest.mark.parametrize("tool, args, expected", ORDER, ids=[c[0] for c in ORDER])
def test_order_of_checks(tool: str, args: dict, expected: Any, via: str) -> None:
    api, ids = build_world()
    before = dump_state(api)
    _assert_text(_failure(api, tool, _prepare(args, ids), via), expected, ids)
    assert dump_state(api) == before


def test_every_rule_is_covered() -> None:
    covered = {case[0] for case in RULES} | {"R29"}
    assert {f"R{n}" for n in range(1, 30)} <= covered


def test_duplicate_email_error_type() -> None:
    api, _ = build_world()
    with pytest.raises(DuplicateEmailError, match="Client already exists with email"):
        api.create_new_client("Dup", "team@acme.example", "Active")
    assert issubclass(CrmError, ValueError)


def test_close_date_is_rechecked_after_the_updates() -> None:
    """The close date is checked against today after every modify, even of another field."""
    api, ids = build_world()
    api.modify_opportunity(ids["opp"], close_date="2025-01-06")
    api.clock.current += timedelta(days=1)  # the stored close date is now in the past
    with pytest.raises(CrmError, match="^Close date must be today or in the future.$"):
        api.modify_opportunity(ids["opp"], notes="still open")
    assert api.view_opportunity_details(ids["opp"]).notes is None
    assert (
        api.modify_opportunity(ids["opp"], close_date="2025-01-07", notes="moved").notes == "moved"
    )


# ---- R29: signature mismatches (Python's TypeError texts) ---------------------------------------
@pytest.mark.parametrize("tool, args, expected", SIGNATURE, ids=[c[0] for c in SIGNATURE])
def test_signature_errors_through_call_tool(tool: str, args: dict, expected: str) -> None:
    api, ids = build_world()
    before = dump_state(api)
    result = call_tool(api, tool, resolve(args, ids))
    assert (result.ok, result.error) == (False, expected)
    assert dump_state(api) == before


def test_signature_errors_on_the_api_are_type_errors() -> None:
    api, _ = build_world()
    with pytest.raises(TypeError, match=r"create_new_client\(\) missing 1 required positional"):
        api.create_new_client("x", "x@x.example")  # type: ignore[call-arg]
    with pytest.raises(TypeError, match="unexpected keyword argument 'force'"):
        api.delete_quote("x", force=True)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    "name, arguments, expected",
    [
        ("drop_tables", {}, "Unknown tool 'drop_tables'."),
        (None, {}, "Unknown tool 'None'."),
        ("_modify", {}, "Unknown tool '_modify'."),
        ("store", {}, "Unknown tool 'store'."),
        ("client_search", [], "Tool arguments must be a JSON object."),
        ("client_search", None, "Tool arguments must be a JSON object."),
        ("client_search", '{"name": "x"}', "Tool arguments must be a JSON object."),
    ],
)
def test_call_tool_rejects_unknown_tools_and_non_objects(
    name: Any, arguments: Any, expected: str
) -> None:
    api, _ = build_world()
    result = call_tool(api, name, arguments)
    assert (result.ok, result.payload, result.error) == (False, None, expected)


# ---- strict_upstream: upstream's mock, warts included --------------------------------------------
@pytest.mark.parametrize("via", ["api", "call_tool"])
def test_strict_modify_is_not_atomic(via: str) -> None:
    api, ids = build_world(strict_upstream=True)
    args = {"opportunity_id": ids["opp"], "updates": {"notes": "n1", "probability": 500}}
    assert _failure(api, "modify_opportunity", args, via) == "Probability must be between 1 and 99."
    stored = api.view_opportunity_details(ids["opp"])
    assert (stored.notes, stored.probability) == ("n1", 40.0)


@pytest.mark.parametrize("via", ["api", "call_tool"])
def test_default_modify_is_atomic(via: str) -> None:
    api, ids = build_world()
    before = dump_state(api)
    args = {"opportunity_id": ids["opp"], "notes": "n1", "owner": "kim", "probability": 500}
    assert _failure(api, "modify_opportunity", args, via) == "Probability must be between 1 and 99."
    assert dump_state(api) == before


@pytest.mark.parametrize("via", ["api", "call_tool"])
def test_strict_upload_document_rejects_document_url(via: str) -> None:
    api, ids = build_world(strict_upstream=True)
    args = document(document_url="https://example.com/document.pdf", file_name="document.pdf")
    text = _failure(api, "upload_document", resolve(args, ids), via)
    _assert_text(text, extra_forbidden("Document", "document_url"), ids)
    assert text.startswith(
        "1 validation error for Document\ndocument_url\n  Extra inputs are not permitted"
    )


def test_strict_duplicate_email_check_still_applies_to_create() -> None:
    api, _ = build_world(strict_upstream=True)
    with pytest.raises(CrmError, match="^Client already exists with email 'TEAM@acme.example'.$"):
        api.create_new_client("Dup", "TEAM@acme.example", "Active")


@pytest.mark.parametrize(
    "tool, args",
    [
        ("modify_client", {"client_id": "$globex", "email": "team@acme.example"}),
        ("modify_contact", {"contact_id": "$contact", "client_id": "$missing"}),
        ("modify_quote", {"quote_id": "$quote", "opportunity_id": "$missing"}),
        ("create_new_client", client(client_id="$globex")),
    ],
)
def test_strict_allows_what_default_forbids(tool: str, args: dict) -> None:
    strict, ids = build_world(strict_upstream=True)
    assert call_tool(strict, tool, resolve(args, ids)).ok
    default, ids = build_world()
    assert not call_tool(default, tool, resolve(args, ids)).ok


def test_strict_create_with_existing_id_overwrites_like_upstream() -> None:
    api, ids = build_world(strict_upstream=True)
    replaced = api.create_new_client("Replaced", None, "Inactive", client_id=ids["globex"])
    assert api.list_clients()[ids["globex"]] == replaced
    assert api.summarize_counts()["clients"] == 2
