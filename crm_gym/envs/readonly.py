"""Read-only containers for info entries that every episode shares.

Infos must not share anything a caller could change: an edit to one reset's info would show up in
the next one. Copying is the usual cure, but the 38 tool schemas alone are 364 containers, whose
copy cost more than a whole turn of tool call and scoring. Handing out one read-only instance
keeps the guarantee at no cost: it reads, compares, serialises and pickles like plain dicts and
lists, and an edit raises instead of leaking. ``copy.deepcopy`` gives an editable copy.
"""

from __future__ import annotations

import copy
from typing import Any, Iterator, Mapping, NoReturn

_EDIT_HINT = "it is shared by every episode; copy.deepcopy(...) gives an editable copy"


class ReadOnlyDict(dict):
    """A ``dict`` that refuses changes (``isinstance(x, dict)`` and JSON still work)."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(f"this dict is read-only: {_EDIT_HINT}")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __copy__(self) -> dict:
        return dict(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> dict:
        return {key: copy.deepcopy(value, memo) for key, value in self.items()}

    def __reduce__(self) -> tuple[Any, ...]:
        return ReadOnlyDict, (dict(self),)


class ReadOnlyList(list):
    """A ``list`` that refuses changes (``isinstance(x, list)`` and JSON still work)."""

    __slots__ = ()

    def _refuse(self, *args: Any, **kwargs: Any) -> NoReturn:
        raise TypeError(f"this list is read-only: {_EDIT_HINT}")

    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = pop = remove = clear = sort = reverse = _refuse

    def __copy__(self) -> list:
        return list(self)

    def __deepcopy__(self, memo: dict[int, Any]) -> list:
        return [copy.deepcopy(item, memo) for item in self]

    def __reduce__(self) -> tuple[Any, ...]:
        return ReadOnlyList, (list(self),)


def read_only(value: Any) -> Any:
    """Nested dicts and lists as their read-only forms (other values are kept)."""
    if isinstance(value, dict):
        return ReadOnlyDict({key: read_only(item) for key, item in value.items()})
    if isinstance(value, list):
        return ReadOnlyList(read_only(item) for item in value)
    return value


def fresh_copy(value: Any) -> Any:
    """A copy of nested dicts and lists that shares only read-only parts (and immutable leaves)."""
    if isinstance(value, (ReadOnlyDict, ReadOnlyList)):
        return value
    if isinstance(value, dict):
        return {key: fresh_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [fresh_copy(item) for item in value]
    return value


class Record(Mapping[str, Any]):
    """A read-only mapping for one info entry that vector envs must keep whole.

    Gymnasium's vector envs split dict-valued infos key by key into per-key arrays (coercing
    values to the first env's dtype); a non-dict mapping is kept as one object per env.
    """

    def __init__(self, values: dict[str, Any]):
        self._values = values

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Mapping) and dict(self.items()) == dict(other.items())

    def __repr__(self) -> str:
        return f"Record({self._values!r})"
