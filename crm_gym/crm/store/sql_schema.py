"""The SQL schema of the CRM stores, built from the entity models, and the row <-> record codecs.

One table per entity (``crm_clients``...). Every model field is a column; ``seq`` keeps insertion
order (a replaced record keeps its row, so its position). The database guards what the models
guarantee: NOT NULL for required fields, CHECK constraints for enums and the models' numeric
bounds, foreign keys for ``FOREIGN_KEYS``, and a unique index on the client email key. Documents
and notes point at ``(entity_type, entity_id)``; each also has one hidden ``ref_<kind>`` column
per possible target with a real foreign key, and a CHECK ties the one matching ``entity_type`` to
``entity_id`` and keeps the others NULL (an "exclusive arc"), so a dangling attachment is refused
by the database too.

Values round-trip to equal models of the same types: floats as double precision (on SQLite in a
column without type affinity, which keeps ``-0.0``), dates as dates, datetimes as ISO-8601 text
(a record may hold naive and offset-aware timestamps, and both must come back as they were), the
company ``contacts`` list as JSON text. PostgreSQL's ``text`` cannot hold NUL, so on PostgreSQL a
string that contains NUL (or starts with the escape mark) is stored escaped (``encode_text``).

This module imports SQLAlchemy; only ``crm_gym.crm.store.sql`` imports it.
"""

from __future__ import annotations

import json
import re
from datetime import date, datetime
from typing import Annotated, Any, Callable, Literal, Union, get_args, get_origin

import annotated_types
import sqlalchemy as sa
from sqlalchemy.types import UserDefinedType

from crm_gym.crm.entities import ENTITY_TYPES, FOREIGN_KEYS, PRIMARY_KEYS, Entity

TABLE_NAMES = {
    "Client": "crm_clients",
    "Contact": "crm_contacts",
    "Opportunity": "crm_opportunities",
    "Quote": "crm_quotes",
    "Contract": "crm_contracts",
    "Document": "crm_documents",
    "Note": "crm_notes",
    "Company": "crm_companies",
}
"""Entity name -> table name (prefixed, so the tables can share a database with others)."""

ESCAPE = "\U0010ffff"
"""Marks an escaped string on PostgreSQL (a noncharacter: real text does not start with it)."""

Codec = Callable[[Any], Any]


# ---- text on PostgreSQL -------------------------------------------------------------------------
def encode_text(value: str) -> str:
    r"""PostgreSQL text for ``value``: unchanged unless it holds NUL or starts with ``ESCAPE``.

    Escaped form: ``ESCAPE`` + the string with ``ESCAPE`` doubled and NUL as ``ESCAPE + "0"``.

    Example:
        >>> decode_text(encode_text("a\x00b")) == "a\x00b", encode_text("plain")
        (True, 'plain')
    """
    if "\x00" not in value and not value.startswith(ESCAPE):
        return value
    return ESCAPE + value.replace(ESCAPE, ESCAPE * 2).replace("\x00", ESCAPE + "0")


_ESCAPED = re.compile(ESCAPE + "(.)", re.DOTALL)


def decode_text(value: str) -> str:
    """The string that ``encode_text`` stored as ``value``."""
    if not value.startswith(ESCAPE):
        return value
    return _ESCAPED.sub(lambda m: ESCAPE if m[1] == ESCAPE else "\x00", value[1:])


# ---- column types -------------------------------------------------------------------------------
class _Untyped(UserDefinedType):
    """A SQLite column with no declared type (no affinity): a REAL ``-0.0`` stays ``-0.0``."""

    cache_ok = True

    def get_col_spec(self, **kw: Any) -> str:
        return ""


def _double() -> sa.types.TypeEngine:
    return sa.Double().with_variant(_Untyped(), "sqlite")


def field_shape(annotation: Any) -> tuple[Any, bool]:
    """The value type of a model field without ``Optional``/``Annotated``, and if it is nullable."""
    nullable = False
    if get_origin(annotation) is Union:
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        nullable, annotation = True, args[0]
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    return annotation, nullable


def _column_kind(value_type: Any) -> str:
    if get_origin(value_type) is Literal:
        return "enum"
    if value_type is datetime:
        return "datetime"
    if value_type is date:
        return "date"
    if value_type is float:
        return "float"
    if get_origin(value_type) is list:
        return "json"
    return "text"  # str, ids, emails and URLs


_SQL_TYPES = {
    "enum": sa.Text,
    "datetime": sa.Text,
    "date": sa.Date,
    "float": _double,
    "json": sa.Text,
    "text": sa.Text,
}


# ---- tables -------------------------------------------------------------------------------------
def build_tables(metadata: sa.MetaData) -> dict[str, sa.Table]:
    """Every CRM table in ``metadata``, parents before children (the order of ``ENTITY_TYPES``)."""
    tables: dict[str, sa.Table] = {}
    for kind in ENTITY_TYPES:
        tables[kind] = _table(kind, metadata, tables)
    return tables


def _table(kind: str, metadata: sa.MetaData, parents: dict[str, sa.Table]) -> sa.Table:
    name = TABLE_NAMES[kind]
    items: list[Any] = [sa.Column("seq", sa.BigInteger, nullable=False)]
    for field, info in ENTITY_TYPES[kind].model_fields.items():
        value_type, nullable = field_shape(info.annotation)
        column_kind = _column_kind(value_type)
        items.append(_column(kind, field, column_kind, nullable, parents))
        items.extend(_checks(name, field, column_kind, value_type, info.metadata))
    items.extend(_extra_items(kind, name, parents))
    table = sa.Table(name, metadata, *items)
    sa.Index(f"ix_{name}_seq", table.c.seq, unique=True)
    if kind == "Client":
        sa.Index(f"ux_{name}_email_key", table.c.email_key, unique=True)
    return table


def _column(kind: str, field: str, column_kind: str, nullable: bool, parents: dict) -> sa.Column:
    args: list[Any] = [_SQL_TYPES[column_kind]()]
    target = FOREIGN_KEYS.get(kind, {}).get(field)
    if target is not None:
        args.append(sa.ForeignKey(parents[target].c[PRIMARY_KEYS[target]]))
    primary = field == PRIMARY_KEYS[kind]
    return sa.Column(field, *args, primary_key=primary, nullable=nullable and not primary)


_BOUNDS = {
    annotated_types.Ge: (">=", "ge"),
    annotated_types.Gt: (">", "gt"),
    annotated_types.Le: ("<=", "le"),
    annotated_types.Lt: ("<", "lt"),
}


def _checks(table: str, field: str, column_kind: str, value_type: Any, metadata: list) -> list:
    """CHECKs for an enum column and for the model's numeric bounds (``ge``/``le``...)."""
    checks = []
    if column_kind == "enum":
        values = ", ".join(f"'{value}'" for value in get_args(value_type))  # model constants
        checks.append(sa.CheckConstraint(f"{field} IN ({values})", name=f"ck_{table}_{field}"))
    for item in metadata:
        bound = _BOUNDS.get(type(item))
        if bound is not None:
            op, attr = bound
            limit = float(getattr(item, attr))
            checks.append(
                sa.CheckConstraint(f"{field} {op} {limit!r}", name=f"ck_{table}_{field}_{attr}")
            )
    return checks


def _extra_items(kind: str, table: str, parents: dict[str, sa.Table]) -> list[Any]:
    """The client email key, and the exclusive-arc references of documents and notes."""
    if kind == "Client":
        key = sa.Column("email_key", sa.Text)
        both = sa.CheckConstraint("(email IS NULL) = (email_key IS NULL)", name=f"ck_{table}_email")
        return [key, both]
    if kind not in ("Document", "Note"):
        return []
    items: list[Any] = []
    for target in attachment_targets(kind):
        ref = f"ref_{target.lower()}"
        parent = parents[target].c[PRIMARY_KEYS[target]]
        items.append(sa.Column(ref, sa.Text, sa.ForeignKey(parent)))
        arc = (
            f"CASE WHEN entity_type = '{target}' THEN {ref} IS NOT NULL AND {ref} = entity_id "
            f"ELSE {ref} IS NULL END"
        )
        items.append(sa.CheckConstraint(arc, name=f"ck_{table}_{ref}"))
    return items


def attachment_targets(kind: str) -> tuple[str, ...]:
    """The entity types a document or note may point at (its ``entity_type`` enum)."""
    value_type, _ = field_shape(ENTITY_TYPES[kind].model_fields["entity_type"].annotation)
    return get_args(value_type)


# ---- codecs -------------------------------------------------------------------------------------
def _float(value: Any) -> Any:
    return None if value is None else float(value)


def _iso(value: Any) -> Any:
    return None if value is None else value.isoformat()


def _from_iso(value: Any) -> Any:
    return None if value is None else datetime.fromisoformat(value)


def _json(value: Any) -> Any:
    return None if value is None else json.dumps(value)


def _from_json(value: Any) -> Any:
    return None if value is None else json.loads(value)


def _text(value: Any) -> Any:
    return encode_text(value) if isinstance(value, str) else value


def _from_text(value: Any) -> Any:
    return decode_text(value) if isinstance(value, str) else value


_ENCODERS: dict[str, Codec | None] = {
    "enum": None,
    "datetime": _iso,
    "date": None,
    "float": _float,
    "json": _json,
    "text": None,
}
_DECODERS: dict[str, Codec | None] = {
    "enum": None,
    "datetime": _from_iso,
    "date": None,
    "float": None,
    "json": _from_json,
    "text": None,
}


class RowCodec:
    """Turns the records of one entity into rows and back, for one SQL dialect."""

    def __init__(self, kind: str, postgresql: bool):
        self.kind = kind
        self.model: type[Entity] = ENTITY_TYPES[kind]
        self.pk = PRIMARY_KEYS[kind]
        self.text: Codec | None = _text if postgresql else None
        self.encoders: list[tuple[str, Codec | None]] = []
        self.decoders: list[tuple[str, Codec | None]] = []
        for field, info in self.model.model_fields.items():
            column_kind = _column_kind(field_shape(info.annotation)[0])
            text_codec = column_kind == "text" and postgresql
            self.encoders.append((field, _text if text_codec else _ENCODERS[column_kind]))
            self.decoders.append((field, _from_text if text_codec else _DECODERS[column_kind]))
        self.targets = attachment_targets(kind) if kind in ("Document", "Note") else ()

    def key(self, key: str) -> str:
        """A primary key as the database holds it."""
        return encode_text(key) if self.text else key

    def row(self, record: Entity) -> dict[str, Any]:
        """The column values of ``record`` (without ``seq``)."""
        values = record.__dict__
        row = {f: values[f] if codec is None else codec(values[f]) for f, codec in self.encoders}
        if self.kind == "Client":
            email = values["email"]
            row["email_key"] = None if email is None else self.key(email.lower())
        for target in self.targets:
            match = values["entity_type"] == target
            row[f"ref_{target.lower()}"] = row["entity_id"] if match else None
        return row

    def record(self, row: Any) -> Entity:
        """The model of a fetched row (no re-validation: the row was written from a valid one)."""
        mapping = row._mapping
        fields = {
            f: mapping[f] if codec is None else codec(mapping[f]) for f, codec in self.decoders
        }
        return self.model.model_construct(**fields)

    def row_key(self, row: Any) -> str:
        """The primary key of a fetched row."""
        value = row._mapping[self.pk]
        return decode_text(value) if self.text else value


def build_meta_table(metadata: sa.MetaData) -> sa.Table:
    """``crm_gym_meta``: marks a SQLite file's ``crm_*`` tables as made by crm-gym."""
    return sa.Table(
        "crm_gym_meta", metadata, sa.Column("schema_version", sa.Integer, nullable=False)
    )
