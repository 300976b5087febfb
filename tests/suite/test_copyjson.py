"""The native deep copy of JSON values (``suite._copyjson``) against its Python reference
(``suite.synced.copy_json_python``): equal values, nothing shared that is copied, the same
objects shared, the same error for too deep a nesting; and what ``job.sp()`` returns with it."""

import os
import subprocess
import sys

from hypothesis import given, settings
from hypothesis import strategies as st

from suite import native, synced
from tests.suite.test_native import need

copyjson = native.load("suite._copyjson")


class Odd(dict):
    """A dict subclass: shared, not copied, by both."""


SCALARS = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=5)
OTHERS = st.builds(Odd, st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)) | \
    st.builds(tuple, st.lists(st.integers(), max_size=2)) | st.builds(object)
KEYS = st.text(max_size=4) | st.integers() | st.none()
VALUES = st.recursive(SCALARS | OTHERS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(KEYS, inner, max_size=4), max_leaves=25)


def containers(value):
    """Every dict and list of exactly those types inside ``value`` (itself included)."""
    out = []
    if type(value) in (dict, list):
        out.append(value)
        for item in (value.values() if type(value) is dict else value):
            out.extend(containers(item))
    return out


def shared(value):
    """Ids of the objects inside ``value`` that a copy keeps (not dicts or lists)."""
    if type(value) is dict:
        return [i for v in value.values() for i in shared(v)]
    if type(value) is list:
        return [i for v in value for i in shared(v)]
    return [id(value)]


def same_shape(a, b):
    """Equal structure, key order included (floats compared by identity of the object, so a
    NaN compares)."""
    if type(a) is not type(b):
        return False
    if type(a) is dict:
        return list(a) == list(b) and all(same_shape(a[k], b[k]) for k in a)
    if type(a) is list:
        return len(a) == len(b) and all(same_shape(x, y) for x, y in zip(a, b, strict=True))
    return a is b


@settings(max_examples=300, deadline=None)
@given(value=VALUES)
def test_native_copy_agrees_with_the_reference(value):
    fast = need(copyjson).copy_json(value)
    ref = synced.copy_json_python(value)
    assert same_shape(fast, value) and same_shape(ref, value)
    originals = {id(c) for c in containers(value)}
    assert not originals & {id(c) for c in containers(fast)}  # every container is new
    assert shared(fast) == shared(ref) == shared(value)  # the same objects kept


def test_too_deep_a_nesting_raises_recursion_error_in_both():
    deep = []
    for _ in range(100_000):
        deep = [deep]
    looped = {"a": []}
    looped["a"].append(looped)
    for copy in (need(copyjson).copy_json, synced.copy_json_python):
        for value in (deep, looped):
            try:
                copy(value)
            except RecursionError:
                pass
            else:
                raise AssertionError(f"{copy} copied a nesting it should refuse")
    nested = [{"k": []}]
    for _ in range(200):  # deep, but within the recursion limit: copied by both
        nested = [{"k": nested}]
    assert need(copyjson).copy_json(nested) == synced.copy_json_python(nested) == nested


def test_copy_json_is_the_native_one_unless_switched_off():
    need(copyjson)
    assert synced.copy_json is copyjson.copy_json
    code = "from suite import synced; print(synced.copy_json is synced.copy_json_python)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "SUITE_PURE_PYTHON": "1"}, check=True).stdout
    assert out.strip() == "True"


def test_job_sp_call_returns_a_copy_of_its_own(project):
    job = project.open_job({"a": 1, "b": {"c": [1, {"d": 2}]}}).init()
    got = job.sp()
    got["b"]["c"][1]["d"] = 3
    got["a"] = 5
    assert job.sp() == {"a": 1, "b": {"c": [1, {"d": 2}]}}
    assert job.sp.b() == {"c": [1, {"d": 2}]} and job.sp.b.c() == [1, {"d": 2}]
