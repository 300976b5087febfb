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
