"""A job's listing for a sync snapshot (sync/listing.py): the flat path (one scan_dir, native
where built) gives what the walk gives, on generated job directories with links inside and
out, fifos, unreadable files, temporary files, subdirectories and excludes."""

import json
import os
import subprocess
import sys

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite import dirscan, jobfiles, layout, native
from sync import listing
from tests.conftest import skip_or_fail

SKIP = {layout.STATEPOINT, layout.DOCUMENT}

#: the scan_dir variants the flat path is run with: the reference always, C where built
SCANS = [pytest.param(dirscan.scan_dir_python, id="python")]
if native.load("suite._fsstat") is not None:
    SCANS.append(pytest.param(native.load("suite._fsstat").scan_dir, id="native"))

NAMES = st.sampled_from(["a.txt", "b.h5", "out", layout.STATEPOINT, layout.DOCUMENT,
                         f"x{layout.TMP_PREFIX}1", "log.txt", "c"])
ENTRY = st.tuples(NAMES, st.sampled_from(["file", "file000", "link_in", "link_out",
                                           "link_abs", "dangling", "fifo", "dir"]))
EXCLUDES = st.lists(st.sampled_from(["*.txt", "out", "c", "sub/*", "*"]), max_size=2)


def make_job(root, entries, depth=0):
    os.makedirs(root, exist_ok=True)
    for k, (name, kind) in enumerate(entries):
        path = os.path.join(root, name)
        if os.path.lexists(path):
            continue
        if kind.startswith("file"):
            with open(path, "w") as f:
                f.write("x" * k)
            if kind == "file000":
                os.chmod(path, 0)
        elif kind == "link_in":
            with open(path + ".target", "w") as f:
                f.write("t")
            os.symlink(name + ".target", path)
        elif kind == "link_out":
            os.symlink("../" * (depth + 2) + "elsewhere", path)
        elif kind == "link_abs":
            os.symlink("/etc/hostname", path)
        elif kind == "dangling":
            os.symlink("nothing-here", path)
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "dir" and depth < 1:
            make_job(path, entries[k + 1:k + 3], depth + 1)


def both(root, exclude, scan, monkeypatch):
    monkeypatch.setattr(listing, "scan_dir", scan)
    flat, flat_skipped = {}, {}
    flat_links = listing.list_files(root, flat, flat_skipped, SKIP, exclude)
    walked, walked_skipped = {}, {}
    walked_links = listing.list_files_walk(root, walked, walked_skipped, SKIP, exclude)
    return (flat, flat_skipped, flat_links), (walked, walked_skipped, walked_links)


@pytest.mark.parametrize("scan", SCANS)
@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entries=st.lists(ENTRY, max_size=8), exclude=EXCLUDES)
def test_flat_listing_agrees_with_the_walk(tmp_path_factory, monkeypatch, scan, entries,
                                           exclude):
    root = str(tmp_path_factory.mktemp("ws") / ("0" * 32))
    make_job(root, entries)
    flat, walked = both(root, exclude, scan, monkeypatch)
    assert flat == walked


@pytest.mark.parametrize("scan", SCANS)
def test_flat_listing_of_a_plain_job(tmp_path, monkeypatch, scan):
    root = str(tmp_path / "job")
    make_job(root, [(layout.STATEPOINT, "file"), ("out.txt", "file"), ("l", "link_in"),
                    ("away", "link_abs"), ("p", "fifo"), (f"o{layout.TMP_PREFIX}9", "file")])
    (files, skipped, links), walked = both(root, (), scan, monkeypatch)
    assert (files, skipped, links) == walked
    st_out = os.stat(os.path.join(root, "out.txt"))
    assert files["out.txt"] == [st_out.st_size, st_out.st_mtime_ns, st_out.st_ino]
    assert files["l"][3] == "l.target" and links == 1
    assert skipped == {"away": jobfiles.LINK_LEAVES, "p": jobfiles.SPECIAL}


@pytest.mark.parametrize("scan", SCANS)
def test_missing_job_directory_raises(tmp_path, monkeypatch, scan):
    monkeypatch.setattr(listing, "scan_dir", scan)
    with pytest.raises(FileNotFoundError):
        listing.list_files(str(tmp_path / "gone"), {}, {}, SKIP, ())


LISTING = native.load("sync._listing")
JOB_KINDS = st.lists(st.tuples(NAMES, st.sampled_from(["file", "file", "file000", "link_in",
                                                        "fifo", "dir"])), max_size=4)
#: a workspace: job names (with odd ones: a file, a link to a job, a missing one) and entries
WORKSPACE = st.lists(st.tuples(st.sampled_from(["job", "plain", "file", "link", "missing"]),
                               JOB_KINDS), max_size=6)


def make_workspace(ws, jobs):
    names = []
    for k, (kind, entries) in enumerate(jobs):
        name = f"{k:032x}"
        names.append(name)
        if kind == "job":
            make_job(os.path.join(ws, name), entries)
        elif kind == "plain":
            make_job(os.path.join(ws, name), [e for e in entries if e[1] == "file"])
        elif kind == "file":
            open(os.path.join(ws, name), "w").close()
        elif kind == "link":
            os.makedirs(os.path.join(ws, "real"), exist_ok=True)
            os.symlink("real", os.path.join(ws, name))
    return names


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(jobs=WORKSPACE, many=st.booleans())
def test_list_jobs_agrees_with_the_python_reference(tmp_path_factory, jobs, many):
    if LISTING is None:
        skip_or_fail("sync._listing is not built here (python setup.py build_ext --inplace)")
    ws = str(tmp_path_factory.mktemp("ws"))
    names = make_workspace(ws, jobs)
    if many:  # past MAX_FILES: listed by Python
        make_job(os.path.join(ws, "f" * 32), [(f"f{i}", "file") for i in
                                                range(listing.MAX_FILES + 1)])
        names.append("f" * 32)
    names += ["../x", "", "a\x00b"]  # never joined into a path that leaves the workspace
    args = (ws, names, tuple(SKIP), layout.TMP_PREFIX)
    got = LISTING.list_jobs(*args)
    assert got == listing.list_jobs_python(*args)
    listed, rest = got
    assert sorted([*listed, *rest]) == sorted(names)
    docs = {name: {"n": k} for k, name in enumerate(names[::2])}
    with_docs = LISTING.list_jobs(*args, docs)
    assert with_docs == listing.list_jobs_python(*args, docs)
    assert with_docs == ({name: {"files": files, "doc": docs.get(name, {})}
                          for name, files in listed.items()}, rest)
    for name, job in with_docs[0].items():  # a job's own document, or its own empty one
        assert job["doc"] is docs[name] if name in docs else job["doc"] == {}
    empties = [id(job["doc"]) for name, job in with_docs[0].items() if name not in docs]
    assert len(set(empties)) == len(empties)  # never one {} shared: a merge may fill it
    for name, files in listed.items():  # what the walk finds, where it finds nothing odd
        walked, skipped = {}, {}
        assert listing.list_files_walk(os.path.join(ws, name), walked, skipped, SKIP, ()) == 0
        assert (files, skipped) == (walked, {})


def test_list_jobs_errors_and_arguments(tmp_path):
    for impl in filter(None, [LISTING and LISTING.list_jobs, listing.list_jobs_python]):
        with pytest.raises(FileNotFoundError):
            impl(str(tmp_path / "gone"), ["a"], (), layout.TMP_PREFIX)
        with pytest.raises(NotADirectoryError):
            open(tmp_path / "f", "w").close()
            impl(str(tmp_path / "f"), ["a"], (), layout.TMP_PREFIX)
        assert impl(str(tmp_path), [], (), layout.TMP_PREFIX) == ({}, [])
    if LISTING is not None:
        with pytest.raises(TypeError):
            LISTING.list_jobs(str(tmp_path), [1], (), layout.TMP_PREFIX)
        with pytest.raises(TypeError):
            LISTING.list_jobs(str(tmp_path), ["a"], (1,), layout.TMP_PREFIX)
        with pytest.raises(ValueError):
            LISTING.list_jobs(str(tmp_path), ["a"], ("a",) * 9, layout.TMP_PREFIX)
        with pytest.raises(ValueError):
            LISTING.list_jobs(str(tmp_path), ["a"], (), "")
        with pytest.raises(TypeError):
            LISTING.list_jobs(str(tmp_path), ("a",), (), layout.TMP_PREFIX)
    for impl in filter(None, [LISTING and LISTING.list_jobs, listing.list_jobs_python]):
        with pytest.raises(TypeError):
            impl(str(tmp_path), ["a"], (), layout.TMP_PREFIX, [])


NO_DAC = ["setpriv", "--inh-caps=-dac_override,-dac_read_search",
          "--bounding-set=-dac_override,-dac_read_search"]

#: run without root's permission override: both listings of each job, native and pure
COMPARE = """
import json, sys
from suite import dirscan
from sync import listing
from tests.conftest import skip_or_fail
out = []
for root in sys.argv[1:]:
    rows = []
    for scan in (dirscan.scan_dir_python, dirscan.scan_dir):
        listing.scan_dir = scan
        a, sa = {}, {}
        la = listing.list_files(root, a, sa, {"signac_statepoint.json"}, ())
        rows.append([a, sa, la])
    b, sb = {}, {}
    try:
        lb = listing.list_files_walk(root, b, sb, {"signac_statepoint.json"}, ())
        rows.append([b, sb, lb])
    except OSError as exc:
        rows.append(type(exc).__name__)
    out.append(rows)
print(json.dumps(out))
"""


def test_unreadable_files_and_directories_without_privileges(tmp_path):
    if os.geteuid() == 0 and subprocess.run([*NO_DAC, "true"]).returncode != 0:
        pytest.skip("cannot drop CAP_DAC_OVERRIDE here")
    flat = str(tmp_path / "flat")
    make_job(flat, [("secret", "file000"), ("open.txt", "file")])
    os.chmod(os.path.join(flat, "open.txt"), 0o600)  # the owner's: readable by mode bits
    nested = str(tmp_path / "nested")
    make_job(nested, [("sub", "dir"), ("deep", "file000")])
    closed = str(tmp_path / "closed")
    make_job(closed, [("a", "file")])
    os.chmod(closed, 0o300)  # cannot be listed
    noexec = str(tmp_path / "noexec")
    make_job(noexec, [("a", "file")])
    os.chmod(noexec, 0o600)  # listed, but its entries cannot be looked at
    cmd = [sys.executable, "-c", COMPARE, flat, nested, closed, noexec]
    if os.geteuid() == 0:
        cmd = [*NO_DAC, *cmd]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60,
                              env={**os.environ, "PYTHONPATH": os.getcwd()})
    finally:
        os.chmod(closed, 0o755)
        os.chmod(noexec, 0o755)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    flat_rows, nested_rows, closed_rows, noexec_rows = got
    for rows in (flat_rows, nested_rows, closed_rows):
        assert rows[0] == rows[1] == rows[2]
    assert flat_rows[0][1] == {"secret": jobfiles.UNREADABLE}
    assert list(flat_rows[0][0]) == ["open.txt"]
    assert nested_rows[0][1]["sub/deep"] == jobfiles.UNREADABLE
    assert closed_rows[0][1] == {"": jobfiles.UNREADABLE}
    # entries that cannot be looked at: the job is unreadable, never listed as empty (the
    # walk, which stats each entry, raises there)
    assert noexec_rows[0][:2] == noexec_rows[1][:2] == [{}, {"": jobfiles.UNREADABLE}]
    assert noexec_rows[2] == "PermissionError"
