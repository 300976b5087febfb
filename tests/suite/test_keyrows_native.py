"""The C flattener (suite.index._keyrows) against its reference, keyrows._rows_of_keys_python:
the same rows, in the same order, or the same exception, for texts as stored and broken."""

import json
import math

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite import native
from suite.index import keyrows
from tests.conftest import skip_or_fail

NAMES = st.sampled_from(["a", "b", "a.b", "b.c", "é", "", "\u2603"])
LEAVES = (st.integers(min_value=-2 ** 80, max_value=2 ** 80)
          | st.integers(min_value=-10 ** 16, max_value=10 ** 16) | st.booleans() | st.none()
          | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=4)
          | st.sampled_from(["\ud800", "a\"b\\", "\x01", "\u00e9"]))
VALUES = st.recursive(LEAVES, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(NAMES, inner, max_size=3), max_leaves=8)
DOCS = (st.dictionaries(NAMES, LEAVES, min_size=1, max_size=5)
        | st.dictionaries(NAMES, st.dictionaries(NAMES, LEAVES, max_size=3), min_size=1, max_size=3)
        | st.dictionaries(NAMES, VALUES, min_size=1, max_size=5))
# each key asked of state points and documents both
WANTED = st.sets(NAMES | st.sampled_from(["a.b.c", "a.b.c.d", "é.x", "x"]), max_size=5).map(
    lambda names: {(src, k) for k in names for src in (0, 1)})


def need():
    mod = native.load("suite.index._keyrows")
    if mod is None:
        skip_or_fail("the native modules are not built here (python setup.py build_ext --inplace)")
    return mod


def _text(doc, style, edit):
    """JSON text of ``doc`` as some tool writes it, then maybe edited (a key written twice,
    cut short, a stray character, another top level)."""
    text = json.dumps(doc, **[{}, {"indent": 1}, {"separators": (",", ":")},
                              {"ensure_ascii": False}][style])
    kind, where = edit
    at = where % (len(text) + 1)
    if kind == "dup" and text.startswith("{") and len(text) > 2:
        return '{"a": 1, "b": {"c": 0}, ' + text[1:] + ""  # then maybe again in doc
    if kind == "cut":
        return text[:at]
    if kind == "stray":
        return text[:at] + "}" + text[at:]
    if kind == "list":
        return f"[{text}]"
    if kind == "space":
        return " \n\t" + text + " \r\n"
    return text


def _same(a, b):
    def norm(rows):
        return [tuple("nan" if isinstance(v, float) and math.isnan(v) else v for v in r)
                for r in rows]
    return norm(a) == norm(b)


def _outcome(fn, texts, wanted):
    try:
        return "rows", fn(texts, wanted)
    except Exception as exc:  # noqa: BLE001 -- compared by type
        return "error", type(exc)


EDITS = st.tuples(st.sampled_from(["none"] * 6 + ["dup", "cut", "stray", "list", "space"]),
                  st.integers(min_value=0, max_value=400))


@settings(max_examples=600, deadline=None, suppress_health_check=list(HealthCheck))
@given(docs=st.lists(st.tuples(DOCS, st.integers(0, 3), EDITS), max_size=6), wanted=WANTED)
def test_c_rows_equal_the_reference(docs, wanted):
    need()
    texts = [(f"id{i}", i % 2, _text(doc, style, edit))
             for i, (doc, style, edit) in enumerate(docs)] + [("none", 1, None)]
    good = []
    for text in texts:  # each alone, then those without an error together
        ref = _outcome(keyrows._rows_of_keys_python, [text], wanted)
        got = _outcome(keyrows._rows_of_keys_native, [text], wanted)
        assert ref[0] == got[0], (text, ref, got)
        if ref[0] == "rows":
            assert _same(ref[1], got[1]), (text, ref, got)
            good.append(text)
        else:
            assert ref[1] is got[1], (text, ref, got)
    assert _same(keyrows._rows_of_keys_python(good, wanted),
                 keyrows._rows_of_keys_native(good, wanted))


def test_c_rows_of_chosen_texts():
    need()
    texts = [
        ("d", 0, '{"a": {"b": 1}, "a.b": 2, "a": {"b": 3}}'),  # a key twice: the last kept
        ("e", 0, '{"\\u0061": {"b": 4}}'),  # an escaped key
        ("n", 1, '{"b": {"c": NaN}, "x": -Infinity, "y": Infinity, "z": -0, "w": -0.0}'),
        ("g", 1, '{"x": 123456789012345678901234567890, "b.c": 1e400, "b": [1.0, {"b": 2}]}'),
        ("s", 1, '{"x": "\\ud800", "b": {"c": "\\"q\\""}, "\u00e9": 1}'),
        ("l", 0, "[]"),
        ("t", 0, '{"a": 1} x'),
        ("c", 0, '{"a": "\x01"}'),
        ("k", 0, "{" + "\"a\": {" * 600 + "}" * 601),
        # an integer past Python's digit limit in a value not asked for: the reference's error
        ("h", 0, '{"q": ' + "9" * 5000 + ', "a": 1}'),
        ("i", 0, '{"q": [' + "9" * 700 + '], "a": 1}'),
    ]
    wanted = {(0, "a.b"), (0, "a"), (1, "b.c"), (1, "x"), (1, "y"), (1, "z"), (1, "w"),
              (1, "b"), (1, "é")}
    for text in texts:
        ref = _outcome(keyrows._rows_of_keys_python, [text], wanted)
        got = _outcome(keyrows._rows_of_keys_native, [text], wanted)
        assert ref[0] == got[0] and (_same(ref[1], got[1]) if ref[0] == "rows"
                                     else ref[1] is got[1]), (text, ref, got)
    rows = keyrows._rows_of_keys_native([texts[0]], wanted)
    assert [r[2:5] for r in rows] == [("a", 6, None), ("a.b", 2, 3.0), ("a.b", 2, 2.0)]


def test_c_rows_remember_only_the_compared_keys():
    """A key written twice matters only where it is compared (a wanted key or a prefix of one):
    C decides the others itself, however many; past 32 compared keys an object, or a compared
    key written twice, the text goes to the reference. The rows are the reference's either way."""
    mod = need()
    many = ", ".join(f'"z{i}": {i}' for i in range(40))
    cases = [  # (text, wanted keys of src 0, whether C leaves it to the reference)
        ('{' + many + ', "z0": 2, "a": 3}', ["a"], False),
        ('{"z": 1, "z": {"q": 1}, "a": {"b": 3, "c": 4, "c": 5}}', ["a.b"], False),
        ('{' + ", ".join(f'"k{i}": {i}' for i in range(32)) + '}', [f"k{i}" for i in range(32)],
         False),
        ('{' + ", ".join(f'"k{i}": {i}' for i in range(33)) + '}', [f"k{i}" for i in range(33)],
         True),
        ('{"a": {"b": 1}, "a": 2}', ["a.b"], True),
        ('{"a": {"b": {"c": 1, "c": 2}}}', ["a.b.c"], True),
        ('{"a": {"b": {"c": 1, "d": 2, "d": 3}}}', ["a.b.c"], False),
        ('{"a": {"b": {"c": 1, "d": {"e": 1}', ["a.b.c"], True),  # cut
    ]
    for text, keys, left in cases:
        calls = []

        def rows_of_text(*args, calls=calls):
            calls.append(args[0])
            return keyrows._rows_of_text(*args)

        def c_rows(texts, keys, rows_of_text=rows_of_text):
            return mod.rows_of_keys(texts, (keys, []), keyrows._row_of_value, rows_of_text)

        got = _outcome(c_rows, [("j", 0, text)], keys)
        ref = _outcome(keyrows._rows_of_keys_python, [("j", 0, text)], {(0, k) for k in keys})
        assert calls == (["j"] if left else []), text
        assert ref[0] == got[0] and (_same(ref[1], got[1]) if ref[0] == "rows"
                                     else ref[1] is got[1]), (text, ref, got)


def test_c_flattener_refuses_wrong_arguments():
    mod = need()
    for bad in ([("i", 0)], [1], None):
        try:
            mod.rows_of_keys(bad, ([], ["x"]), keyrows._row_of_value, keyrows._rows_of_text)
        except TypeError:
            continue
        raise AssertionError(bad)
    try:
        mod.rows_of_keys([], ([1], []), keyrows._row_of_value, keyrows._rows_of_text)
    except TypeError:
        pass
    else:
        raise AssertionError("a key that is not str")
