"""Read-only info containers: they read, compare, serialise, pickle like plain ones; edits fail."""

from __future__ import annotations

import copy
import json
import pickle

import pytest
from hypothesis import given, settings

from crm_gym.envs.readonly import ReadOnlyDict, ReadOnlyList, fresh_copy, plain_copy, read_only
from tests.envs.support import JSON

VALUE = {"a": [1, {"b": None, "c": [2.5, "x"]}], "d": {"e": True}}

DICT_EDITS = [
    lambda d: d.__setitem__("z", 1),
    lambda d: d.__delitem__("a"),
    lambda d: d.clear(),
    lambda d: d.pop("a"),
    lambda d: d.popitem(),
    lambda d: d.setdefault("z", 1),
    lambda d: d.update(z=1),
    lambda d: d.__ior__({"z": 1}),
]
LIST_EDITS = [
    lambda items: items.__setitem__(0, 9),
    lambda items: items.__delitem__(0),
    lambda items: items.append(9),
    lambda items: items.extend([9]),
    lambda items: items.insert(0, 9),
    lambda items: items.pop(),
    lambda items: items.remove(1),
    lambda items: items.clear(),
    lambda items: items.sort(),
    lambda items: items.reverse(),
    lambda items: items.__iadd__([9]),
    lambda items: items.__imul__(2),
]


def test_reads_like_the_plain_value():
    frozen = read_only(VALUE)
    assert frozen == VALUE and isinstance(frozen, dict) and isinstance(frozen["a"], list)
    assert type(frozen["a"][1]) is ReadOnlyDict and type(frozen["a"]) is ReadOnlyList
    assert json.dumps(frozen) == json.dumps(VALUE)
    assert frozen | {"z": 1} == {**VALUE, "z": 1} and frozen["a"] + [3] == [*VALUE["a"], 3]


@pytest.mark.parametrize("edit", DICT_EDITS)
def test_every_dict_edit_raises_and_changes_nothing(edit):
    frozen = read_only(VALUE)
    with pytest.raises(TypeError, match="read-only"):
        edit(frozen)
    assert frozen == VALUE


@pytest.mark.parametrize("edit", LIST_EDITS)
def test_every_list_edit_raises_and_changes_nothing(edit):
    frozen = read_only(VALUE)
    with pytest.raises(TypeError, match="read-only"):
        edit(frozen["a"])
    assert frozen == VALUE


def test_copies_are_plain_and_editable():
    frozen = read_only(VALUE)
    deep = copy.deepcopy(frozen)
    assert deep == VALUE and type(deep) is dict and type(deep["a"][1]["c"]) is list
    deep["a"][1]["c"].append("y")
    shallow = copy.copy(frozen)
    shallow["z"] = 1
    assert type(copy.copy(frozen["a"])) is list and frozen == VALUE


def test_pickles_to_read_only_values():
    back = pickle.loads(pickle.dumps(read_only(VALUE)))
    assert back == VALUE and type(back) is ReadOnlyDict and type(back["a"][1]) is ReadOnlyDict
    with pytest.raises(TypeError):
        back["a"].append(1)


def test_fresh_copy_copies_plain_parts_and_shares_read_only_ones():
    shared = read_only({"x": [1]})
    value = {"plain": {"list": [1, 2]}, "shared": shared, "items": [shared, {"y": 2}]}
    copied = fresh_copy(value)
    assert copied == value and copied["shared"] is shared and copied["items"][0] is shared
    assert (
        copied["plain"] is not value["plain"]
        and copied["plain"]["list"] is not value["plain"]["list"]
    )
    assert copied["items"] is not value["items"] and copied["items"][1] is not value["items"][1]


@given(JSON)
@settings(max_examples=100, deadline=None)
def test_plain_copy_is_equal_plain_and_unshared(value):
    frozen = read_only({"v": value, "l": [value]})
    copied = plain_copy(frozen)
    assert copied == frozen and json.loads(json.dumps(copied)) == copied

    def containers(x):
        if isinstance(x, dict):
            yield x
            for item in x.values():
                yield from containers(item)
        elif isinstance(x, list):
            yield x
            for item in x:
                yield from containers(item)

    ours, theirs = list(containers(copied)), list(containers(frozen))
    assert all(type(c) in (dict, list) for c in ours)
    assert not {id(c) for c in ours} & {id(c) for c in theirs}


@given(JSON)
@settings(max_examples=200, deadline=None)
def test_any_json_value_reads_serialises_pickles_and_copies_as_itself(value):
    frozen = read_only(value)
    assert frozen == value and json.dumps(frozen) == json.dumps(value)
    assert pickle.loads(pickle.dumps(frozen)) == value
    deep = copy.deepcopy(frozen)
    assert deep == value and type(deep) is type(value)  # plain dicts and lists again
