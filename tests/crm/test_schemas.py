"""``tool_schemas()``: one OpenAI function schema per tool, faithful to the method signatures."""

from __future__ import annotations

import inspect
import json
from typing import Any, get_args

import pytest

from crm_gym.crm import CrmApi, entities
from crm_gym.crm.tool_catalogue import TOOL_SPECS
from crm_gym.crm.tools import tool_names, tool_schema, tool_schemas

SCHEMAS = {schema["function"]["name"]: schema for schema in tool_schemas()}
PUBLIC_METHODS = sorted(
    name for name, _ in inspect.getmembers(CrmApi, inspect.isfunction) if not name.startswith("_")
)

ENUM_PARAMS = [
    ("create_new_client", "status", entities.ClientStatus),
    ("ensure_client", "status", entities.ClientStatus),
    ("modify_client", "status", entities.ClientStatus),
    ("create_new_opportunity", "stage", entities.OpportunityStage),
    ("modify_opportunity", "stage", entities.OpportunityStage),
    ("create_quote", "status", entities.QuoteStatus),
    ("modify_quote", "status", entities.QuoteStatus),
    ("create_contract", "status", entities.ContractStatus),
    ("upload_document", "entity_type", entities.DocumentEntityType),
    ("add_note", "entity_type", entities.NoteEntityType),
]


def signature_params(name: str) -> tuple[list[str], list[str], bool]:
    """Named parameters, required parameters and whether ``**kwargs`` is taken."""
    params = list(inspect.signature(getattr(CrmApi, name)).parameters.values())[1:]  # no self
    named = [p for p in params if p.kind is not p.VAR_KEYWORD]
    required = [p.name for p in named if p.default is p.empty]
    return [p.name for p in named], required, len(named) < len(params)


def test_one_schema_per_tool() -> None:
    assert len(tool_schemas()) == len(TOOL_SPECS)
    assert list(SCHEMAS) == tool_names()
    assert sorted(SCHEMAS) == PUBLIC_METHODS


def test_schemas_are_json() -> None:
    assert json.loads(json.dumps(tool_schemas())) == tool_schemas()


@pytest.mark.parametrize("name", tool_names())
def test_schema_shape(name: str) -> None:
    schema = SCHEMAS[name]
    assert schema["type"] == "function"
    function = schema["function"]
    assert set(function) == {"name", "description", "parameters"}
    description = function["description"]
    assert description and "\n" not in description and description == description.strip()
    assert description[0].isupper() and description.endswith(".")
    parameters = function["parameters"]
    assert parameters["type"] == "object"
    assert isinstance(parameters["properties"], dict)
    assert set(parameters["required"]) <= set(parameters["properties"])
    for prop in parameters["properties"].values():
        assert "title" not in prop and prop.get("description")
        assert "type" in prop or "anyOf" in prop or "enum" in prop
    assert tool_schema(name) == schema


@pytest.mark.parametrize("name", tool_names())
def test_schema_matches_signature(name: str) -> None:
    parameters = SCHEMAS[name]["function"]["parameters"]
    named, required, open_kwargs = signature_params(name)
    assert parameters["required"] == required
    assert set(named) <= set(parameters["properties"])
    assert parameters["additionalProperties"] is open_kwargs
    if not open_kwargs:
        assert list(parameters["properties"]) == named


@pytest.mark.parametrize("tool, param, enum", ENUM_PARAMS)
def test_enum_parameters(tool: str, param: str, enum: Any) -> None:
    prop = SCHEMAS[tool]["function"]["parameters"]["properties"][param]
    assert prop["type"] == "string"
    assert prop["enum"] == list(get_args(enum))


@pytest.mark.parametrize(
    "tool, param, expected",
    [
        ("create_new_opportunity", "amount", {"type": "number"}),
        ("create_new_opportunity", "probability", {"type": "number"}),
        ("create_new_opportunity", "client_id", {"type": "string"}),
        ("create_new_opportunity", "close_date", {"type": "string"}),
        ("create_quote", "valid_until", {"type": "string"}),
        ("create_contract", "value", {"type": "number"}),
        ("upload_document", "file_url", {"type": "string", "format": "uri"}),
        ("compare_quotes", "quote_ids", {"type": "array", "items": {"type": "string"}}),
        ("compare_quote_details", "quote_ids", {"type": "array", "items": {"type": "string"}}),
        ("modify_quote", "updates", {"type": "object"}),
        ("client_search", "criteria", {"type": "object"}),
    ],
)
def test_parameter_types(tool: str, param: str, expected: dict[str, Any]) -> None:
    prop = SCHEMAS[tool]["function"]["parameters"]["properties"][param]
    assert {key: prop[key] for key in expected} == expected


@pytest.mark.parametrize(
    "tool, required",
    [
        ("create_new_client", ["name", "email", "status"]),
        ("create_new_opportunity", ["name", "client_id", "amount", "stage"]),
        ("create_quote", ["opportunity_id", "amount", "status"]),
        ("create_contract", ["client_id"]),
        ("create_new_contact", ["first_name", "last_name", "client_id"]),
        ("upload_document", ["entity_type", "entity_id", "file_name"]),
        ("add_note", ["entity_type", "entity_id", "content"]),
        ("ensure_client", []),
        ("modify_opportunity", ["opportunity_id"]),
        ("delete_quote", ["quote_id"]),
        ("compare_quotes", ["quote_ids"]),
        ("opportunity_search", []),
        ("list_notes", []),
        ("summarize_counts", []),
    ],
)
def test_required_lists(tool: str, required: list[str]) -> None:
    assert SCHEMAS[tool]["function"]["parameters"]["required"] == required


def test_search_and_modify_schemas_advertise_entity_fields() -> None:
    client_search = SCHEMAS["client_search"]["function"]["parameters"]["properties"]
    assert set(client_search) == set(entities.Client.model_fields) - {"created_date"} | {"criteria"}
    modify_contact = SCHEMAS["modify_contact"]["function"]["parameters"]["properties"]
    assert set(modify_contact) == set(entities.Contact.model_fields) | {"updates"}


def test_upload_document_does_not_advertise_document_url() -> None:
    properties = SCHEMAS["upload_document"]["function"]["parameters"]["properties"]
    assert "file_url" in properties and "document_url" not in properties
