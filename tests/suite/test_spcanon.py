"""The native canonical text and job id of a state point (``suite._spcanon``) against its
Python reference (``suite.statepoint.canonical_python``): the same bytes and id, None for the
same values (not plain), the same exception for a plain value json cannot write; and
``validate_owned`` against ``validate_statepoint`` (the same results and errors)."""

import hashlib
import json
import math
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suite import native
from suite.errors import InvalidStatepointError
from suite.statepoint import (
    MAX_DEPTH,
    canonical_python,
    texts,
    texts_python,
    validate_owned,
    validate_statepoint,
)
from tests.suite.test_native import need

spcanon = native.load("suite._spcanon")


class Odd(dict):
    """A dict subclass: not plain for either (the full check decides)."""


# keys that are fine and keys that are refused ('.', a leading '$'), any code point
# (surrogates and astral characters included)
KEYS = st.text(max_size=6) | st.sampled_from(["a.b", "$x", "", "\x7f", "\ud800", "\U0001f600"])
SCALARS = (st.none() | st.booleans() | st.integers() | st.integers(min_value=-2**200,
                                                                    max_value=2**200)
           | st.floats() | st.sampled_from([0.0, -0.0, 1e16, 1e-7, 5e-324, 1.7976931348623157e308])
           | st.text(max_size=8) | st.text(st.characters(max_codepoint=0x9f), max_size=8))
OTHERS = st.builds(Odd, st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)) | \
    st.builds(tuple, st.lists(st.integers(), max_size=2)) | st.builds(object) | \
    st.dictionaries(st.integers(), st.integers(), min_size=1, max_size=2)
VALUES = st.recursive(SCALARS | OTHERS, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(KEYS, inner, max_size=5), max_leaves=30)
PLAIN = st.recursive(SCALARS.filter(lambda v: not (isinstance(v, float) and not math.isfinite(v))),
                     lambda inner: st.lists(inner, max_size=4)
                     | st.dictionaries(st.text(max_size=6).filter(
                         lambda k: "." not in k and not k.startswith("$")), inner, max_size=5),
                     max_leaves=30)


def outcome(fn, value):
    try:
        return "value", fn(value)
    except Exception as exc:  # noqa: BLE001 - the type and text are what is compared
        return "raised", type(exc), str(exc)


@settings(max_examples=600, deadline=None)
@given(st.dictionaries(KEYS, VALUES, max_size=6) | VALUES)
def test_native_canonical_equals_the_reference(value):
    native_canonical = need(spcanon).canonical
    assert outcome(native_canonical, value) == outcome(canonical_python, value)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(max_size=6).filter(lambda k: "." not in k and not
                                                  k.startswith("$")), PLAIN, max_size=6))
def test_native_canonical_of_plain_state_points_is_json_dumps_and_its_md5(sp):
    text = json.dumps(sp, sort_keys=True).encode()
    assert need(spcanon).canonical(sp) == (text, hashlib.md5(text).hexdigest())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=300))
def test_native_md5_is_hashlib_md5(data):
    assert need(spcanon).md5_hexdigest(data) == hashlib.md5(data).hexdigest()


@settings(max_examples=200, deadline=None)  # up to four state points an example
@given(st.lists(st.dictionaries(KEYS, VALUES, max_size=6) | VALUES, max_size=4))
def test_native_texts_equal_the_reference(values):
    """Each item as the reference gives it (None: not plain), or the same exception."""
    native_texts = need(spcanon).texts
    assert outcome(native_texts, values) == outcome(texts_python, values)
    assert outcome(texts, values) == outcome(texts_python, values)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.dictionaries(st.text(max_size=6).filter(
    lambda k: "." not in k and not k.startswith("$")), PLAIN, max_size=6), max_size=4))
def test_native_texts_of_plain_state_points_are_json_dumps_in_key_order(sps):
    """The manifest's state point field: json.dumps of the dict as it is (keys unsorted)."""
    assert need(spcanon).texts(sps) == [json.dumps(sp) for sp in sps]


def test_native_texts_refuse_what_is_not_a_list():
    with pytest.raises(TypeError):
        need(spcanon).texts(({"a": 1},))


@pytest.mark.parametrize("levels", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1])
def test_native_texts_depth_limit_is_the_references(levels):
    sps = [nested(levels), {"b": 1}]
    assert need(spcanon).texts(sps) == texts_python(sps)


def test_native_texts_raise_for_an_int_json_cannot_write():
    if not sys.get_int_max_str_digits():
        pytest.skip("no limit on int digits in this Python")
    sps = [{"a": 1}, {"b": 10 ** (sys.get_int_max_str_digits() + 1)}]
    with pytest.raises(ValueError):
        texts_python(sps)
    with pytest.raises(ValueError):
        need(spcanon).texts(sps)


EDGE_INTS = [0, -1, 1, 9, 10, -10, 2**31, -2**31 - 1, 2**63 - 1, -2**63, 2**63, -2**63 - 1,
             10**18, -10**19, 2**64]


@pytest.mark.parametrize("n", EDGE_INTS)
def test_native_ints_at_the_edges_of_64_bits_are_written_as_json_does(n):
    sp = {"n": n, "l": [n, -n]}
    assert need(spcanon).texts([sp]) == [json.dumps(sp)]
    assert need(spcanon).canonical(sp) == canonical_python(sp)


def nested(levels):
    sp = {}
    for _ in range(levels - 1):
        sp = {"a": sp}
    return sp


@pytest.mark.parametrize("levels", [MAX_DEPTH - 1, MAX_DEPTH, MAX_DEPTH + 1, MAX_DEPTH + 5])
def test_native_canonical_depth_limit_is_the_references(levels):
    sp = nested(levels)
    assert need(spcanon).canonical(sp) == canonical_python(sp)


@pytest.mark.parametrize("sp", [
    {"x": float("nan")}, {"x": [1, float("inf")]}, {"x": {"y": -float("inf")}},
    {"a.b": 1}, {"$a": 1}, {"x": {"$in": 1}}, {1: 2}, {"x": (1, 2)}, {"x": Odd()},
    {"x": object()}, Odd(a=1), [1], "text", None,
])
def test_not_plain_is_left_to_the_python_check(sp):
    assert need(spcanon).canonical(sp) is None
    assert canonical_python(sp) is None


def test_an_int_json_cannot_write_raises_as_json_does():
    digits = sys.get_int_max_str_digits()
    if not digits:
        pytest.skip("no limit on int digits in this Python")
    sp = {"a": float("nan"), "b": 10 ** (digits + 1)}
    assert need(spcanon).canonical(sp) is None  # not plain: the full check reports the NaN
    sp = {"b": 10 ** (digits + 1), "c": 1}
    with pytest.raises(ValueError):
        canonical_python(sp)
    with pytest.raises(ValueError):
        need(spcanon).canonical(sp)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(KEYS, VALUES, max_size=6) | VALUES)
def test_validate_owned_gives_what_validate_statepoint_gives(value):
    """The same (state point, id, text) or the same error; the state point itself when plain."""
    got, want = outcome(validate_owned, value), outcome(validate_statepoint, value)
    assert got == want
    if got[0] == "value" and type(value) is dict and canonical_python(value) is not None:
        assert got[1][0] is value


def test_validate_owned_error_names_the_problem():
    with pytest.raises(InvalidStatepointError, match="NaN"):
        validate_owned({"a": {"b": float("nan")}})


@pytest.mark.parametrize("text", ["x" * 4095 + "é" + "\U0001f600" * 3, "\n\"\\" * 5000,
                                  "\U0001f600" * 9000, "a" * 20000])
def test_long_strings_across_the_native_escape_pieces(text):
    sp = {text[:50]: text, "k": [text, {"n": 1}]}
    want = json.dumps(sp, sort_keys=True).encode()
    assert need(spcanon).canonical(sp) == (want, hashlib.md5(want).hexdigest())
