"""The C key-name scanner of an index build (suite.index._keyrows.names_of_file) against its
reference (reading.text_and_names with fast=None: the file parsed, then keyrows.key_names):
where C decides, the same text, names and problem; where it does not, None (the reference
runs). Files as tools write them, and broken: cut, doubled keys, other encodings, bad bytes."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite import native
from suite.index import keyrows, reading
from tests.conftest import skip_or_fail
from tests.suite.test_keyrows_native import DOCS, EDITS, _text


def need():
    mod = native.load("suite.index._keyrows")
    if mod is None:
        skip_or_fail("the native modules are not built here (python setup.py build_ext --inplace)")
    return mod


def _compare(mod, data):
    """Both sides on ``data`` as a state point and as a document; what C answered."""
    got = mod.names_of_file(data)
    for missing_ok, capped in ((False, False), (True, True), (True, False)):
        raw = (data, "1:2:3")
        ref = reading.text_and_names(raw, "/w/j/f.json", "j", missing_ok, capped, fast=None)
        fast = reading.text_and_names(raw, "/w/j/f.json", "j", missing_ok, capped,
                                      fast=mod.names_of_file)
        assert fast == ref, (data, ref, fast)
        if got is not None:
            assert (got[0], got[1], None) == ref or (capped and ref == (None, None, None)), \
                (data, ref, got)
    return got


ENCODINGS = st.sampled_from(["utf-8"] * 6 + ["utf-8-sig", "utf-16", "utf-16-le", "latin-1"])
BYTE_EDITS = st.tuples(st.sampled_from(["none"] * 4 + ["cut", "insert"]),
                       st.integers(min_value=0, max_value=400),
                       st.sampled_from([b"\xff", b"\xc3", b"\x00", b"\xed\xa0\x80", b"\\", b'"']))


@settings(max_examples=800, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc=DOCS, style=st.integers(0, 3), edit=EDITS, encoding=ENCODINGS, byte_edit=BYTE_EDITS)
def test_c_names_equal_the_reference(doc, style, edit, encoding, byte_edit):
    mod = need()
    text = _text(doc, style, edit)
    try:
        data = text.encode(encoding)
    except UnicodeEncodeError:
        data = text.encode("utf-8", "surrogatepass")
    kind, where, piece = byte_edit
    at = where % (len(data) + 1)
    if kind == "cut":
        data = data[:at]
    elif kind == "insert":
        data = data[:at] + piece + data[at:]
    _compare(mod, data)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(doc=DOCS, style=st.integers(0, 3))
def test_c_decides_plain_files(doc, style):
    """Keys without escapes, each once, written in UTF-8: C answers (the fast path is taken)."""
    mod = need()
    text = json.dumps(doc, ensure_ascii=False,
                      **[{}, {"indent": 1}, {"separators": (",", ":")}, {"indent": "\t"}][style])
    try:
        data = text.encode()
    except UnicodeEncodeError:  # a lone surrogate in a value: not UTF-8
        return
    ref = reading.text_and_names((data, "s"), "p", "j", fast=None)
    if ref[2] is not None:  # a value Python's reader refuses (an integer of many digits)
        assert mod.names_of_file(data) is None
        return
    assert _compare(mod, data) is not None, data


def test_c_names_of_chosen_files():
    mod = need()
    deep = lambda n: ("{" + '"a": {' * (n - 1) + "}" * n).encode()  # noqa: E731
    many = "{" + ", ".join(f'"k{i}": {i}' for i in range(300)) + "}"
    undecided = [
        b'{"a": {"b": 1}, "a.b": 2, "a": {"c": 3}}',  # a key twice: one name, the last value's
        b'{"b": {"x": 1, "x": {"y": 2}}}',  # twice, nested
        b'{"\\u0061": {"b": 4}}',  # an escaped key
        deep(60),  # deeper than C reads, within MAX_DEPTH
        deep(101),  # past MAX_DEPTH: the reference's problem
        b'{"a": [' * 1 + b"[" * 120 + b"]" * 120 + b"]}",
        b'{"x": ' + b"9" * 5000 + b"}",  # past Python's digit limit: a problem
        b'{"x": ' + b"9" * 700 + b"}",  # readable, left to Python
        b"\xef\xbb\xbf" + b'{"a": 1}',  # a byte-order mark
        '{"a": 1}'.encode("utf-16"),
        b' {"a": 1}', b"{", b"", b"[1]", b'{"a": 1} x', b'{"a": 1}}', b'{"a": "\x01"}',
        b'{"a": "\xff"}', b'{"a": 01}', b'{"a": 1,}', b'{"a" 1}', b'{"a": tru}',
        many.encode(),  # more members than C remembers
        # one past what C remembers (256 members an object), the last new or a repeat
        ("{" + ", ".join(f'"k{i}": {i}' for i in range(257)) + "}").encode(),
        ("{" + ", ".join(f'"k{i}": {i}' for i in range(256)) + ', "k0": {"a": 1}}').encode(),
        b'{"a": {"b": 1, "c": {"d": 2, "d": 3}}}',  # twice, two levels down
    ]
    for data in undecided:
        assert _compare(mod, data) is None, data
    decided = [
        b'{}', b'{"a": 1}', b'{"a": {"b": {"c": []}}, "b": {}, "": {"": 0}}',
        b'{"x": NaN, "y": -Infinity, "z": Infinity, "w": -0.0, "v": 1e400}',
        b'{"s": "\\ud800\\"q\\"", "l": [{"a": 1, "a": 2}], "\xc3\xa9": {"\xe2\x98\x83": null}}',
        b'{"x": ' + b"9" * 600 + b"}", deep(50), b'{"a": 1} \r\n\t',
        ("{" + ", ".join(f'"k{i}": {{"k{i}": {i}}}' for i in range(256)) + "}").encode(),
    ]
    for data in decided:
        assert _compare(mod, data) is not None, data
    assert mod.names_of_file(b'{"a": {"b": 1, "c": {"d": 2}}, "e": [{"f": 1}]}')[1] == [
        "a", "a.b", "a.c", "a.c.d", "e"]


def test_c_names_caps_and_arguments():
    mod = need()
    # more names than a document may have (small enough for C): over the caps, as in Python
    doc = {f"k{i}": {} for i in range(keyrows.DOC_MAX_KEYS + 1)}
    data = json.dumps(doc, separators=(",", ":")).encode()
    if len(data) <= reading.NAMES_C_MAX_BYTES:
        assert _compare(mod, data) is not None
    assert reading.text_and_names((data, "s"), "p", "j", True, True) == (None, None, None)
    for bad in ("{}", None, bytearray(b"{}")):
        try:
            mod.names_of_file(bad)
        except TypeError:
            continue
        raise AssertionError(bad)


RAW_DATA = st.one_of(
    st.builds(lambda d, style, edit: _text(d, style, edit).encode("utf-8", "surrogatepass"),
              DOCS, st.integers(0, 3), EDITS),
    st.binary(max_size=40),
    st.sampled_from([None, reading.TOO_BIG, OSError(2, "No such file", "/w/j/f"),
                     b'{"a": {"b": 1}}', b'{"a": 1, "a": 2}', b"{" * 3000]),
)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(raws=st.lists(st.tuples(RAW_DATA, st.sampled_from(["1:2:3", "none", None])),
                     max_size=12),
       missing_ok_capped=st.sampled_from([(False, False), (True, True), (True, False)]),
       max_bytes=st.sampled_from([reading.NAMES_C_MAX_BYTES, 10, 0]))
def test_c_loop_over_files_equals_the_reference(raws, missing_ok_capped, max_bytes):
    """names_of_files over a batch: where it answers, the reference's (text, names, problem)
    and the signature; where it leaves a file (None), the reference reads it."""
    mod = need()
    missing_ok, capped = missing_ok_capped
    got = mod.names_of_files(raws, reading.TOO_BIG, max_bytes,
                             keyrows.DOC_MAX_KEYS if capped else -1)
    assert len(got) == len(raws)
    for raw, g in zip(raws, got, strict=True):
        data = raw[0]
        ref = reading.text_and_names(raw, "/w/j/f.json", "j", missing_ok, capped, fast=None)
        if g is None:
            continue
        assert type(data) is bytes and data is not reading.TOO_BIG and len(data) <= max_bytes
        assert g[3] is raw[1]
        assert g[:3] == ref or (capped and g[:3] == (None, None, None)), (data, ref, g)


def test_c_loop_takes_plain_files_and_refuses_other_arguments():
    mod = need()
    raws = [(b'{"a": 1, "b": {"c": 2}}', "s"), (None, "none"), (reading.TOO_BIG, "t"),
            (b'{"a": 1, "a": 2}', "u")]
    assert mod.names_of_files(raws, reading.TOO_BIG, 100, -1) == [
        ('{"a": 1, "b": {"c": 2}}', ["a", "b", "b.c"], None, "s"), None, None, None]
    over = json.dumps({f"k{i}": 0 for i in range(4)}).encode()
    assert mod.names_of_files([(over, "s")], reading.TOO_BIG, 1000, 3) == [
        (None, None, None, "s")]
    for bad in ([(b"{}",)], [b"{}"], 5, [[b"{}", "s"]]):
        try:
            mod.names_of_files(bad, reading.TOO_BIG, 100, -1)
        except TypeError:
            continue
        raise AssertionError(bad)


def test_read_texts_with_and_without_the_c_loop(tmp_path):
    """The build's reading of a workspace: the same rows through the C loop and without it."""
    need()
    ws = tmp_path / "ws"
    files = [b'{"a": 1}', b'{"a": {"b": [1]}}', b"{broken", b'{"a": 1, "a": 2}', None,
             '{"a": 1}'.encode("utf-16"), b'{"x": ' + b"9" * 700 + b"}"]
    ids = []
    for i, data in enumerate(files):
        job = f"{i:032x}"
        ids.append(job)
        (ws / job).mkdir(parents=True)
        if data is not None:
            (ws / job / "f.json").write_bytes(data)
    for missing_ok, capped, signed in ((False, False, False), (True, True, True)):
        args = (str(ws), ids, "f.json", missing_ok, capped, signed)
        assert reading._read_texts(*args) == reading._read_texts(*args, fast=None)
