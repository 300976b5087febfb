"""suite.index._readmany (reading job files in C) against its Python reference
(suite.index.reading.read_at_python), on generated directories, error cases included."""

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite import native
from suite.index import reading
from tests.conftest import skip_or_fail

readmany = native.load("suite.index._readmany")
NAME = "signac_statepoint.json"
# one job: what stands under its file's name, and the file's bytes where it is a file
KINDS = st.sampled_from(["file", "missing", "nodir", "notdir", "dir", "fifo", "unreadable",
                         "link", "dangling"])
JOBS = st.lists(st.tuples(KINDS, st.binary(max_size=9000)), max_size=25)
LIMITS = st.sampled_from([None, 0, 1, 100, 4096, 8192, -1, 2**70, -(2**70)])


def need():
    if readmany is None:
        skip_or_fail("the native modules are not built here (python setup.py build_ext --inplace)")
    return readmany


def _make(ws, jobs):
    names = []
    for i, (kind, data) in enumerate(jobs):
        job = f"{i:032x}"
        names.append(job)
        if kind == "nodir":
            continue
        if kind == "notdir":  # the job "directory" is a file
            open(os.path.join(ws, job), "wb").close()
            continue
        os.mkdir(os.path.join(ws, job))
        path = os.path.join(ws, job, NAME)
        if kind == "dir":
            os.mkdir(path)
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind in ("link", "dangling"):
            target = os.path.join(ws, job, "target")
            if kind == "link":
                with open(target, "wb") as f:
                    f.write(data)
            os.symlink(target, path)
        elif kind != "missing":
            with open(path, "wb") as f:
                f.write(data)
            if kind == "unreadable":  # as root, mode 0 still reads: ELOOP instead
                os.unlink(path)
                os.symlink(path, path)
    return names


def _comparable(results):
    out = []
    for data, sig in results:
        if isinstance(data, OSError):
            data = (type(data), data.errno, data.strerror, data.filename)
        out.append((data, sig))
    return out


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(jobs=JOBS, limit=LIMITS, signed=st.booleans())
def test_read_at_agrees_with_the_python_reference(tmp_path_factory, jobs, limit, signed):
    mod = need()
    ws = str(tmp_path_factory.mktemp("ws"))
    names = _make(ws, jobs)
    fd = os.open(ws, os.O_RDONLY | os.O_DIRECTORY)
    try:
        got = mod.read_at(fd, names, "/" + NAME, limit, ws, reading.TOO_BIG, signed)
        want = reading.read_at_python(fd, names, "/" + NAME, limit, ws, reading.TOO_BIG,
                                      signed=signed)
        if signed:  # the default
            assert _comparable(mod.read_at(fd, names, "/" + NAME, limit, ws,
                                           reading.TOO_BIG)) == _comparable(got)
    finally:
        os.close(fd)
    assert _comparable(got) == _comparable(want)
    if not signed:
        assert all(sig is None for _, sig in got)
    for (data, _), (kind, raw) in zip(got, jobs, strict=True):  # and both are right
        if kind in ("file", "link") and data is not reading.TOO_BIG:
            assert data == raw
        if data is reading.TOO_BIG and kind in ("file", "link"):
            assert limit is not None and len(raw) > limit


def _readers():
    def native_read(fd, names):
        return need().read_at(fd, names, "/" + NAME, None, "/w", reading.TOO_BIG, False)

    def python_read(fd, names):
        return reading.read_at_python(fd, names, "/" + NAME, None, "/w", reading.TOO_BIG,
                                      signed=False)

    return [native_read, python_read]


def _available_readers():
    """The readers that run here: the C one only where it is loaded (not built, or
    SUITE_PURE_PYTHON=1, leaves the Python reference alone)."""
    readers = _readers()
    return readers if readmany is not None else readers[1:]


@pytest.mark.parametrize("which", [0, 1])
def test_reading_leaves_the_access_times(tmp_path, which):
    """A first index build reads each file once: the reads must not write each file's access
    time (relatime would, for files written since their last read)."""
    read = _readers()[which]
    names = _make(str(tmp_path), [("file", b'{"a": 1}')] * 3)
    old = 1_000_000_000
    for n in names:
        path = tmp_path / n / NAME
        os.utime(path, ns=(old * 10**9, os.stat(path).st_mtime_ns))
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        got = read(fd, names)
    finally:
        os.close(fd)
    assert [d for d, _ in got] == [b'{"a": 1}'] * 3
    if not hasattr(os, "O_NOATIME"):
        pytest.skip("no O_NOATIME here")
    assert [os.stat(tmp_path / n / NAME).st_atime_ns for n in names] == [old * 10**9] * 3


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="needs root to read as another user")
def test_reading_files_of_another_owner(tmp_path):
    """O_NOATIME is refused (EPERM) for a file its reader does not own: the files are read
    without it, by both readers, and a file the reader may not read is still an error.
    Under SUITE_PURE_PYTHON=1 (or where the C module is not built) the Python reader alone."""
    ws = tmp_path / "ws"
    ws.mkdir()
    names = _make(str(ws), [("file", b'{"a": 1}'), ("file", b'{"b": 2}'), ("file", b"x")])
    os.chmod(ws / names[2] / NAME, 0o600)  # not readable by others
    for p in (ws, *(ws / n for n in names)):
        os.chmod(p, 0o755)
    # imported and the workspace opened before the user changes: the interpreter's files and
    # the test's directories may not be readable by it
    code = ("import json, os, sys; from tests.suite.test_readmany import _available_readers; "
            "fd = os.open(sys.argv[1], os.O_RDONLY | os.O_DIRECTORY); "
            "os.setgid(65534); os.setuid(65534); "
            "print(json.dumps([[d.decode() if isinstance(d, bytes) else "
            "[type(d).__name__, d.errno, d.filename] for d, _ in r(fd, sys.argv[2:])] "
            "for r in _available_readers()]))")
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    out = subprocess.run([sys.executable, "-c", code, str(ws), *names], cwd=root,
                         capture_output=True, text=True, check=True).stdout
    want = ['{"a": 1}', '{"b": 2}', ["PermissionError", 13, f"/w/{names[2]}/{NAME}"]]
    assert json.loads(out) == [want] * len(_available_readers())


def test_read_at_refuses_what_is_not_a_name():
    mod = need()
    fd = os.open("/", os.O_RDONLY | os.O_DIRECTORY)
    try:
        for names, exc in (([1], TypeError), (["a\0b"], ValueError), (5, TypeError)):
            with pytest.raises(exc):
                mod.read_at(fd, names, "/x", None, "/", b"")
            if not isinstance(names, int):
                with pytest.raises(exc):
                    reading.read_at_python(fd, names, "/x", None, "/", b"")
        with pytest.raises(ValueError):
            mod.read_at(fd, ["a"], "/x\0", None, "/", b"")
        # a closed or wrong descriptor: every file is an error naming its path
        [(err, sig)] = mod.read_at(-1, ["a"], "/x", None, "/w", b"")
        assert isinstance(err, OSError) and err.filename == "/w/a/x" and sig == "none"
    finally:
        os.close(fd)


def test_the_index_reads_the_same_without_the_native_module(tmp_path):
    """A project indexed with SUITE_PURE_PYTHON=1 answers as with the C reader."""
    code = ("import json, suite; p = suite.get_project(); "
            "print(json.dumps([p.find_jobs({'a': {'$gte': 0}}).ids(), "
            "p.find_jobs({'doc.x': 1}).ids(), sorted(p.index.problems)]))")
    import suite

    p = suite.init_project(tmp_path / "p")
    for i in range(30):
        p.open_job({"a": i}).init().doc.x = i % 3
    with open(p.open_job({"a": 0}).fn("signac_job_document.json"), "w") as f:
        f.write("{broken")
    outs = []
    for pure in ("0", "1"):
        if os.path.exists(p.fn(".suite/index.sqlite")):
            os.unlink(p.fn(".suite/index.sqlite"))
        outs.append(subprocess.run([sys.executable, "-c", code], cwd=p.path, check=True,
                                   capture_output=True, text=True,
                                   env={**os.environ, "SUITE_PURE_PYTHON": pure}).stdout)
    assert outs[0] == outs[1] and len(outs[0]) > 100
