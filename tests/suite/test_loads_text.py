"""suite.jsonio.loads_text (the index's fast decode of stored texts) answers as json.loads does:
the same value, types and key order, or the same exception type."""

import json
import math

from hypothesis import given, settings
from hypothesis import strategies as st

from suite.jsonio import loads_text

VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True)
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                 max_size=3),
    max_leaves=10)
SPACE = st.sampled_from(["", " ", "\n", "\t \r\n"])


def outcome(fn, text):
    try:
        return "ok", json.dumps(fn(text)), type(fn(text))
    except Exception as exc:
        return "raised", type(exc)


@settings(max_examples=300, deadline=None)
@given(value=VALUES, before=SPACE, after=SPACE, tail=st.sampled_from(["", "x", "]", "{}", " 1"]))
def test_loads_text_agrees_with_json_loads(value, before, after, tail):
    text = before + json.dumps(value) + after + tail
    assert outcome(loads_text, text) == outcome(json.loads, text)


@given(text=st.text(max_size=12))
def test_loads_text_on_any_text(text):
    assert outcome(loads_text, text) == outcome(json.loads, text)


def test_loads_text_keeps_types_order_and_nonfinite():
    got = loads_text('{"b": 1, "a": 1.0, "c": [true, null, NaN, -Infinity]}')
    assert list(got) == ["b", "a", "c"]
    assert type(got["b"]) is int and type(got["a"]) is float and got["c"][0] is True
    assert math.isnan(got["c"][2]) and got["c"][3] == -math.inf
    assert loads_text(" {} ") == {} and loads_text("[1] ") == [1]


@settings(max_examples=200, deadline=None)
@given(values=st.lists(VALUES, max_size=5), space=SPACE,
       odd=st.sampled_from([None, "{}, {}", "[1", "", "1 2"]))
def test_loads_many_is_loads_text_of_each(values, space, odd):
    """Parsed as one array, texts give what :func:`loads_text` gives for each (types and key
    order included); where one text is not one value, the answer (or the exception) is that of
    parsing each alone."""
    from suite.jsonio import loads_many

    texts = [space + json.dumps(v) + space for v in values]
    if odd is not None:
        texts.insert(len(texts) // 2, odd)
    want = [outcome(loads_text, t) for t in texts]
    if all(w[0] == "ok" for w in want):
        got = loads_many(texts)
        assert [(json.dumps(g), type(g)) for g in got] == [w[1:] for w in want]
    else:
        first_bad = next(w for w in want if w[0] == "raised")
        assert outcome(loads_many, texts) == first_bad


@settings(max_examples=300, deadline=None)
@given(VALUES)
def test_dumps_writes_what_json_dumps_writes(value):
    """suite.jsonio.dumps (its encoder made without a JSONEncoder per call) gives
    json.dumps(allow_nan=False)'s text, and refuses what it refuses."""
    import pytest

    from suite.errors import InvalidStatepointError
    from suite.jsonio import dumps

    try:
        expected = json.dumps(value, allow_nan=False)
    except ValueError:
        with pytest.raises(InvalidStatepointError):
            dumps(value)
        return
    assert dumps(value) == expected
    cycle = [value]
    cycle.append(cycle)
    with pytest.raises(InvalidStatepointError, match="Circular"):
        dumps({"a": cycle})
    with pytest.raises(InvalidStatepointError, match="not JSON serializable"):
        dumps({"a": [value, {1, 2}]})
