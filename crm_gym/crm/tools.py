"""The tool registry: name -> argument model -> method, argument shapes, payloads and schemas.

This is the one place that turns an agent's ``{"name", "arguments"}`` into a CRM call
(``call_tool``), that canonicalises argument shapes for execution and for comparison
(SPEC-arc.md section 2.4), and that describes the tools to a model (``tool_schemas``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Callable, Optional

from pydantic import BaseModel, ConfigDict, Field, create_model

from crm_gym.crm.api import CrmApi
from crm_gym.crm.entities import ENTITY_TYPES, Company, Entity
from crm_gym.crm.query import QueryTools
from crm_gym.crm.rules import missing_arguments
from crm_gym.crm.tool_catalogue import TOOL_SPECS, ToolSpec
from crm_gym.errors import CrmError

SEARCH_TOOLS = {
    name: spec.entity for name, spec in TOOL_SPECS.items() if "criteria" in spec.special
}
"""Tools whose keyword arguments are search criteria, and the entity they filter."""

CRITERIA_FIELDS = {
    name: spec.upstream_criteria
    for name, spec in TOOL_SPECS.items()
    if spec.upstream_criteria is not None
}
"""Upstream's harness canonicalised only these fields, and not the company search (section 2.4)."""

MODIFY_TOOLS = tuple(name for name, spec in TOOL_SPECS.items() if "updates" in spec.special)
"""Tools that edit one record, given flat fields or an ``updates`` object."""

READ_ONLY_TOOLS = frozenset(name for name in TOOL_SPECS if name in vars(QueryTools))
"""Tools that never write, so they need no transaction to stay atomic."""


def _crm_methods() -> dict[str, Callable[..., Any]]:
    """Each catalogue row's ``CrmApi`` method, looked up once so a row without one fails here."""
    missing = [name for name in TOOL_SPECS if not callable(getattr(CrmApi, name, None))]
    if missing:
        raise AttributeError(f"catalogue tools without a CrmApi method: {missing}")
    return {name: getattr(CrmApi, name) for name in TOOL_SPECS}


_METHODS = _crm_methods()
"""Tool name -> the unbound ``CrmApi`` method ``call_tool`` runs."""


@dataclass(frozen=True)
class ToolResult:
    """The outcome of one tool call: a payload of plain Python values, or the error text."""

    name: str
    arguments: dict[str, Any]
    ok: bool
    payload: Any = None
    error: str | None = None


# ---- calling ------------------------------------------------------------------------------------
def call_tool(api: CrmApi, name: str, arguments: Any) -> ToolResult:
    """Run one tool by name; agent mistakes come back as ``ok=False`` with a text, never raised."""
    spec = TOOL_SPECS.get(name) if isinstance(name, str) else None
    if spec is None:
        return ToolResult(str(name), {}, False, error=f"Unknown tool '{name}'.")
    if not isinstance(arguments, dict):
        return ToolResult(name, {}, False, error="Tool arguments must be a JSON object.")
    kwargs = execution_arguments(name, arguments, api.strict_upstream)
    try:
        _check_signature(spec, kwargs)
        if api.strict_upstream or name in READ_ONLY_TOOLS:
            result = _METHODS[name](api, **kwargs)
        else:
            with api.store.transaction():
                result = _METHODS[name](api, **kwargs)
    except CrmError as exc:
        return ToolResult(name, kwargs, False, error=str(exc))
    return ToolResult(name, kwargs, True, to_payload(result))


def _check_signature(spec: ToolSpec, kwargs: dict[str, Any]) -> None:
    """R29: Python's texts, in Python's order, for arguments the method cannot take."""
    if spec.accepted.issuperset(kwargs) and kwargs.keys() >= spec.required_set:
        return  # the usual call: two set tests
    for key in kwargs:
        if not isinstance(key, str):
            raise CrmError(f"CrmApi.{spec.name}() keywords must be strings")
        if key == "self":
            raise CrmError(f"CrmApi.{spec.name}() got multiple values for argument 'self'")
        if not spec.open_kwargs and key not in spec.accepted:
            raise CrmError(f"CrmApi.{spec.name}() got an unexpected keyword argument '{key}'")
    missing = [param for param in spec.required if param not in kwargs]
    if missing:
        raise missing_arguments(spec.name, missing)


def to_payload(result: Any) -> Any:
    """Entity models -> dicts of their fields (dates stay ``date`` objects), recursively."""
    if type(result) in _FLAT_ENTITIES:  # the common case, before pydantic's costly ABC check
        return result.__dict__.copy()  # what model_dump gives for these flat models, faster
    if isinstance(result, list):
        return [to_payload(item) for item in result]
    if isinstance(result, dict):
        return {key: to_payload(value) for key, value in result.items()}
    if isinstance(result, Entity):
        fields = result.__dict__.copy()
        if "contacts" in fields:
            fields["contacts"] = list(fields["contacts"])
        return fields
    return result


_FLAT_ENTITIES = frozenset(model for model in ENTITY_TYPES.values() if model is not Company)
"""The entity classes whose fields are all scalars (a Company's ``contacts`` is a list)."""


# ---- argument shapes ----------------------------------------------------------------------------
def execution_arguments(name: str, arguments: dict[str, Any], strict: bool = False) -> dict:
    """Merge a ``criteria`` dict into the keyword arguments of search tools (top level wins)."""
    if name not in SEARCH_TOOLS or (strict and name not in CRITERIA_FIELDS):
        return dict(arguments)
    criteria = arguments.get("criteria")
    if not isinstance(criteria, dict):
        return dict(arguments)
    flat = {key: value for key, value in arguments.items() if key != "criteria"}
    return {**criteria, **flat}


def comparison_arguments(name: str, arguments: dict[str, Any], strict: bool = False) -> dict:
    """The canonical shape two calls are compared in.

    Upstream moved the listed search fields into ``criteria`` and left everything else as sent.
    By default every search field goes into ``criteria`` (the company search included) and a
    modify tool's ``updates`` dict is flattened, so equivalent calls compare equal.
    """
    if name in MODIFY_TOOLS and not strict:
        updates = arguments.get("updates")
        if isinstance(updates, dict):
            flat = {key: value for key, value in arguments.items() if key != "updates"}
            return {**updates, **flat}
        return dict(arguments)
    if name not in SEARCH_TOOLS or (strict and name not in CRITERIA_FIELDS):
        return dict(arguments)
    movable = CRITERIA_FIELDS.get(name, ()) if strict else None
    existing = arguments.get("criteria")
    criteria = dict(existing) if isinstance(existing, dict) else {}
    rest = {}
    for key, value in arguments.items():
        if key == "criteria" and isinstance(existing, dict):
            continue
        if movable is None or key in movable:
            criteria.setdefault(key, value)
        else:
            rest[key] = value
    return {"criteria": criteria, **rest} if criteria or not rest else rest


# ---- schemas ------------------------------------------------------------------------------------
def tool_names() -> list[str]:
    """The 38 tool names in catalogue order."""
    return list(TOOL_SPECS)


def argument_model(name: str) -> type[BaseModel]:
    """A pydantic model of one tool's arguments (for schemas and for documentation)."""
    spec = TOOL_SPECS[name]
    fields: dict[str, Any] = {}
    for param in spec.params:
        annotation, description = _param_type(spec, param)
        default = ... if param in spec.required else None
        fields[param] = (annotation, Field(default, description=description))
    config = ConfigDict(extra="allow" if spec.open_kwargs else "forbid")
    model = create_model(_camel(name) + "Args", __config__=config, **fields)
    model.__doc__ = spec.description
    return model


def tool_schemas() -> list[dict[str, Any]]:
    """OpenAI function-calling schemas of every tool, generated from the argument models."""
    return [tool_schema(name) for name in TOOL_SPECS]


def tool_schema(name: str) -> dict[str, Any]:
    """The OpenAI function-calling schema of one tool."""
    schema = argument_model(name).model_json_schema()
    properties = {key: _clean(value) for key, value in schema.get("properties", {}).items()}
    parameters: dict[str, Any] = {"type": "object", "properties": properties}
    parameters["required"] = list(TOOL_SPECS[name].required)
    parameters["additionalProperties"] = TOOL_SPECS[name].open_kwargs
    description = TOOL_SPECS[name].description
    function = {"name": name, "description": description, "parameters": parameters}
    return {"type": "function", "function": function}


def _param_type(spec: ToolSpec, param: str) -> tuple[Any, str]:
    """The annotation and description of one parameter, read from the entity it belongs to."""
    if param in spec.special:
        return spec.special[param]
    model = ENTITY_TYPES[spec.entity] if spec.entity else None
    field = model.model_fields.get(param) if model else None
    if field is None:
        return Any, param.replace("_", " ")
    annotation = field.annotation
    if annotation in (date, Optional[date]):
        annotation = Optional[str]
        return annotation, f"{param.replace('_', ' ')} as YYYY-MM-DD"
    if annotation in (datetime, Optional[datetime]):
        return Optional[str], f"{param.replace('_', ' ')} as an ISO-8601 timestamp"
    if param.endswith("_id"):
        return Optional[str], f"{param.replace('_', ' ')} (a UUID)"
    return annotation, param.replace("_", " ")


def _clean(schema: dict[str, Any]) -> dict[str, Any]:
    """Drop titles and the null branch of optional fields (optional is said by ``required``)."""
    schema = {key: value for key, value in schema.items() if key not in ("title", "default")}
    options = schema.pop("anyOf", None)
    if options:
        non_null = [option for option in options if option.get("type") != "null"]
        merged = non_null[0] if len(non_null) == 1 else {"anyOf": non_null}
        schema = {**_clean(merged), **schema}
    return schema


def _camel(name: str) -> str:
    return "".join(part.title() for part in name.split("_"))
