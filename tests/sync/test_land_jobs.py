"""New jobs landed from bytes in memory, many in one call (sync/landing.py land_jobs): the C
(sync._landing.land_jobs) gives what its Python reference gives on generated batches — the
files, their bytes and times, the answer — and fails the same way (exception type, errno,
the files named, what was left on disk)."""

import os
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from suite import native
from sync import landing
from tests.conftest import skip_or_fail

LANDING = native.load("sync._landing")
SP, DOC = "signac_statepoint.json", "signac_job_document.json"

NAMES = st.sampled_from(["a.txt", "b", "c.h5", "résumé", "x" * 255, "y" * 256])
TIMES = st.one_of(st.none(), st.sampled_from([0, -1, 1, -1_000_000_001, 1_600_000_000_123_456_789,
                                              (1 << 62), (1 << 63) - 1, 1 << 63, -(1 << 64)]))
FILES = st.lists(st.tuples(NAMES, st.binary(max_size=200), TIMES), max_size=4)
#: what stands where a job is staged or lands before the call
PLACES = st.sampled_from(["free", "free", "free", "tmp left", "dst full", "dst empty",
                          "no parent"])
JOBS = st.lists(st.tuples(st.binary(max_size=50), st.one_of(st.none(), st.binary(max_size=50)),
                          FILES, PLACES), max_size=5)


def impls():
    if LANDING is None or not hasattr(LANDING, "land_jobs"):
        skip_or_fail("sync._landing is not built here (python setup.py build_ext --inplace)")
    return [("native", LANDING.land_jobs), ("python", landing.land_jobs_python)]


def tree(root):
    """Every entry under root: files' bytes and mtimes ("now" for a time not given: the
    state point's, the document's, a file's without one), directories as such."""
    now, out = time.time_ns(), {}
    for here, dirs, files in os.walk(root):
        rel = os.path.relpath(here, root)
        for name in dirs:
            out[os.path.join(rel, name)] = "dir"
        for name in files:
            path = os.path.join(here, name)
            with open(path, "rb") as f:
                data = f.read()
            mtime = os.stat(path).st_mtime_ns
            out[os.path.join(rel, name)] = (data, "now" if abs(mtime - now) < 600e9 else mtime)
    return out


def prepared(root, spec):
    """The jobs argument for spec in the directory root (made), and the places readied."""
    os.makedirs(root)
    jobs = []
    for k, (sp, doc, files, place) in enumerate(spec):
        tmp, dst = f"{root}/tmp{k}", f"{root}/job{k}"
        if place == "tmp left":
            os.mkdir(tmp)
            with open(f"{tmp}/old", "w") as f:
                f.write("left")
        elif place == "dst full":
            os.mkdir(dst)
            with open(f"{dst}/mine", "w") as f:
                f.write("here")
        elif place == "dst empty":
            os.mkdir(dst)
        elif place == "no parent":
            dst = f"{root}/gone/job{k}"
        jobs.append((tmp, dst, sp, doc, list(files)))
    return jobs


def outcome(fn, root, jobs):
    try:
        got = fn(jobs, SP, DOC)
    except OSError as exc:
        names = [None if n is None else n.replace(root, "ROOT")
                 for n in (exc.filename, exc.filename2)]
        return ("raised", type(exc), exc.errno, *names)
    except (TypeError, ValueError) as exc:
        return ("raised", type(exc))
    out = []
    for (_, dst, *_), sig in zip(jobs, got, strict=False):  # shorter: a tmp was left
        if sig:  # the signature: the document as it was written, then renamed
            st = os.stat(f"{dst}/{DOC}")
            assert sig == (st.st_mtime_ns, st.st_size, st.st_ino)
            sig = sig[1]
        out.append(sig)
    return out


@settings(max_examples=80, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(spec=JOBS)
def test_land_jobs_agrees_with_the_python_reference(tmp_path_factory, spec):
    base = str(tmp_path_factory.mktemp("landjobs"))
    results = []
    for label, fn in impls():
        root = f"{base}/{label}"
        jobs = prepared(root, spec)
        results.append((outcome(fn, root, jobs), tree(root)))
    assert results[0] == results[1]
    got, made = results[0]
    if got and got[0] != "raised":  # each job answered landed whole, with its files' times
        for k, sig in enumerate(got):
            if sig is False:
                continue
            sp, doc, files, _ = spec[k]
            assert made[f"job{k}/{SP}"][0] == sp and (f"job{k}/{DOC}" in made) == (doc is not None)
            for name, data, mtime in files:
                assert made[f"job{k}/{name}"][0] == data
                if mtime is not None:
                    assert made[f"job{k}/{name}"][1] == mtime


def test_land_jobs_refuses_arguments_of_another_shape(tmp_path):
    root = str(tmp_path)
    good = (f"{root}/t", f"{root}/j", b"{}", None, [])
    bad = [
        (((good,), SP, DOC), TypeError),  # not a list
        (([list(good)], SP, DOC), TypeError),
        (([good[:4]], SP, DOC), TypeError),
        (([(1, *good[1:])], SP, DOC), TypeError),
        (([(f"{root}/t\x00", *good[1:])], SP, DOC), ValueError),
        (([(*good[:2], "{}", None, [])], SP, DOC), TypeError),
        (([(*good[:3], "{}", [])], SP, DOC), TypeError),
        (([(*good[:4], ())], SP, DOC), TypeError),
        (([(*good[:4], [("a", b"", None, 1)])], SP, DOC), TypeError),
        (([(*good[:4], [("a/b", b"", None)])], SP, DOC), ValueError),
        (([(*good[:4], [("..", b"", None)])], SP, DOC), ValueError),
        (([(*good[:4], [("a", "text", None)])], SP, DOC), TypeError),
        (([(*good[:4], [("a", b"", 1.5)])], SP, DOC), TypeError),
        (([(*good[:4], [("a", b"", True)])], SP, DOC), TypeError),
        (([(*good[:4], [("a", b"", 1 << 63)])], SP, DOC), ValueError),
        (([good], "a/b", DOC), ValueError),
        (([good], SP, 3), TypeError),
        # a bad job after a good one: refused before the good one is made
        (([good, (f"{root}/t2", f"{root}/j2", b"{}", None, [(1, b"", None)])], SP, DOC),
         TypeError),
    ]
    for label, fn in impls():
        for args, exc in bad:
            with pytest.raises(exc):
                fn(*args)
            assert os.listdir(root) == [], label  # refused before anything was made


def test_land_jobs_names_the_file_that_failed(tmp_path):
    root = str(tmp_path)
    for label, fn in impls():
        with pytest.raises(FileExistsError) as err:  # a name twice: the second is not new
            fn([(f"{root}/{label}t", f"{root}/{label}j", b"{}", None,
                 [("a", b"1", None), ("a", b"2", None)])], SP, DOC)
        assert err.value.filename == f"{root}/{label}t/a"
        with pytest.raises(FileNotFoundError) as err:
            fn([(f"{root}/{label}t2", f"{root}/nowhere/j", b"{}", None, [])], SP, DOC)
        assert (err.value.filename, err.value.filename2) == (f"{root}/{label}t2",
                                                              f"{root}/nowhere/j")


@pytest.mark.parametrize("wait", [True, False])
def test_create_jobs_lands_the_good_and_notes_the_rest(tmp_path, wait):
    """Replica.create_jobs: a job made here meanwhile keeps its files (a note), a state point
    not its job's is left out (a note saying why), a staging directory left by a killed run
    of this process is replaced, a job with a subdirectory lands too; the landed jobs are
    indexed from what was written; nothing staged is left. With wait=False the landing runs
    in a second thread and its notes are in ``changed`` once land_wait returns."""
    import suite
    from suite import layout
    from sync.replica import Replica

    project = suite.init_project(tmp_path / "p")
    replica = Replica(project.path)
    sps = [{"i": i} for i in range(5)]
    ids = [suite.calc_id(sp) for sp in sps]
    os.makedirs(f"{project.workspace}/{ids[1]}")
    with open(f"{project.workspace}/{ids[1]}/mine", "w") as f:
        f.write("here first")
    os.makedirs(f"{project.workspace}/{layout.TMP_PREFIX}sync-{ids[2]}-{os.getpid()}/old")
    jobs = [(ids[0], b'{"i": 0}', {"d": 0}, [("a", b"0", 5)]),
            (ids[1], b'{"i": 1}', None, [("a", b"1", 5)]),
            (ids[2], b'{"i": 2}', {"d": 2}, []),
            (ids[3], b'{"i": 99}', None, [("a", b"3", 5)]),  # not its job's state point
            (ids[4], b'{"i": 4}', None, [("sub/a", b"4", 7)])]
    notes = replica.create_jobs(jobs, wait=wait)
    replica.land_wait()
    expected = [{"job": ids[3], "path": None}, {"job": ids[1], "path": None}]
    got = replica.changed if not wait else notes
    assert [{k: n[k] for k in ("job", "path")} for n in got] == expected
    assert "hashes to" in got[0]["unreadable"] and replica.changed == got
    assert sorted(os.listdir(project.workspace)) == sorted([ids[0], ids[1], ids[2], ids[4]])
    assert os.listdir(f"{project.workspace}/{ids[1]}") == ["mine"]
    assert open(f"{project.workspace}/{ids[4]}/sub/a", "rb").read() == b"4"
    assert os.stat(f"{project.workspace}/{ids[0]}/a").st_mtime_ns == 5
    replica.flush()
    assert project.index.indexed_count() == 3  # the three it landed, from what it wrote
    # (the job made here meanwhile has no state point yet: not indexed; iterated, as signac
    # iterates it, its state point unreadable)
    assert {j.id: j.doc() for j in project} == {ids[0]: {"d": 0}, ids[1]: {}, ids[2]: {"d": 2},
                                                ids[4]: {}}
    with pytest.raises(suite.JobsCorruptedError):
        project.open_job(id=ids[1]).sp()
