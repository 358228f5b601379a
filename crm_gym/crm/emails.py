"""Email validation with pydantic's exact behaviour, fast for the common case.

pydantic's ``EmailStr`` calls ``email-validator`` (about 27 us per address here), which would be a
third of a tool call's budget. Plain ASCII addresses that match a conservative pattern are
normalised directly (local part kept, domain lower-cased, as ``email-validator`` does); anything
else goes through pydantic's own validator, so messages and edge cases are unchanged. A
differential property test keeps the two paths equal.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Annotated

from pydantic import AfterValidator
from pydantic.networks import validate_email as _pydantic_validate_email

_FAST_EMAIL = re.compile(
    r"[A-Za-z0-9_+-]{1,64}(?:\.[A-Za-z0-9_+-]{1,64})*"
    r"@((?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+([A-Za-z]{2,63}))"
)
_SPECIAL_USE_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})
# RFC 2142 role mailboxes: email-validator lower-cases these local parts ("Sales@x.com" ->
# "sales@x.com", CASE_INSENSITIVE_MAILBOX_NAMES), so they take the slow path.
_ROLE_MAILBOXES = frozenset(
    {
        "info",
        "marketing",
        "sales",
        "support",
        "abuse",
        "noc",
        "security",
        "postmaster",
        "hostmaster",
        "usenet",
        "news",
        "webmaster",
        "www",
        "uucp",
        "ftp",
    }
)


@lru_cache(maxsize=8192)
def normalize_email(value: str) -> str:
    """Return the normalised address, or raise pydantic's ``value is not a valid email`` error.

    Cached: the same address is checked again by the duplicate-email index and the model.
    """
    match = _FAST_EMAIL.fullmatch(value)
    if match and len(value) <= 200 and "--" not in match[1]:
        at = value.index("@")
        local = value[:at]
        plain = at <= 64 and local.lower() not in _ROLE_MAILBOXES
        if plain and match[2].lower() not in _SPECIAL_USE_TLDS:
            return local + value[at:].lower()
    return _pydantic_validate_email(value)[1]


Email = Annotated[str, AfterValidator(normalize_email)]
"""An email string: trimmed, validated and normalised exactly as pydantic's ``EmailStr``."""
