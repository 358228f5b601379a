"""``normalize_email`` (with its fast path) behaves exactly like pydantic's ``validate_email``."""

from __future__ import annotations

from typing import Any, Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic.networks import validate_email

from crm_gym.crm.emails import normalize_email

ROLE_MAILBOXES = (
    ["info", "marketing", "sales", "support", "abuse"]
    + ["noc", "security", "postmaster", "hostmaster", "usenet"]
    + ["news", "webmaster", "www", "uucp", "ftp"]
)
TLDS = (
    ["com", "example", "org", "io", "COM", "Example", "test", "TEST", "local", "localhost"]
    + ["onion", "invalid", "arpa", "x", "c0m", "123", "museum", "xn--p1ai", "internal", "a" * 63]
    + ["a" * 64]
)


def outcome(function: Callable[[str], Any], value: str) -> tuple[str, str]:
    """``("ok", result)`` or ``("error", "<type>: <message>")``."""
    try:
        return "ok", function(value)
    except ValueError as exc:
        return "error", f"{type(exc).__name__}: {exc}"


def pydantic_normalize(value: str) -> str:
    return validate_email(value)[1]


def mixed_case(word: str) -> st.SearchStrategy[str]:
    flips = st.lists(st.booleans(), min_size=len(word), max_size=len(word))
    return flips.map(
        lambda ups: "".join(c.upper() if up else c for c, up in zip(word, ups, strict=True))
    )


atom = st.text("abcXYZ019_+-", min_size=1, max_size=8)
local_parts = st.one_of(
    st.lists(atom, min_size=1, max_size=4).map(".".join),
    st.sampled_from(ROLE_MAILBOXES).flatmap(mixed_case),
    st.builds(
        lambda a, sep, b: a + sep + b,
        atom,
        st.sampled_from([".", "..", "!", "'", "~", "/", " "]),
        atom,
    ),
    st.sampled_from([".a", "a.", '"a b"', "ü", "用户", "", "a" * 63, "a" * 64, "a" * 65, "a@b"]),
)
label = st.one_of(
    st.text("abcXYZ019-", min_size=1, max_size=10),
    st.sampled_from(
        ["ab--cd", "xn--bcher-kva", "xn--", "-a", "a-", "a_b", "münchen", "a" * 63, "a" * 64]
    ),
)
domains = st.one_of(
    st.builds(
        lambda labels, tld: ".".join([*labels, tld]),
        st.lists(label, min_size=1, max_size=3),
        st.sampled_from(TLDS),
    ),
    st.sampled_from(
        ["localhost", "[127.0.0.1]", "example.com.", ".example.com", "a..com", "x.y.home.arpa"]
    ),
    st.builds(lambda n: "a" * n + ".com", st.integers(180, 260)),
)
emails = st.one_of(
    st.builds(lambda local, domain: f"{local}@{domain}", local_parts, domains),
    st.builds(lambda local, domain: f"Name <{local}@{domain}>", local_parts, domains),
    st.builds(lambda a, b, c: f"{a}@{b}@{c}", atom, atom, domains),
    st.builds(lambda n: "a" * n + "@example.com", st.integers(60, 70)),
    st.builds(lambda n: "a@" + ("b" * 60 + ".") * n + "com", st.integers(2, 5)),
    st.text(max_size=30),
)


@settings(max_examples=1500, deadline=None, derandomize=True, database=None)
@given(emails)
def test_normalize_email_matches_pydantic(value: str) -> None:
    assert outcome(normalize_email, value) == outcome(pydantic_normalize, value)


@pytest.mark.parametrize(
    "value, expected",
    [
        ("Team@Acme.Example", "Team@acme.example"),  # domain lower-cased, local part kept
        ("John.Smith+crm@MAIL.Example.COM", "John.Smith+crm@mail.example.com"),
        ("Sales@Acme.com", "sales@acme.com"),  # RFC 2142 role mailbox: lower-cased
        ("POSTMASTER@x.org", "postmaster@x.org"),
        ("a@x.internal", "a@x.internal"),
        ("a" * 65 + "@Example.com", "a" * 65 + "@example.com"),  # no local-part limit unless strict
        ("a@b--c.com", "a@b--c.com"),  # "--" is only banned after two characters
    ],
)
def test_normalize_email_known_values(value: str, expected: str) -> None:
    assert normalize_email(value) == expected == pydantic_normalize(value)


@pytest.mark.parametrize(
    "value, reason",
    [
        ("team.acme.example", "An email address must have an @-sign."),
        ("a@b.test", "special-use or reserved name"),
        ("a@b.local", "special-use or reserved name"),
        ("a@b.localhost", "special-use or reserved name"),
        ("a@ab--c.com", "two letters followed by two dashes"),
        ("a@" + "b" * 64 + ".com", "periods cannot be separated by so many characters"),
        ("a..b@example.com", "two periods"),
    ],
)
def test_normalize_email_rejects_like_pydantic(value: str, reason: str) -> None:
    with pytest.raises(ValueError, match="value is not a valid email address") as info:
        normalize_email(value)
    assert reason in str(info.value)
    assert outcome(normalize_email, value) == outcome(pydantic_normalize, value)
