"""A plain job's copy staged in one call (sync/landing.py): the C (sync._landing.stage_copy)
gives what its Python reference gives on generated jobs — the staged files, their bytes and
times, the answer — and fails the same way (exception type, errno, the file named)."""

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite import layout, native
from sync import landing
from tests.conftest import skip_or_fail

LANDING = native.load("sync._landing")
SP, DOC = layout.STATEPOINT, layout.DOCUMENT

#: a source file: its content's size (around the C's 64 KiB buffer: one read, several, the
#: kernel's copy) or another kind of entry
KINDS = st.sampled_from([0, 1, 100, 65535, 65536, 65537, 200_000, "missing", "fifo",
                         "link", "dir"])
NAMES = st.sampled_from(["a.txt", "b", "c.h5", "résumé", "x" * 255])


def impls():
    if LANDING is None:
        skip_or_fail("sync._landing is not built here (python setup.py build_ext --inplace)")
    return [("native", LANDING.stage_copy), ("python", landing.stage_copy_python)]


def make_source(src, sp_kind, files):
    os.makedirs(src)
    for k, (name, kind) in enumerate([(SP, sp_kind), *files]):
        path = os.path.join(src, name)
        if os.path.lexists(path):
            continue
        if isinstance(kind, int):
            with open(path, "wb") as f:
                f.write(bytes([k + 1]) * kind)
            os.utime(path, ns=(1_000_000_007 * (k + 1), 1_600_000_000_123_456_789 + k))
        elif kind == "fifo":
            os.mkfifo(path)
        elif kind == "link":
            os.symlink(SP, path)
        elif kind == "dir":
            os.mkdir(path)


def staged(tmp):
    """Every file of a staged directory: bytes, mode and (but the state point's and the
    document's, written now) mtime."""
    if not os.path.isdir(tmp):
        return None
    out = {}
    for name in sorted(os.listdir(tmp)):
        st = os.lstat(os.path.join(tmp, name))
        with open(os.path.join(tmp, name), "rb") as f:
            out[name] = (f.read(), None if name in (SP, DOC) else st.st_mtime_ns, st.st_mode & 0o777)
    return out


def outcome(fn, *args):
    try:
        got = fn(*args)
    except OSError as exc:
        return ("raised", type(exc), exc.errno, exc.filename)
    except (TypeError, ValueError) as exc:
        return ("raised", type(exc))
    if got is not None and got[1] is not None:  # the signature: the doc file as written
        mtime, size, inode = got[1]
        st = os.stat(os.path.join(args[1], DOC))
        assert (mtime, size, inode) == (st.st_mtime_ns, st.st_size, st.st_ino)
        got = (got[0], size)
    return got


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sp_kind=KINDS, files=st.lists(st.tuples(NAMES, KINDS), max_size=4),
       doc=st.one_of(st.none(), st.binary(max_size=300)), tmp_exists=st.booleans())
def test_stage_copy_agrees_with_the_python_reference(tmp_path_factory, sp_kind, files, doc,
                                                     tmp_exists):
    root = str(tmp_path_factory.mktemp("land"))
    src = os.path.join(root, "src")
    make_source(src, sp_kind, files)
    names = list(dict.fromkeys(name for name, _ in files))
    results = []
    for label, fn in impls():
        tmp = os.path.join(root, f"tmp-{label}")
        if tmp_exists:
            os.mkdir(tmp)
        got = outcome(fn, src, tmp, SP, names, DOC, doc)
        if got is not None and got[0] == "raised" and len(got) == 4 and got[3] is not None:
            got = (*got[:3], got[3].replace(tmp, "TMP"))
        results.append((got, staged(tmp)))
    assert results[0] == results[1]
    (got, files_made), _ = results
    if got is not None and got[0] != "raised":  # a whole copy: the source's bytes and times
        assert got[0] == files_made[SP][0]
        for name in names:
            st = os.stat(os.path.join(src, name))
            assert files_made[name][1] == st.st_mtime_ns
            with open(os.path.join(src, name), "rb") as f:
                assert files_made[name][0] == f.read()
        assert (DOC in files_made) == (doc is not None)


def batch_impls():
    if LANDING is None:
        skip_or_fail("sync._landing is not built here (python setup.py build_ext --inplace)")
    return [("native", LANDING.stage_copies), ("python", landing.stage_copies_python)]


def batch_outcome(answer, tmp):
    if isinstance(answer, OSError):
        return ("failed", type(answer), answer.errno,
                answer.filename and answer.filename.replace(tmp, "TMP"))
    if answer is not None and answer[1] is not None:
        return (answer[0], answer[1][1])  # the signature's size (checked by outcome's rule)
    return answer


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(jobs=st.lists(st.tuples(KINDS, st.lists(st.tuples(NAMES, KINDS), max_size=3),
                               st.one_of(st.none(), st.binary(max_size=100)), st.booleans()),
                     max_size=5))
def test_stage_copies_agrees_with_the_python_reference(tmp_path_factory, jobs):
    """Several jobs in one call, failures among them: each answer (or OSError in its
    place) and each staged directory as the Python reference makes them."""
    root = str(tmp_path_factory.mktemp("lands"))
    results = []
    for label, fn in batch_impls():
        calls = []
        for k, (sp_kind, files, doc, tmp_exists) in enumerate(jobs):
            src = os.path.join(root, f"src{k}")
            if not os.path.isdir(src):
                make_source(src, sp_kind, files)
            tmp = os.path.join(root, f"tmp-{label}-{k}")
            if tmp_exists:
                os.mkdir(tmp)
            names = list(dict.fromkeys(name for name, _ in files))
            calls.append((src, tmp, SP, names, DOC, doc))
        answers = fn(calls)
        assert isinstance(answers, list) and len(answers) == len(jobs)
        results.append([(batch_outcome(answer, call[1]), staged(call[1]))
                        for answer, call in zip(answers, calls, strict=True)])
    assert results[0] == results[1]


def test_stage_copies_refuses_jobs_of_another_shape_before_making_any(tmp_path):
    src = str(tmp_path / "src")
    make_source(src, 10, [("a", 5)])
    for label, fn in batch_impls():
        good = (src, str(tmp_path / f"{label}-good"), SP, ["a"], DOC, None)
        for jobs, exc in [(("not", "a list"), TypeError), ([good, [src]], TypeError),
                          ([good, good[:5]], TypeError),
                          ([good, (src, "t", SP, ["../a"], DOC, None)], ValueError),
                          ([good, (src, "t", SP, [], DOC, 1)], TypeError)]:
            with pytest.raises(exc):
                fn(jobs)
            assert not os.path.exists(good[1])
        assert fn([]) == []


def test_stage_copy_refuses_arguments_of_another_shape(tmp_path):
    src = str(tmp_path / "src")
    make_source(src, 10, [("a", 5)])
    bad = [
        ((1, "t", SP, [], DOC, None), TypeError),
        ((src, "t", SP, ("a",), DOC, None), TypeError),
        ((src, "t", SP, [1], DOC, None), TypeError),
        ((src, "t", SP, ["a/b"], DOC, None), ValueError),
        ((src, "t", SP, [".."], DOC, None), ValueError),
        ((src, "t", SP, [""], DOC, None), ValueError),
        ((src, "t", "a\x00b", [], DOC, None), ValueError),
        ((src + "\x00", "t", SP, [], DOC, None), ValueError),
        ((src, "t", SP, [], DOC, "{}"), TypeError),
        ((src, "t", SP, [], "../d", None), ValueError),
    ]
    for label, fn in impls():
        for args, exc in bad:
            args = (args[0], str(tmp_path / f"{label}-{args[1]}"), *args[2:])
            with pytest.raises(exc):
                fn(*args)
            assert not os.path.exists(args[1])  # refused before anything was made


def test_stage_copy_names_the_file_that_failed(tmp_path):
    src = str(tmp_path / "src")
    make_source(src, 10, [("a", 5)])
    for label, fn in impls():
        with pytest.raises(FileNotFoundError) as err:
            fn(src, str(tmp_path / f"{label}-1"), SP, ["a", "gone"], DOC, None)
        assert err.value.filename == f"{src}/gone"
        with pytest.raises(FileNotFoundError) as err:  # the staging directory's parent
            fn(src, str(tmp_path / "nowhere" / label), SP, ["a"], DOC, None)
        assert err.value.filename == str(tmp_path / "nowhere" / label)
        with pytest.raises(FileExistsError) as err:
            fn(src, str(tmp_path / f"{label}-1"), SP, ["a"], DOC, None)
        assert err.value.filename == str(tmp_path / f"{label}-1")


@pytest.fixture
def two(tmp_path):
    import suite

    here, there = suite.init_project(tmp_path / "here"), suite.init_project(tmp_path / "there")
    job = here.open_job({"i": 1}).init()
    job.doc["step"] = 3
    with open(job.fn("out.txt"), "w") as f:
        f.write("data")
    os.utime(job.fn("out.txt"), ns=(5, 1_700_000_000_000_000_007))
    return here, there, job


def test_a_local_sync_copies_a_plain_job_file_to_file(two):
    """Bytes and times kept, the document written, the job indexed from what was written."""
    import sync

    here, there, job = two
    result = sync.sync(here, there.path)
    assert result.exit_status == 0 and [a["action"] for a in result.actions] == ["copy job"]
    copy = there.open_job(id=job.id)
    with open(copy.fn("out.txt")) as f:
        assert f.read() == "data"
    assert os.stat(copy.fn("out.txt")).st_mtime_ns == 1_700_000_000_000_000_007
    assert copy.doc["step"] == 3 and copy.sp["i"] == 1
    assert there.index.indexed_count() == 1  # landed jobs indexed without a refresh
    assert not [n for n in os.listdir(there.workspace) if n.startswith(layout.TMP_PREFIX)]
    assert sync.sync(here, there.path).actions == []


def test_copy_local_job_hands_back_a_job_with_an_odd_file(two):
    """A file that is no longer a regular file when copied: nothing is left, the caller
    copies the job the other way (which refuses the fifo)."""
    from sync.replica import NOT_PLAIN, Replica

    here, there, job = two
    os.unlink(job.fn("out.txt"))
    os.mkfifo(job.fn("out.txt"))
    dst = Replica(there.path)
    assert dst.copy_local_job(Replica(here.path), job.id, {"step": 3}, ["out.txt"]) \
        is NOT_PLAIN
    assert os.listdir(there.workspace) == []


def test_copy_local_job_refuses_a_state_point_that_is_not_its_own(two):
    import sync
    from sync.replica import Replica

    here, there, job = two
    with open(job.fn(SP), "w") as f:
        f.write('{"i": 2}')
    with pytest.raises(sync.replica.BadStatepoint, match="hashes to"):
        Replica(there.path).copy_local_job(Replica(here.path), job.id, {}, ["out.txt"])
    assert os.listdir(there.workspace) == []
    result = sync.sync(here, there.path)  # reported, not copied, the sync goes on
    assert result.exit_status == 5 and [u["job"] for u in result.unreadable] == [job.id]
    assert os.listdir(there.workspace) == []


def test_a_snapshot_listed_in_a_second_thread_is_the_snapshot(two, monkeypatch):
    """snapshot_later lists the job directories in a second thread (from THREADS_MIN jobs
    on, lowered here): the same snapshot; an error there is raised by the caller's call."""
    import threading

    import suite
    from sync import listing, replica
    from sync.replica import Replica

    here, _there, job = two
    for i in range(2, 6):
        here.open_job({"i": i}).init()
    expected = Replica(here.path).snapshot()
    monkeypatch.setattr(suite.native, "THREADS_MIN", 1)
    monkeypatch.setattr(suite.native, "idle_core", lambda: True)
    if replica.list_jobs is listing.list_jobs_python:  # the pure path: never a thread
        assert Replica(here.path).snapshot_later()() == expected
        return
    seen = []

    def watched(*args):
        seen.append(threading.current_thread().name)
        return listing.list_jobs(*args)

    monkeypatch.setattr(replica, "list_jobs", watched)
    assert Replica(here.path).snapshot_later()() == expected
    assert seen == ["suite-snapshot"]

    def broken(*args):
        raise OSError(5, "listing failed", here.workspace)

    monkeypatch.setattr(replica, "list_jobs", broken)
    later = Replica(here.path).snapshot_later()
    with pytest.raises(OSError, match="listing failed"):
        later()
