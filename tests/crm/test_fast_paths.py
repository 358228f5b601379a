"""Fast paths of the tool call equal the general code they stand in for."""

from __future__ import annotations

import pytest

from crm_gym.crm.entities import ENTITY_TYPES
from crm_gym.crm.tool_catalogue import TOOL_SPECS
from crm_gym.crm.tools import READ_ONLY_TOOLS, call_tool
from crm_gym.errors import CrmError
from tests.crm.world import build_world


def test_accepted_is_params() -> None:
    for spec in TOOL_SPECS.values():
        assert spec.accepted == set(spec.params) and spec.required_set == set(spec.required)
        assert "self" not in spec.accepted


def test_read_only_tools_succeed_without_a_single_write() -> None:
    """They run outside a transaction, so none may write: a write here raises."""
    api, _ = build_world()
    opportunity = next(iter(api.store.records("Opportunity"))).opportunity_id
    quotes = [quote.quote_id for quote in api.store.records("Quote")][:2]
    known = {"opportunity_id": opportunity, "quote_id": quotes[0], "quote_ids": quotes}

    def refuse(*_: object) -> None:
        raise AssertionError("a read-only tool wrote to the store")

    api.store._write = refuse  # type: ignore[method-assign]
    assert {"client_search", "list_quotes", "compare_quote_details"} <= READ_ONLY_TOOLS
    for name in READ_ONLY_TOOLS:
        arguments = {param: known[param] for param in TOOL_SPECS[name].required}
        outcome = call_tool(api, name, arguments)
        assert outcome.ok, (name, outcome.error)


def test_build_equals_model_constructor() -> None:
    api, _ = build_world()
    record = next(iter(api.store.records("Opportunity")))
    fields = record.model_dump()
    built = api._build("Opportunity", dict(fields))
    direct = ENTITY_TYPES["Opportunity"](**fields)
    assert built == direct and built.model_fields_set == direct.model_fields_set
    bad = {**fields, "probability": 500, "extra": 1}
    with pytest.raises(CrmError) as fast:
        api._build("Opportunity", bad)
    with pytest.raises(ValueError) as slow:
        ENTITY_TYPES["Opportunity"](**bad)
    assert str(fast.value) == str(slow.value)
