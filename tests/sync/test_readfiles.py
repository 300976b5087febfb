"""A sync's small files read in one call (sync/readfiles.py read_files): the C
(sync._readfiles.read_files) gives what its Python reference gives on generated directories
— the bytes, the times, where a file that is not regular ends the list — and fails the same
way (exception type, errno, the file named); and a Replica's read_files (what a first push
reads here and a first pull makes the far side read) refuses links and fifos as before."""

import os
import shutil
import tempfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import suite
from suite import native
from sync import readfiles
from sync.replica import Replica, SyncError
from tests.conftest import skip_or_fail

READFILES = native.load("sync._readfiles")

#: what stands under each name of the generated directory
KINDS = st.sampled_from(["file", "file", "file", "empty", "big", "link", "dangling link",
                         "fifo", "dir", "missing", "under a file"])
ENTRIES = st.lists(st.tuples(KINDS, st.binary(max_size=300),
                             st.integers(-(1 << 40), 1 << 62)), max_size=6)


def impls():
    if READFILES is None:
        skip_or_fail("sync._readfiles is not built here (python setup.py build_ext --inplace)")
    return [("native", READFILES.read_files), ("python", readfiles.read_files_python)]


def made(root, entries):
    """The paths to read: one per entry, each made as its kind says."""
    paths = []
    for k, (kind, data, mtime) in enumerate(entries):
        path = f"{root}/e{k}"
        if kind in ("file", "empty", "big"):
            with open(path, "wb") as f:
                f.write(b"" if kind == "empty" else data * 2000 if kind == "big" else data)
            os.utime(path, ns=(mtime, mtime))
        elif kind == "link":
            with open(f"{root}/target{k}", "wb") as f:
                f.write(data)
            os.symlink(f"target{k}", path)
        elif kind == "dangling link":
            os.symlink("nowhere", path)
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "dir":
            os.mkdir(path)
        elif kind == "under a file":
            with open(path, "wb") as f:
                f.write(data)
            path += "/below"
        paths.append(path)
    return paths


def outcome(fn, arg):
    try:
        return "ok", fn(arg)
    except OSError as exc:
        return "error", (type(exc), exc.errno, exc.filename)
    except (TypeError, ValueError) as exc:
        return "error", type(exc)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(entries=ENTRIES, repeat=st.booleans())
def test_native_read_files_gives_what_the_reference_gives(entries, repeat):
    root = tempfile.mkdtemp()
    try:
        paths = made(root, entries)
        if repeat:
            paths = paths + paths[:2]
        got = {name: outcome(fn, list(paths)) for name, fn in impls()}
        assert got["native"] == got["python"], got
    finally:
        shutil.rmtree(root)


@pytest.mark.parametrize("bad", [[b"bytes"], [None], ["a\x00b"], ("a tuple",), "a str"])
def test_native_read_files_refuses_what_the_reference_refuses(bad):
    got = {name: outcome(fn, bad) for name, fn in impls()}
    assert got["native"] == got["python"] and got["native"][0] == "error", got


def test_native_read_files_of_a_large_batch(tmp_path):
    paths = []
    for k in range(300):
        path = tmp_path / f"f{k}"
        path.write_bytes(os.urandom(k * 37))
        paths.append(str(path))
    got = {name: fn(paths) for name, fn in impls()}
    assert got["native"] == got["python"]
    assert [d for d, _ in got["native"]] == [open(p, "rb").read() for p in paths]


@pytest.mark.parametrize("pure", [False, True])
def test_a_replica_reads_files_and_refuses_links_and_fifos(tmp_path, monkeypatch, pure):
    """What read_files answers: the bytes and times in order; a link or a fifo among the
    requests refuses the request (SyncError naming the job and file), a missing file raises
    its OSError — with the native reading and with SUITE_PURE_PYTHON's reference."""
    if pure:
        monkeypatch.setattr("sync.replica.read_many", readfiles.read_files_python)
    elif READFILES is None:
        skip_or_fail("sync._readfiles is not built here (python setup.py build_ext --inplace)")
    project = suite.init_project(tmp_path / "p")
    job = project.open_job({"i": 1}).init()
    with open(job.fn("a.txt"), "wb") as f:
        f.write(b"alpha")
    os.utime(job.fn("a.txt"), ns=(5, 1_600_000_000_123_456_789))
    os.symlink("a.txt", job.fn("link"))
    os.mkfifo(job.fn("fifo"))
    replica = Replica(project.path)
    assert replica.read_files([(job.id, "a.txt"), (job.id, "a.txt")]) == \
        [(b"alpha", 1_600_000_000_123_456_789)] * 2
    for name in ("link", "fifo"):
        with pytest.raises((SyncError, OSError)) as caught:
            replica.read_files([(job.id, "a.txt"), (job.id, name)])
        if isinstance(caught.value, SyncError):
            assert f"{name} is not a regular file" in str(caught.value)
        else:  # a link: O_NOFOLLOW refuses to open it
            assert name == "link" and caught.value.filename == job.fn(name)
    with pytest.raises(FileNotFoundError) as caught:
        replica.read_files([(job.id, "a.txt"), (job.id, "gone")])
    assert caught.value.filename == job.fn("gone")
    with pytest.raises(SyncError, match="refused"):
        replica.read_files([(job.id, "../escape")])
