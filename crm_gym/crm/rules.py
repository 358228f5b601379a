"""Business rules of the CRM tools with upstream's exact error texts (SPEC-arc.md section 1.4).

Each function checks one rule family and returns the cleaned value or raises ``CrmError``. The
rule numbers (R1...) refer to the table in the spec.
"""

from __future__ import annotations

import math
import re
from datetime import date, datetime, time
from typing import Any, Iterable

from crm_gym.crm.entities import CLOSED_STAGES
from crm_gym.errors import CrmError

AMOUNT_LIMIT = 10_000_000
CLOSE_DATE_FIELDS = ("stage", "amount", "probability", "close_date")
ALLOWED_EXTENSIONS = ("csv", "doc", "docx", "key", "pdf", "ppt", "pptx", "txt", "xlsx")
_FILE_NAME = re.compile(r"[A-Za-z0-9._-]+")


def required_text(value: Any, label: str) -> str:
    """R1/R2: a required string that is not blank."""
    if not isinstance(value, str):
        raise CrmError(f"{label} must be provided as a string.")
    if not value.strip():
        raise CrmError(f"{label} must not be blank or whitespace.")
    return value


def enum_value(value: Any, label: str, allowed: Iterable[str]) -> str:
    """R3-R5: an exact member of an enum (no surrounding whitespace, case-sensitive)."""
    if not isinstance(value, str):
        raise CrmError(f"{label} must be provided as a string.")
    if value != value.strip():
        raise CrmError(f"{label} must not contain leading or trailing whitespace.")
    if value not in allowed:
        raise CrmError(f"{label} must be one of: {', '.join(sorted(allowed))}.")
    return value


def amount(value: Any, label: str) -> float:
    """R6-R8: a number in (0, 10,000,000]; ``bool`` counts as a number, as in upstream."""
    if not isinstance(value, (int, float)) or (isinstance(value, float) and math.isnan(value)):
        raise CrmError(f"{label} must be numeric.")
    if value <= 0:
        raise CrmError(f"{label} must be greater than zero.")
    if value > AMOUNT_LIMIT:
        raise CrmError(f"{label} must not exceed 10,000,000.")
    return float(value)


def probability(value: Any) -> float:
    """R9-R11: a whole-number percentage from 1 to 99, stored as a float."""
    if not isinstance(value, (int, float)):
        raise CrmError("Probability must be numeric.")
    if isinstance(value, float) and not value.is_integer():
        raise CrmError("Probability must be expressed as a whole-number percentage.")
    if not 1 <= value <= 99:
        raise CrmError("Probability must be between 1 and 99.")
    return float(int(value))


def close_date(value: Any) -> date:
    """R12: a date, a midnight datetime, or a string ``date.fromisoformat`` accepts."""
    if isinstance(value, datetime):
        if value.time() != time(0):
            raise CrmError("Close date must not include a time component.")
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise CrmError("Close date must be a valid ISO-8601 date (YYYY-MM-DD).") from None
    raise CrmError("Close date must be provided as a date or ISO-8601 string.")


def close_date_not_past(value: date | None, today: date) -> None:
    """R13: the close date may be today or later."""
    if value is not None and value < today:
        raise CrmError("Close date must be today or in the future.")


def closed_deal_lock(stage: str | None, changes: Iterable[str]) -> None:
    """R14: stage, amount, probability and close date are frozen once a deal is closed."""
    locked = sorted(field for field in changes if field in CLOSE_DATE_FIELDS)
    if locked and stage in CLOSED_STAGES:
        raise CrmError(
            f"Cannot modify closed opportunity fields {locked} while stage is '{stage}'."
        )


def file_name(value: Any, trim: bool = True) -> str:
    """R1/R2 and R20-R22: a plain file name with an allowed extension.

    Upstream checks the name as given, so ``" a.pdf"`` fails R20; ``trim`` (crm-gym's default)
    strips the surrounding whitespace first, as the entity model does to every other string.
    """
    name = required_text(value, "Document file name")
    name = name.strip() if trim else name
    if not _FILE_NAME.fullmatch(name):
        raise CrmError(
            "Document file name may only include letters, numbers, dots, underscores, and hyphens."
        )
    if "." not in name:
        raise CrmError("Document file name must include an extension.")
    extension = name.rsplit(".", 1)[1].lower()
    if extension not in ALLOWED_EXTENSIONS:
        raise CrmError(
            f"Document file extension '.{extension}' is not supported "
            f"(allowed: {', '.join(ALLOWED_EXTENSIONS)})."
        )
    return name


def entity_type(value: Any, allowed: Iterable[str], enum_name: str) -> str:
    """R23/R24: the target type of a document or note, as Python's Enum lookup words it."""
    if not isinstance(value, str) or value not in allowed:
        raise CrmError(f"{value!r} is not a valid {enum_name}")
    return value


def not_blank(value: Any, entity: str, field: str) -> None:
    """R27: a string update may not be blank."""
    if isinstance(value, str) and not value.strip():
        raise CrmError(f"{entity} {field} must not be blank or whitespace.")


def not_found(entity: str, key: Any) -> CrmError:
    """R16-R19: the error for a missing record."""
    return CrmError(f"{entity} not found with ID '{key}'.")


def missing_arguments(tool: str, missing: list[str]) -> CrmError:
    """R29: Python's own text for a call that lacks required parameters."""
    names = [f"'{name}'" for name in missing]
    if len(names) == 1:
        joined = names[0]
    elif len(names) == 2:
        joined = f"{names[0]} and {names[1]}"
    else:
        joined = ", ".join(names[:-1]) + f", and {names[-1]}"
    plural = "argument" if len(names) == 1 else "arguments"
    return CrmError(f"CrmApi.{tool}() missing {len(names)} required positional {plural}: {joined}")
