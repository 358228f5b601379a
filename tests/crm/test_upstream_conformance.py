"""Where crm-gym and upstream's mock could part: validation errors, file names, in-place edits.

Upstream's tools raised pydantic's ``ValidationError`` for what an entity model rejects; crm-gym
raises ``CrmValidationError``, which is both that and a ``CrmError``, with the same text. Upstream
checked a document's file name as given; crm-gym trims it first unless ``strict_upstream``.
"""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from pydantic import ValidationError

from crm_gym.crm.core import crm_validation_error
from crm_gym.crm.entities import ENTITY_TYPES
from crm_gym.crm.tools import call_tool
from crm_gym.errors import CrmError, CrmValidationError
from tests.crm.error_cases import ORDER, RULES, Has, document
from tests.crm.world import MISSING, NEW, build_world, dump_state, resolve

FILE_NAME_TEXT = (
    "Document file name may only include letters, numbers, dots, underscores, and hyphens."
)

# Inputs each entity model rejects, one per kind of pydantic error the tools can meet.
MODEL_FAILURES = [
    ("Client", {"client_id": NEW, "name": "a", "email": "no-at-sign"}),  # custom (email) error
    ("Client", {"client_id": NEW, "name": "a", "email": "a{b}@{c}"}),  # braces in the text
    ("Client", {"client_id": "abc", "name": "a"}),  # a validator's ValueError
    ("Client", {"client_id": NEW, "name": "a", "tier": "gold"}),  # extra_forbidden
    ("Client", {"name": None}),  # missing and wrong type together
    ("Contract", {"contract_id": NEW, "client_id": MISSING, "document_url": "not a url"}),
    ("Contract", {"contract_id": NEW, "client_id": MISSING, "start_date": "2025-13-01"}),
    ("Opportunity", {"opportunity_id": NEW, "name": "a", "client_id": MISSING, "amount": "x"}),
]


def _model_error(kind: str, fields: dict[str, Any]) -> ValidationError:
    with pytest.raises(ValidationError) as info:
        ENTITY_TYPES[kind].model_validate(fields)
    return info.value


@pytest.mark.parametrize("kind, fields", MODEL_FAILURES, ids=lambda v: str(v)[:30])
def test_converted_error_is_pydantics_error_unchanged(kind: str, fields: dict[str, Any]) -> None:
    original = _model_error(kind, fields)
    converted = crm_validation_error(original)
    assert isinstance(converted, ValidationError) and isinstance(converted, CrmError)
    assert str(converted) == str(original)
    assert converted.errors() == original.errors()
    assert (converted.title, converted.error_count()) == (original.title, original.error_count())


def test_converted_error_pickles() -> None:
    """Errors cross process boundaries (async vector envs, worker pools) intact."""
    converted = crm_validation_error(_model_error(*MODEL_FAILURES[0]))
    copy = pickle.loads(pickle.dumps(converted))
    assert type(copy) is CrmValidationError and str(copy) == str(converted)


def _pydantic_cases() -> list[tuple[str, dict, Any]]:
    """The error-table cases whose text is pydantic's (it always names the failing model)."""
    cases = [case[1:] for case in RULES] + list(ORDER)
    return [
        (tool, args, expected)
        for tool, args, expected in cases
        if isinstance(expected, Has) and any("validation error" in part for part in expected)
    ]


PYDANTIC_CASES = _pydantic_cases()


def test_the_error_table_has_pydantic_cases() -> None:
    assert len(PYDANTIC_CASES) >= 10


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
@pytest.mark.parametrize("tool, args, expected", PYDANTIC_CASES, ids=lambda v: str(v)[:25])
def test_tools_raise_pydantic_validation_error(
    tool: str, args: dict, expected: Has, strict: bool
) -> None:
    api, ids = build_world(strict_upstream=strict)
    with pytest.raises(ValidationError) as info:
        getattr(api, tool)(**resolve(args, ids))
    assert isinstance(info.value, CrmValidationError)
    for part in expected:
        assert part in str(info.value)


@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
@pytest.mark.parametrize("tool, args, expected", PYDANTIC_CASES, ids=lambda v: str(v)[:25])
def test_call_tool_turns_validation_errors_into_failed_calls(
    tool: str, args: dict, expected: Has, strict: bool
) -> None:
    api, ids = build_world(strict_upstream=strict)
    with pytest.raises(ValidationError) as info:
        getattr(build_world(strict_upstream=strict)[0], tool)(**resolve(args, ids))
    result = call_tool(api, tool, resolve(args, ids))
    assert (result.ok, result.payload, result.error) == (False, None, str(info.value))


# ---- document file names -------------------------------------------------------------------------
@pytest.mark.parametrize("name", [" a.pdf", "a.pdf ", "\ta.pdf", "a.pdf\n"])
@pytest.mark.parametrize("via", ["api", "call_tool"])
def test_strict_file_name_is_checked_as_given(name: str, via: str) -> None:
    api, ids = build_world(strict_upstream=True)
    before = dump_state(api)
    args = resolve(document(file_name=name), ids)
    if via == "api":
        with pytest.raises(CrmError, match=f"^{FILE_NAME_TEXT}$"):
            api.upload_document(**args)
    else:
        assert call_tool(api, "upload_document", args).error == FILE_NAME_TEXT
    assert dump_state(api) == before


@pytest.mark.parametrize("name", [" a.pdf", "a.pdf ", "\ta.pdf", "a.pdf\n"])
def test_default_file_name_is_trimmed(name: str) -> None:
    api, ids = build_world()
    result = call_tool(api, "upload_document", resolve(document(file_name=name), ids))
    assert result.ok and result.payload["file_name"] == "a.pdf"


def test_strict_file_name_without_spaces_is_accepted() -> None:
    api, ids = build_world(strict_upstream=True)
    stored = api.upload_document(**resolve(document(file_name="Q4_deck-v2.PPTX"), ids))
    assert stored.file_name == "Q4_deck-v2.PPTX"


# ---- modify tools return a new record (upstream edited the stored one in place) ----------------
@pytest.mark.parametrize("strict", [False, True], ids=["default", "strict"])
def test_modify_leaves_earlier_references_unchanged(strict: bool) -> None:
    api, ids = build_world(strict_upstream=strict)
    earlier = api.view_opportunity_details(ids["opp"])
    updated = api.modify_opportunity(ids["opp"], notes="changed")
    assert earlier.notes is None and updated.notes == "changed"
    assert api.view_opportunity_details(ids["opp"]).notes == "changed"
    assert updated is not earlier
