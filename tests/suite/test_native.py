"""The optional C modules (suite/native.py): built where CI runs, switched off by
SUITE_PURE_PYTHON, and giving the same answers as their pure-Python references."""

import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite import dirscan, layout, native
from suite.index import freshness
from tests.conftest import skip_or_fail

fsstat = native.load("suite._fsstat")


def need(module):
    if module is None:
        skip_or_fail("the native modules are not built here (python setup.py build_ext --inplace)")
    return module


def test_every_native_module_is_built_where_services_are_required():
    if native.missing():
        skip_or_fail(f"not built: {', '.join(native.missing())}")
    assert native.missing() == []


def test_pure_python_switch_turns_native_modules_off():
    code = "from suite import native; print(native.load('suite._fsstat'))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "SUITE_PURE_PYTHON": "1"}, check=True).stdout
    assert out.strip() == "None"
    assert native.load("suite._no_such_module") is None


DOC = layout.DOCUMENT
# one job: (document exists?, signature kind) where kind is "same", "none", "mtime", "size",
# "inode", "list" (a signature of another shape), "huge" (past 64 bits)
JOBS = st.lists(st.tuples(st.sampled_from(["file", "missing", "nodir", "notdir"]),
                          st.sampled_from(["same", "none", "mtime", "size", "inode", "list",
                                           "huge"])),
                max_size=30)


def _make_job(ws, i, kind, sig_kind):
    """Job ``i`` of ``kind`` made in ``ws``: its id and its document's signature (the real one
    for "file", a made-up one otherwise unless ``sig_kind`` is "none")."""
    job = f"{i:032x}"
    if kind == "notdir":  # the job "directory" is a file: the document cannot be there
        open(os.path.join(ws, job), "w").close()
    elif kind != "nodir":
        os.mkdir(os.path.join(ws, job))
    sig = None
    if kind == "file":
        path = os.path.join(ws, job, DOC)
        with open(path, "w") as f:
            f.write("{}" * i)
        s = os.stat(path)
        sig = (s.st_mtime_ns, s.st_size, s.st_ino)
    elif sig_kind != "none":
        sig = (1, 2, 3)
    return job, sig


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(jobs=JOBS)
def test_stat_changed_agrees_with_the_python_reference(tmp_path_factory, jobs):
    mod = need(fsstat)
    ws = str(tmp_path_factory.mktemp("ws"))
    rows = []
    for i, (kind, sig_kind) in enumerate(jobs):
        job, sig = _make_job(ws, i, kind, sig_kind)
        if sig is not None:
            sig = {"same": sig, "none": None, "mtime": (sig[0] + 1, *sig[1:]),
                   "size": (sig[0], sig[1] + 1, sig[2]), "inode": (*sig[:2], sig[2] + 1),
                   "list": list(sig), "huge": (2**70, *sig[1:])}[sig_kind]
        rows.append((job, sig))
    fd = os.open(ws, os.O_RDONLY | os.O_DIRECTORY)
    try:
        got = mod.stat_changed(fd, rows, "/" + DOC)
    finally:
        os.close(fd)
    assert got == freshness.stat_changed_python(rows, ws)


@pytest.mark.parametrize("name", ["a" * 300, "a" * 5000])
def test_stat_changed_raises_what_python_raises_for_a_name_too_long(tmp_path, name):
    mod = need(fsstat)
    rows = [(name, None)]
    with pytest.raises(OSError) as reference:
        freshness.stat_changed_python(rows, str(tmp_path))
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(OSError) as native_error:
            mod.stat_changed(fd, rows, "/" + DOC)
    finally:
        os.close(fd)
    assert native_error.value.errno == reference.value.errno
    assert name in str(native_error.value)


def test_stat_changed_rejects_rows_of_another_shape(tmp_path):
    mod = need(fsstat)
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        with pytest.raises(TypeError):
            mod.stat_changed(fd, [["0" * 32, None]], "/" + DOC)
        with pytest.raises(TypeError):
            mod.stat_changed(fd, [(5, None)], "/" + DOC)
    finally:
        os.close(fd)


ENTRY = st.tuples(st.sampled_from(["file", "dir", "link", "dangling", "fifo"]),
                  st.binary(min_size=1, max_size=12).filter(
                      lambda b: b"/" not in b and b"\0" not in b and b not in (b".", b"..")))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(ENTRY, max_size=20, unique_by=lambda e: e[1]))
def test_scan_dir_agrees_with_the_python_reference(tmp_path_factory, entries):
    mod = need(fsstat)
    root = tmp_path_factory.mktemp("scan")
    for kind, raw in entries:
        path = os.path.join(os.fsencode(root), raw)
        if kind == "file":
            with open(path, "wb") as f:
                f.write(raw * 3)
        elif kind == "dir":
            os.mkdir(path)
        elif kind == "link":
            os.symlink(b".", path)
        elif kind == "dangling":
            os.symlink(b"nowhere/" + raw, path)
        else:
            os.mkfifo(path)
    got = mod.scan_dir(str(root))
    assert sorted(got) == sorted(dirscan.scan_dir_python(str(root)))
    assert len(got) == len(entries)


@pytest.mark.parametrize("what", ["missing", "file", "trailing slash"])
def test_scan_dir_raises_what_python_raises(tmp_path, what):
    mod = need(fsstat)
    (tmp_path / "f").write_text("x")
    path = {"missing": str(tmp_path / "gone"), "file": str(tmp_path / "f"),
            "trailing slash": str(tmp_path) + "/"}[what]
    if what == "trailing slash":
        assert sorted(mod.scan_dir(path)) == sorted(dirscan.scan_dir_python(path))
        return
    with pytest.raises(OSError) as reference:
        dirscan.scan_dir_python(path)
    with pytest.raises(type(reference.value)) as native_error:
        mod.scan_dir(path)
    assert native_error.value.errno == reference.value.errno
    assert native_error.value.filename == reference.value.filename == path


def test_scan_dir_is_the_native_one_unless_switched_off():
    code = "from suite import dirscan; print(dirscan.scan_dir is dirscan.scan_dir_python)"
    for env, expect in (({"SUITE_PURE_PYTHON": "1"}, "True"),
                        ({"SUITE_PURE_PYTHON": "0"}, str("suite._fsstat" in native.missing()))):
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             env={**os.environ, **env}, check=True).stdout
        assert out.strip() == expect


# one name of regular_files: what is at that path ("file", "dir", a symbolic link to a file, to
# a directory or to nothing, a FIFO, nothing) and how the name is spelled
ENTRIES = st.lists(st.tuples(st.sampled_from(["file", "dir", "link-file", "link-dir", "dangling",
                                              "fifo", "missing"]),
                             st.sampled_from(["plain", "surrogate", "nul", "long component",
                                              "long path", "absolute", "dots"])),
                   max_size=25)


def _make(root, i, kind, spelling):
    """Create entry ``i`` of ``kind`` under ``root`` and return its name as spelled."""
    base = f"e{i}" + ("-\udcff" if spelling == "surrogate" else "")
    path = os.path.join(root, base)
    if kind == "file":
        open(path, "w").close()
    elif kind == "dir":
        os.mkdir(path)
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind != "missing":
        target = {"link-file": "e-target-file", "link-dir": "e-target-dir",
                  "dangling": "e-no-such"}[kind]
        os.symlink(target, path)
    name = {"nul": base + "\0x", "long component": base + "x" * 300,
            "long path": "/".join([base] * 900), "absolute": path,
            "dots": f"./{base}/../{base}"}.get(spelling, base)
    return name


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=ENTRIES, suffix=st.sampled_from(["", "/", "/x", "\0"]),
       where=st.sampled_from(["fd", "cwd", "file fd"]))
def test_regular_files_agrees_with_the_python_reference(tmp_path_factory, entries, suffix, where):
    from suite.flow import scan

    mod = need(fsstat)
    root = str(tmp_path_factory.mktemp("files"))
    open(os.path.join(root, "e-target-file"), "w").close()
    os.mkdir(os.path.join(root, "e-target-dir"))
    names = [_make(root, i, kind, spelling) for i, (kind, spelling) in enumerate(entries)]
    if where == "cwd":  # relative names then resolve against the working directory
        names = [n if n.startswith("/") else os.path.join(root, n) for n in names]
    opened = None
    if where != "cwd":
        flags = os.O_RDONLY | (os.O_DIRECTORY if where == "fd" else 0)
        opened = os.open(root if where == "fd" else os.path.join(root, "e-target-file"), flags)
    try:
        got = mod.regular_files(opened, names, suffix)
        want = scan.regular_files_python(opened, names, suffix)
    finally:
        if opened is not None:
            os.close(opened)
    assert got == want
    assert all(type(v) is bool for v in got)
    if suffix == "" and where != "file fd":  # and both are what os.path.isfile says
        base = root if where == "fd" else ""
        assert got == [os.path.isfile(os.path.join(base, n)) for n in names]


@pytest.mark.parametrize("bad", [b"e0", 5, None])
def test_regular_files_rejects_a_name_that_is_not_a_str(tmp_path, bad):
    from suite.flow import scan

    mod = need(fsstat)
    with pytest.raises(TypeError):
        scan.regular_files_python(None, [str(tmp_path), bad], "")
    with pytest.raises(TypeError):
        mod.regular_files(None, [str(tmp_path), bad], "")
    with pytest.raises(TypeError):
        mod.regular_files(None, 5, "")


def _outcome(fn, *args):
    """What a call gave: its value, or its exception's type and errno."""
    try:
        return "value", fn(*args)
    except Exception as exc:  # noqa: BLE001 - compared, whatever it is
        return type(exc), getattr(exc, "errno", None)


def _many_jobs(ws, n, seed):
    """``n`` jobs under ``ws`` (more than one block of the C loop), some without a document,
    some with another signature recorded; rows as the index gives them."""
    import random

    rnd = random.Random(seed)
    rows = []
    for i in range(n):
        job = f"{i:032x}"
        os.mkdir(os.path.join(ws, job))
        sig = None
        if rnd.random() < 0.8:
            path = os.path.join(ws, job, DOC)
            with open(path, "w") as f:
                f.write("{}")
            s = os.stat(path)
            sig = (s.st_mtime_ns, s.st_size, s.st_ino)
        roll = rnd.random()
        if roll < 0.05:
            sig = None if sig else (1, 2, 3)
        elif roll < 0.1 and sig:
            sig = (sig[0], sig[1] + 1, sig[2])
        rows.append((job, sig))
    return rows


@pytest.mark.parametrize("bad_at", [None, 0, 1023, 1024, 2500])
@pytest.mark.parametrize("bad", ["loop", "nul", "not a str", "shape"])
def test_stat_changed_over_many_blocks_raises_first_what_the_reference_raises_first(
        tmp_path, bad_at, bad):
    """Past one block of the C loop (1,024 files) the answers agree; a problem row (a
    symbolic-link loop: OSError, a NUL: ValueError, an id that is not a str or a row of another
    shape: TypeError) anywhere raises what the reference raises, the first of two first."""
    mod = need(fsstat)
    ws = str(tmp_path)
    rows = _many_jobs(ws, 2600, seed=bad_at or 7)
    os.symlink("loop", os.path.join(ws, "loop"))
    problem = {"loop": ("loop", None), "nul": ("a\0b", None), "not a str": (5, None),
               "shape": ("x", None, None)}[bad]
    if bad_at is not None:
        rows.insert(bad_at, problem)
        # a symbolic-link loop after it: the first problem is the one raised
        rows.insert(bad_at + 3, ("loop", None))
    fd = os.open(ws, os.O_RDONLY | os.O_DIRECTORY)
    try:
        got = _outcome(mod.stat_changed, fd, rows, "/" + DOC)
    finally:
        os.close(fd)
    want = _outcome(freshness.stat_changed_python, rows, ws)
    if bad == "shape" and bad_at is not None:  # the reference unpacks: ValueError, C: TypeError
        assert got[0] is TypeError and want[0] is ValueError
        return
    assert got == want
    if bad_at is None:
        assert got[0] == "value" and len(got[1]) > 100  # the changed ones were found
    else:
        assert got[0] is not None and got[0] != "value"


def test_regular_files_over_many_blocks_agrees_with_the_reference(tmp_path):
    from suite.flow import scan

    mod = need(fsstat)
    ws = str(tmp_path)
    rows = _many_jobs(ws, 2600, seed=3)
    names = [os.path.join(ws, job) for job, _ in rows]
    got = mod.regular_files(None, names, "/" + DOC)
    assert got == scan.regular_files_python(None, names, "/" + DOC)
    assert 0 < sum(got) < len(got)


@pytest.mark.parametrize("cores, load, running, idle", [
    (2, 0.1, 1, True),  # a quiet machine
    (2, 1.05, 1, True),  # this command run again and again: its own load, alone now
    (2, 1.05, 2, False),  # another task running now
    (2, 1.6, 1, False),  # others kept more than half a core busy this last minute
    (2, 7.5, 9, False),  # a busy machine
    (1, 0.0, 1, False),  # one core: no second one
    (4, 3.4, 3, True),  # two others running, a fourth core idle
    (4, 3.4, 4, False),
    (2, 0.5, None, True),  # no count of tasks (not Linux): the load average alone
    (2, 1.05, None, False),
])
def test_core_idle_counts_this_command_s_own_load(cores, load, running, idle):
    assert native.core_idle(cores, load, running) is idle


def test_idle_core_reads_this_machine():
    with open("/proc/loadavg") as f:
        fields = f.read().split()
    assert int(fields[3].split("/")[0]) >= 1  # the reading task itself is counted
    assert native.idle_core() in (True, False)


@pytest.mark.parametrize("ways", [2, 3, 4, 8])
def test_in_threads_gives_one_call_s_answer_and_raises_in_its_order(monkeypatch, ways):
    import threading

    monkeypatch.setattr(native, "THREADS_MIN", 4)
    seen = set()

    def double(lo, hi):
        seen.add(threading.current_thread().name)  # idents are reused by later threads
        return [x * 2 for x in range(lo, hi)]

    assert native.in_threads(double, 11, ways) == [x * 2 for x in range(11)]
    assert 1 <= len(seen) <= ways  # a thread that starts when every part is taken does none
    seen.clear()
    assert native.in_threads(double, 3, ways) == [0, 2, 4]  # below THREADS_MIN: one call
    assert len(seen) == 1

    def fails_on(*bad):
        def fn(lo, hi):
            for x in range(lo, hi):
                if x in bad:
                    raise ValueError(x)
            return list(range(lo, hi))
        return fn

    for bad, first in [((2, 9), 2), ((9,), 9), ((1, 3), 1), ((9, 6), 6)]:
        with pytest.raises(ValueError) as err:
            native.in_threads(fails_on(*bad), 10, ways)
        assert err.value.args == (first,)


@pytest.mark.skipif(len(os.sched_getaffinity(0)) < 2, reason="one core: no threads")
@pytest.mark.parametrize("ways", [2, 4])
def test_in_threads_a_free_thread_takes_the_parts_a_busy_one_has_not_begun(monkeypatch, ways):
    """Parts are taken in turn, not dealt out beforehand: while the thread holding the first
    part is held up (as the scheduler may hold up a thread on a busy machine), the others do
    every other part, that thread's share included; with one part dealt to each thread the
    held-up one would still own work nobody else may do (the wait below would time out)."""
    import threading

    monkeypatch.setattr(native, "THREADS_MIN", 4)
    n = 4096
    others_done = threading.Event()
    done, lock, who = [0], threading.Lock(), {}

    def part(lo, hi):
        who[lo] = threading.current_thread().name
        if lo == 0:
            assert others_done.wait(30), "the other parts were left to the held-up thread"
        else:
            with lock:
                done[0] += hi - lo
                if done[0] == n - hi_of_first[0]:
                    others_done.set()
        return list(range(lo, hi))

    hi_of_first = [n // (ways * native.PARTS_PER_THREAD)]
    assert native.in_threads(part, n, ways) == list(range(n))
    assert len(who) == ways * native.PARTS_PER_THREAD
    held = who[0]
    assert any(name != held for lo, name in who.items() if lo != 0)


def _packed(rows):
    """Rows (id, signature) packed as the signatures' cache holds them."""
    from suite.index import columns

    sigs = b"".join(columns.PACKED_SIG.pack(*(s if s is not None else (0, -1, 0)))
                    for _, s in rows)
    return "".join(i + " " for i, _ in rows), sigs


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(jobs=JOBS, cut=st.tuples(st.integers(0, 30), st.integers(0, 30)))
def test_stat_changed_packed_agrees_with_its_reference_and_the_rows_check(
        tmp_path_factory, jobs, cut):
    mod = need(fsstat)
    ws = str(tmp_path_factory.mktemp("ws"))
    rows = []
    for i, (kind, sig_kind) in enumerate(jobs):
        job, sig = _make_job(ws, i, kind, sig_kind)
        if sig is not None and sig_kind in ("mtime", "size", "inode"):
            k = ("mtime", "size", "inode").index(sig_kind)
            sig = tuple(v + (k == j) for j, v in enumerate(sig))
        rows.append((job, sig))
    ids, sigs = _packed(rows)
    start, stop = sorted(min(c, len(rows)) for c in cut)
    fd = os.open(ws, os.O_RDONLY | os.O_DIRECTORY)
    try:
        got = mod.stat_changed_packed(fd, ids, 32, sigs, "/" + DOC, start, stop)
        want = freshness.stat_changed_packed_python(fd, ids, 32, sigs, "/" + DOC, start, stop)
    finally:
        os.close(fd)
    assert got == want == freshness.stat_changed_python(rows[start:stop], ws)


@pytest.mark.parametrize("case", ["width", "sigs", "range", "non-ascii", "nul id", "separator",
                                  "nul suffix", "loop", "long suffix", "empty",
                                  "nul outside the rows", "nul in the last row"])
def test_stat_changed_packed_raises_what_its_reference_raises(tmp_path, case):
    mod = need(fsstat)
    ws = str(tmp_path)
    rows = _many_jobs(ws, 40, seed=5)
    os.symlink("l" * 32, os.path.join(ws, "l" * 32))  # a link to itself
    ids, sigs = _packed(rows)
    args = [ids, 32, sigs, "/" + DOC, 0, len(rows)]
    if case == "width":
        args[1] = 31
    elif case == "sigs":
        args[2] = sigs[:-1]
    elif case == "range":
        args[4:] = [5, len(rows) + 1]
    elif case == "non-ascii":
        args[0] = "é" + ids[1:]
    elif case == "nul id":
        args[0] = ids[:40] + "\0" + ids[41:]
    elif case == "separator":  # only the positions count: a missing space is a short text
        args[0] = ids[:-1]
    elif case == "nul suffix":
        args[3] = "/\0"
    elif case == "loop":  # ELOOP: an error that is not "missing", after 20 good rows
        args[0] = ids[:20 * 33] + "l" * 32 + ids[20 * 33 + 32:]
    elif case == "long suffix":
        args[3] = "/" + "x" * 5000
    elif case == "empty":  # nothing to examine: nothing raised, not even for the long suffix
        args = ["", 32, b"", "/" + "x" * 5000, 0, 0]
    elif case == "nul outside the rows":  # rows 0..9 and 31..39 not examined: not looked at
        args[0] = ids[:40] + "\0" + ids[41:35 * 33] + "\0" + ids[35 * 33 + 1:]
        args[4:] = [10, 30]
    elif case == "nul in the last row":  # row 29's last character, rows 10..29
        args[0] = ids[:29 * 33 + 31] + "\0" + ids[29 * 33 + 32:]
        args[4:] = [10, 30]
    fd = os.open(ws, os.O_RDONLY | os.O_DIRECTORY)
    try:
        got = _outcome(mod.stat_changed_packed, fd, *args)
        want = _outcome(freshness.stat_changed_packed_python, fd, *args)
    finally:
        os.close(fd)
    assert got == want
    assert got[0] == ("value" if case in ("empty", "nul outside the rows") else
                      OSError if case in ("loop", "long suffix") else ValueError)


def test_packed_signatures_read_back_as_the_lists(tmp_path):
    """The packed cache holds what the lists hold: no document, inode numbers past 2**63,
    negative times (before 1970) included."""
    import sqlite3

    from suite.index import columns

    db = sqlite3.connect(":memory:")
    db.execute("CREATE TABLE docsig (id TEXT, sig TEXT)")
    sigs = ["none", "1:2:3", f"-5:0:{2**64 - 1}", f"{2**62}:7:{2**63}"]
    db.executemany("INSERT INTO docsig VALUES (?, ?)",
                   [(f"{i:032x}", sig) for i, sig in enumerate(sigs)])
    packed = columns.read_packed_signatures(db)
    assert columns.is_packed(packed)
    assert columns.unpack_signatures(*packed) == columns.read_signatures(db)
    # ids of another width: the lists themselves (never cached in that form)
    db.execute("INSERT INTO docsig VALUES ('short', 'none')")
    assert columns.read_packed_signatures(db) == columns.read_signatures(db)
    assert not columns.is_packed(columns.read_signatures(db))
    # a blob of another shape is made again, never handed to the C loop to refuse
    ids, sigs = packed
    for odd in [(ids[:11], sigs[:8]), (ids + " ", sigs), ("é" + ids[1:], sigs),
                ("\0" + ids[1:], sigs), (ids, sigs + b"x"), (ids, bytearray(sigs)), [ids, sigs]]:
        assert not columns.is_packed(odd)
    db.execute("DELETE FROM docsig")
    assert columns.unpack_signatures(*columns.read_packed_signatures(db)) == ([], [])


def test_setup_builds_exactly_the_modules_native_lists():
    import ast

    with open(os.path.join(os.path.dirname(__file__), "..", "..", "setup.py")) as f:
        tree = ast.parse(f.read())
    headers = next(node.value for node in tree.body if isinstance(node, ast.Assign)
                   and getattr(node.targets[0], "id", None) == "HEADERS")
    assert sorted(ast.literal_eval(headers)) == sorted(native.MODULES)
