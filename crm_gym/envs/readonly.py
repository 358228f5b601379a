"""Read-only containers for what every episode shares, and the plain copies infos hand out.

Infos must not share anything a caller could change: an edit to one reset's info would show up in
the next one. Copying is the usual cure, but the 38 tool schemas alone are 364 containers, whose
copy cost more than a whole turn of tool call and scoring. ``info["tools"]`` is therefore one
read-only instance: a ``dict``/``list`` subclass that ``json.dumps``, pickle, equality and
Gymnasium's vector envs take as they are (a list is stacked whole), and an edit raises instead
of leaking. ``copy.deepcopy`` gives an editable copy. Small entries (the reference) are cached
read-only and handed out as ``plain_copy``: plain dicts and lists, a few microseconds a step.
"""

from __future__ import annotations

import copy
from typing import Any, NoReturn

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


def plain_copy(value: Any) -> Any:
    """Nested dicts and lists (read-only or not) as fresh plain ones: what an info may hold."""
    if isinstance(value, dict):
        return {key: plain_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain_copy(item) for item in value]
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
