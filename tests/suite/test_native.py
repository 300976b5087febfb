"""The optional C modules (suite/native.py): built where CI runs, switched off by
SUITE_PURE_PYTHON, and giving the same answers as their pure-Python references."""

import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite import layout, native
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


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(jobs=JOBS)
def test_stat_changed_agrees_with_the_python_reference(tmp_path_factory, jobs):
    mod = need(fsstat)
    ws = str(tmp_path_factory.mktemp("ws"))
    rows = []
    for i, (kind, sig_kind) in enumerate(jobs):
        job = f"{i:032x}"
        if kind == "notdir":  # the job "directory" is a file: the document cannot be there
            open(os.path.join(ws, job), "w").close()
        elif kind != "nodir":
            os.mkdir(os.path.join(ws, job))
        path = os.path.join(ws, job, DOC)
        sig = None
        if kind == "file":
            with open(path, "w") as f:
                f.write("{}" * i)
            s = os.stat(path)
            sig = (s.st_mtime_ns, s.st_size, s.st_ino)
        elif sig_kind != "none":
            sig = (1, 2, 3)
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
