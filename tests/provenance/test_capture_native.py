"""The provenance scans in C (suite/provenance/_capture.c) give what their Python references in
suite/provenance/capture.py give, on generated job directories, errors included."""

import hashlib
import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite import layout, native
from suite.provenance import capture
from tests.conftest import skip_or_fail
from tests.provenance.conftest import other_thread

_capture = native.load("suite.provenance._capture")
CHUNK = capture.CHUNK
# the rules of capture's scans, as the C functions take them
SKIP, TEMP, LOG = (tuple(os.fsencode(n) for n in capture.NOT_OUTPUTS),
                   os.fsencode(layout.TMP_PREFIX), os.fsencode(layout.FLOW_LOG))

# names a job directory may hold: its own files, suite's temporary files, and the user's
# (non-ASCII, and bytes that are not UTF-8, which Python lists with surrogateescape)
NAMES = st.sampled_from([layout.FLOW_LOG, layout.STATEPOINT, layout.DOCUMENT,
                         layout.TMP_PREFIX + "x.1", "a" + layout.TMP_PREFIX, "out.txt",
                         "résumé.json", "b", "c.h5", os.fsdecode(b"\xff\xfe.bin"), "..x"])
# an entry: a file of some size (around the hash's read size too), or something else
KINDS = st.one_of(
    st.tuples(st.just("file"), st.sampled_from([0, 1, 11, 4095, 4096, 4097, CHUNK - 1, CHUNK,
                                                 CHUNK + 1, 2 * CHUNK])),
    st.tuples(st.sampled_from(["dir", "link", "dangling", "fifo"]), st.just(0)))
ENTRIES = st.dictionaries(NAMES, KINDS, max_size=6)
# what became of a file between the scan before and the one after
FATES = st.lists(st.sampled_from(["same", "size", "mtime", "ctime", "inode", "gone", "new"]),
                 min_size=8, max_size=8)
EXTRA_OLD = st.lists(st.sampled_from(["old.txt", "z", "é", "sub/x"]), max_size=3,
                     unique=True)


def need():
    if _capture is None:
        skip_or_fail("the native modules are not built here (python setup.py build_ext "
                     "--inplace)")
    return _capture


def make(root, entries):
    os.mkdir(root)
    for i, (name, (kind, size)) in enumerate(sorted(entries.items())):
        path = os.path.join(os.fsencode(root), os.fsencode(name))
        if kind == "file":
            with open(path, "wb") as f:
                f.write(bytes([i % 251]) * size)
        elif kind == "dir":
            os.mkdir(path)
        elif kind == "link":
            os.symlink(layout.STATEPOINT, path)
        elif kind == "dangling":
            os.symlink("no such file", path)
        else:
            os.mkfifo(path)


def outcome(fn, *args):
    """What a call gives: its value, or the exception's type, errno and file name."""
    try:
        return "value", fn(*args)
    except OSError as exc:
        return "error", type(exc), exc.errno, exc.filename


@settings(max_examples=120, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=ENTRIES, fates=FATES, extra=EXTRA_OLD, threads=st.booleans())
def test_flat_scans_agree_with_the_python_references(tmp_path_factory, entries, fates, extra,
                                                     threads):
    # threads: another thread alive (the C scans then release the interpreter lock around
    # their system calls; alone, they keep it)
    mod = need()
    root = str(tmp_path_factory.mktemp("jobs") / "job")
    make(root, entries)
    py = capture.flat_sigs_python(root)
    with other_thread(threads):
        assert outcome(capture.flat_sigs, root) == outcome(capture.flat_sigs_python, root)
        assert mod.flat_sigs(root) == py
    # the scan before: what was found, each file's signature moved by its fate
    old = {}
    # (at most 6 entries, 8 fates)
    for (name, sig), fate in zip(sorted((py or ({}, False))[0].items()), fates, strict=False):
        size, mtime, ctime, ino = sig
        if fate == "new":
            continue
        old[name] = {"same": sig, "size": (size + 1, mtime, ctime, ino),
                     "mtime": (size, mtime - 1, ctime, ino),
                     "ctime": (size, mtime, ctime - 1, ino),
                     "inode": (size, mtime, ctime, ino + 1), "gone": (1, 2, 3, 4)}[fate]
        if fate == "gone":
            os.remove(os.path.join(root, name))
    for name in extra:
        old[name] = (0, 0, 0, 0)
    want = outcome(capture.flat_changes_python, "job", root, old)
    assert outcome(capture.flat_changes, "job", root, old) == want
    # the same entries as the record's text, in one call
    text = outcome(capture.flat_changes_text_python, "job", root, old)
    with other_thread(threads):
        assert outcome(capture.flat_changes_text, "job", root, old) == text
        assert outcome(mod.flat_changes_text, "job", root, old) == text
    if want[0] == "value":
        assert text[1] == (None if want[1] is None else capture.files_text_python(want[1]))
    if want[0] == "value" and want[1] is not None:
        for entry in want[1]:  # the hashes are the files' (not only the same in both)
            if "sha256" in entry:
                assert entry["sha256"] == capture.file_sha256(os.path.join(root, entry["path"]))


@pytest.mark.parametrize("where", ["missing", "file", "slash", "missing parent"])
def test_flat_scans_fail_or_not_as_the_references_do(tmp_path, where):
    need()
    (tmp_path / "afile").write_text("x")
    (tmp_path / "job").mkdir()
    (tmp_path / "job" / "out.txt").write_text("1")
    root = {"missing": str(tmp_path / "gone"), "file": str(tmp_path / "afile"),
            "slash": str(tmp_path / "job") + "/",
            "missing parent": str(tmp_path / "afile" / "job")}[where]
    old = {"out.txt": (1, 0, 0, 0), "x": (0, 0, 0, 0)}
    want = outcome(capture.flat_sigs_python, root)
    assert outcome(capture.flat_sigs, root) == want
    assert outcome(capture.flat_changes, "j", root, old) == \
        outcome(capture.flat_changes_python, "j", root, old)
    assert outcome(capture.flat_changes_text, "j", root, old) == \
        outcome(capture.flat_changes_text_python, "j", root, old)
    if where == "file":  # the directory is named, as os.scandir names it
        assert want[:2] == ("error", NotADirectoryError) and want[3] == root
    if where == "missing":  # the operation removed the job: empty, everything removed
        assert want == ("value", ({}, False))
        assert capture.flat_changes("j", root, old) == [
            {"job": "j", "path": "out.txt", "removed": True},
            {"job": "j", "path": "x", "removed": True}]


def test_wrong_arguments_raise_type_errors_not_crashes(tmp_path):
    mod = need()
    root = str(tmp_path)
    with pytest.raises(TypeError):
        mod.flat_changes("j", root, [("a", 1)])
    with pytest.raises(TypeError):
        mod.flat_changes_text(("j",), root, {})
    with pytest.raises(TypeError):  # a removed entry's name must be text, as in the reference
        mod.flat_changes_text("j", root, {5: (0, 0, 0, 0)})
    with pytest.raises(TypeError):
        capture.flat_changes_text_python("j", root, {5: (0, 0, 0, 0)})
    with pytest.raises(TypeError):
        mod.configure(("not bytes",), TEMP, LOG)
    with pytest.raises(TypeError):
        mod.flat_sigs(root.encode())
    with pytest.raises(TypeError):
        mod.flat_sigs(root, SKIP)
    with pytest.raises(ValueError):  # an embedded NUL, as os.scandir says
        mod.flat_sigs(root + "\0x")


def test_the_c_scans_read_as_much_at_a_time_as_the_reference():
    assert need().CHUNK == capture.CHUNK


# any text, lone surrogates (undecodable names) and characters past the BMP included
TEXT = st.text(st.characters(blacklist_categories=()), max_size=12)
FILE_ENTRY = st.fixed_dictionaries({"job": TEXT, "path": TEXT,
                                    "size": st.none() | st.integers(-2**70, 2**70),
                                    "sha256": st.none() | TEXT})
REMOVED_ENTRY = st.fixed_dictionaries({"job": TEXT, "path": TEXT, "removed": st.just(True)})
# forms flat_changes never makes: the Python writer answers (or raises) for them
ODD_ENTRY = st.one_of(
    st.fixed_dictionaries({"job": TEXT, "path": TEXT, "removed": st.sampled_from([False, 1])}),
    st.fixed_dictionaries({"job": TEXT, "path": TEXT,
                           "size": st.sampled_from([True, 1.5, "7"]), "sha256": TEXT}),
    st.fixed_dictionaries({"job": TEXT, "path": TEXT, "size": st.none(),
                           "sha256": st.integers()}),
    st.fixed_dictionaries({"job": st.integers(), "path": TEXT, "removed": st.just(True)}),
    st.fixed_dictionaries({"job": TEXT, "path": TEXT, "size": st.none(), "extra": TEXT}),
    st.fixed_dictionaries({"job": TEXT, "path": TEXT}),
    st.fixed_dictionaries({"path": TEXT, "size": st.none(), "sha256": st.none(),
                           "other": st.none()}))


def outcome_any(fn, *args):
    try:
        return "value", fn(*args)
    except Exception as exc:  # the same exception type from both
        return "error", type(exc)


@settings(max_examples=300, deadline=None)
@given(regular=st.lists(st.one_of(FILE_ENTRY, REMOVED_ENTRY), max_size=4),
       odd=st.lists(ODD_ENTRY, max_size=2), at=st.integers(0, 4))
def test_files_text_agrees_with_the_python_reference(regular, odd, at):
    need()
    files = regular[:at] + odd + regular[at:]
    assert outcome_any(capture.files_text, files) == \
        outcome_any(capture.files_text_python, files)
    # what flat_changes makes comes out as the JSON of it
    assert json.loads(f"[{capture.files_text(regular)}]") == regular


def test_files_text_refuses_what_is_not_a_list():
    mod = need()
    with pytest.raises(TypeError):
        mod.files_text(capture._file_text, ({"job": "j", "path": "p", "removed": True},))
    with pytest.raises(TypeError):  # a fallback must give text
        mod.files_text(lambda entry: 5, [{"odd": 1}])


def test_small_files_are_hashed_as_hashlib_hashes_them(tmp_path):
    # one read holds these: the C SHA-256, at each edge of its padding (55/56 bytes a block)
    mod = need()
    sizes = [0, 1, 55, 56, 57, 63, 64, 65, 119, 120, 127, 128, 1000, CHUNK - 1, CHUNK]
    for size in sizes:
        (tmp_path / f"f{size}").write_bytes(bytes(range(256)) * (size // 256) + b"x" * (size % 256))
    got = {e["path"]: (e["size"], e["sha256"])
           for e in mod.flat_changes("j", str(tmp_path), {})}
    assert got == {f"f{size}": (size, hashlib.sha256((tmp_path / f"f{size}").read_bytes())
                                .hexdigest()) for size in sizes}


def test_the_scans_are_the_c_ones_unless_switched_off():
    code = ("from suite.provenance import capture as c; print(c.flat_sigs is c.flat_sigs_python,"
            " c.flat_changes is c.flat_changes_python)")
    built = "suite.provenance._capture" not in native.missing()
    for env, expect in (({"SUITE_PURE_PYTHON": "1"}, "True True"),
                        ({"SUITE_PURE_PYTHON": "0"}, f"{not built} {not built}")):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, **env}, check=True).stdout
        assert out.strip() == expect


def test_flat_changes_text_of_a_long_list_then_a_short_one(tmp_path):
    need()
    big, small = tmp_path / "big", tmp_path / "small"
    big.mkdir()
    small.mkdir()
    for i in range(1200):  # ~130 KB of text: past the buffer kept between calls
        (big / f"output-{i:05d}-{'x' * 20}.dat").write_bytes(b"%d" % i)
    (small / "a\"b\\é.txt").write_text("1")
    for root in (big, small, big):
        text = capture.flat_changes_text("j", str(root), {"gone": (0, 0, 0, 0)})
        assert text == capture.flat_changes_text_python("j", str(root), {"gone": (0, 0, 0, 0)})
        assert len(json.loads(f"[{text}]")) == len(os.listdir(root)) + 1


# what a scan before may hold besides flat_sigs' own (name: four ints): the C fast path takes
# only that, anything else goes the slow way; both must give the reference's text
ODD_SIGS = st.one_of(
    st.tuples(st.integers(-2, 2**64 + 1), st.integers(-2**63 - 1, 2**63),
              st.integers(-1, 2**63), st.integers(-1, 2**64)),
    st.tuples(st.floats(allow_nan=False, width=32), st.just(0), st.just(0), st.just(0)),
    st.tuples(st.booleans(), st.just(0), st.just(0), st.just(0)),
    st.lists(st.integers(0, 3), max_size=5).map(tuple),
    st.none())
ODD_NAMES = st.sampled_from(["out.txt", "b", "résumé.json", os.fsdecode(b"\xff\xfe.bin"),
                             "\udcc3\udca9", "\ud800x", "a\0b", "é"])


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.dictionaries(NAMES, st.tuples(st.just("file"), st.sampled_from([0, 3, 4097])),
                               max_size=5),
       old=st.dictionaries(ODD_NAMES, ODD_SIGS, max_size=4), exact=st.booleans())
def test_flat_changes_text_agrees_for_any_scan_before(tmp_path_factory, entries, old, exact):
    mod = need()
    root = str(tmp_path_factory.mktemp("jobs") / "job")
    make(root, entries)
    if exact:  # the files' own signatures for some names (unchanged, so left out)
        old.update(capture.flat_sigs_python(root)[0])
    want = outcome(capture.flat_changes_text_python, "job", root, old)
    got = outcome(mod.flat_changes_text, "job", root, old)
    if want[0] == "error" or isinstance(want[1], BaseException):
        assert got[:2] == want[:2]
    else:
        assert got == want


def test_flat_changes_text_of_a_name_that_encodes_to_another_name(tmp_path):
    # "\udcc3\udca9" encodes (surrogateescape) to the bytes of "é", yet is another name: the
    # file é.txt is new and the old name is gone, as the reference says
    need()
    (tmp_path / "é").write_text("x")
    old = {"\udcc3\udca9": (1, 0, 0, 0)}
    text = capture.flat_changes_text("j", str(tmp_path), old)
    assert text == capture.flat_changes_text_python("j", str(tmp_path), old)
    assert [f.get("removed", False) for f in json.loads(f"[{text}]")] == [False, True]


def test_more_large_files_than_the_scan_keeps_open(tmp_path):
    # the scan after keeps a file of more than one read open from its first read to its
    # hashing, for a limited number of them (KEEP_OPEN in _capture.c: 16); past that they are
    # opened again. Every one must come out with its own size and hash, in name order, new
    # and rewritten ones alike, as the reference gives them.
    need()
    sizes = [CHUNK, CHUNK + 1, 2 * CHUNK, 3 * CHUNK - 7]
    for i in range(40):
        size = sizes[i % len(sizes)]
        (tmp_path / f"big{i:02d}").write_bytes(bytes([i]) * size)
    (tmp_path / "small").write_bytes(b"s")
    before = capture.flat_sigs_python(str(tmp_path))[0]
    open_fds = len(os.listdir("/proc/self/fd")) if os.path.isdir("/proc/self/fd") else None
    for i in range(0, 40, 3):  # rewritten: another content, the same size
        (tmp_path / f"big{i:02d}").write_bytes(bytes([i + 100]) * sizes[i % len(sizes)])
        os.utime(tmp_path / f"big{i:02d}", ns=(1, 1))
    for old in ({}, before):
        text = capture.flat_changes_text("j", str(tmp_path), old)
        assert text == capture.flat_changes_text_python("j", str(tmp_path), old)
        got = json.loads(f"[{text}]")
        assert all(e["sha256"] == hashlib.sha256((tmp_path / e["path"]).read_bytes())
                   .hexdigest() for e in got)
        assert len(got) == (41 if not old else 14)
    if open_fds is not None:  # none left open
        assert len(os.listdir("/proc/self/fd")) == open_fds


def outcome_or_type(fn, *args):
    """outcome(), and the type of any other exception (a lone surrogate in what is put in as
    it is cannot be encoded)."""
    try:
        return outcome(fn, *args)
    except Exception as exc:
        return "error", type(exc)


# the fields of a record line around its files: text that JSON escapes, floats of any kind
TEXTS = st.text(max_size=12) | st.sampled_from(["first", "success", "failure", 'a "q"\n\\',
                                                "\u2603", "\ud800", "é"])
FLOATS = st.floats(allow_nan=True, allow_infinity=True) | st.sampled_from(
    [0.0, -0.0, 1e16, 1.7e9 + 0.123456, 1e-7, 5e-324])


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=ENTRIES, fates=FATES, operation=TEXTS, jobs=st.lists(TEXTS, max_size=3),
       start=FLOATS, end=FLOATS, status=TEXTS, error=st.none() | TEXTS, job=TEXTS,
       shared=st.sampled_from(['"host": "h", "tags": []', "", "\u00e9", "\ud800"]),
       write=st.booleans(), threads=st.booleans())
def test_record_line_agrees_with_the_python_reference(tmp_path_factory, entries, fates,
                                                      operation, jobs, start, end, status,
                                                      error, job, shared, write, threads):
    # the scan after and the whole line in one C call: the bytes the reference writes (the
    # line capture.Capture.line writes), or the same error, for any directory and fields
    mod = need()
    root = str(tmp_path_factory.mktemp("jobs") / "job")
    make(root, entries)
    found = capture.flat_sigs_python(root)
    old = {}
    for (name, sig), fate in zip(sorted((found or ({}, False))[0].items()), fates,
                                 strict=False):
        if fate in ("same", "gone"):
            old[name] = sig if fate == "same" else (1, 2, 3, 4)
        if fate == "gone":
            os.remove(os.path.join(root, name))
    written = []
    if write and found is not None:  # suite's writer wrote the document here
        from suite import jsonio

        st_ = jsonio.write_atomic(os.path.join(root, layout.DOCUMENT), b'{"step": 1}')
        written.append((os.path.join(root, layout.DOCUMENT), b'{"step": 1}', st_))
    args = ("0123456789abcdef0123456789abcdef", operation, jobs, start, end, status, error,
            job, root, old, written, shared)
    want = outcome_or_type(capture.record_line_python, *args)
    with other_thread(threads):
        got = outcome_or_type(mod.record_line, *args)
    if want[0] == "value" and isinstance(want[1], bytes):
        assert got == want
        files = capture.flat_changes_text_python(job, root, old, written)
        assert want[1].endswith(f'"files": [{files}], {shared}}}\n'.encode())
    else:
        assert got[:2] == want[:2]


def test_record_line_refuses_other_types_and_names_a_removed_directory(tmp_path):
    mod = need()
    good = ["id", "op", ["j"], 1.0, 2.0, "success", None, "j", str(tmp_path), {}, [], ""]
    assert mod.record_line(*good).startswith(b'{"id": "id", "operation": "op"')
    for at, bad in [(2, ("j",)), (2, [1]), (3, 1), (4, "2"), (6, b"e"), (9, []), (10, ()),
                    (11, b""), (0, None)]:
        args = list(good)
        args[at] = bad
        with pytest.raises(TypeError):
            mod.record_line(*args)
    with pytest.raises(TypeError):
        mod.record_line(*good[:11])
    # a job directory the operation removed: its files are listed as removed, as the
    # reference lists them
    args = list(good)
    args[8], args[9] = str(tmp_path / "gone"), {"out.txt": (1, 2, 3, 4)}
    assert mod.record_line(*args) == capture.record_line_python(*args)
    assert b'"removed": true' in mod.record_line(*args)
    os.mkdir(tmp_path / "sub")  # not flat: the caller walks the tree
    args = list(good)
    assert mod.record_line(*args) is None and capture.record_line_python(*args) is None


def test_records_made_in_threads_at_once_are_each_their_own(tmp_path):
    """``record_line`` and ``flat_changes_text`` in four threads at once (a parallel run's
    workers): the scans release the GIL, and each call's text must stay its own (a text
    buffer shared between calls mixed the lines of two jobs and freed memory twice)."""
    import threading

    mod = need()
    calls = []
    for k in range(4):
        root = tmp_path / f"job{k}"
        root.mkdir()
        for i in range(150):  # new files: each is hashed, the GIL released meanwhile
            (root / f"out{i:03d}-{k}.txt").write_bytes(f"{k} {i}\n".encode() * (k + 1))
        args = [f"id{k}", f"op{k}", [f"j{k}"], 1.0 + k, 2.5 + k, "success", None, f"j{k}",
                str(root), {}, None, f'"host": "h{k}"']
        calls.append((args, capture.record_line_python(*args),
                      capture.flat_changes_text_python(*args[7:11])))
    bad, start = [], threading.Barrier(len(calls))

    def work(args, line, text):
        start.wait()
        for _ in range(25):
            if mod.record_line(*args) != line or mod.flat_changes_text(*args[7:11]) != text:
                bad.append(args[0])

    threads = [threading.Thread(target=work, args=call) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(json.loads(line)["id"] == args[0] for args, line, _ in calls)
    assert not bad, f"lines not their own in {sorted(set(bad))}"
