"""A local first copy staged ahead by a second thread (Replica.stage_ahead, landing.StagedAhead):
the same jobs land as without it, a job's failure is raised by that job (the same exception,
the file or job named), and nothing staged is left behind when the sync ends early."""

import os
import time

import pytest

import suite
import sync
from suite import layout, native
from sync import landing
from sync.replica import Replica
from tests.conftest import skip_or_fail

N = 40


@pytest.fixture
def ahead(monkeypatch):
    """Staging ahead on for a few jobs whatever the load; the StagedAhead objects made."""
    if landing.stage_copy is landing.stage_copy_python:
        skip_or_fail("sync._landing is not built here (or SUITE_PURE_PYTHON is set)")
    made = []

    class Counted(landing.StagedAhead):
        def __init__(self, *args):
            super().__init__(*args)
            made.append(self)

    monkeypatch.setattr(Replica, "AHEAD_MIN", 1)
    monkeypatch.setattr(native, "idle_core", lambda: True)
    monkeypatch.setattr("sync.replica.StagedAhead", Counted)
    return made


def make_source(tmp_path, n=N):
    src = suite.init_project(tmp_path / "src")
    for i in range(n):
        job = src.open_job({"i": i, "name": f"job {i}"}).init()
        job.doc.step = i
        for name in ("a.txt", "b.dat"):
            with open(job.fn(name), "w") as f:
                f.write(f"{name} {i}\n" * (i + 1))
            os.utime(job.fn(name), ns=(1_600_000_000_000_000_000 + i,) * 2)
    return src


def contents(project):
    """Every job's files (bytes and mtime; the state point's bytes) and document."""
    out = {}
    for job in project:
        files = {}
        for name in sorted(os.listdir(job.path)):
            path = os.path.join(job.path, name)
            with open(path, "rb") as f:
                keep = name in (layout.STATEPOINT, layout.DOCUMENT)
                files[name] = (f.read(), None if keep else os.stat(path).st_mtime_ns)
        out[job.id] = (files, dict(job.doc))
    return out


def leftovers(project):
    return [n for n in os.listdir(project.workspace) if n.startswith(layout.TMP_PREFIX)]


def test_first_sync_staged_ahead_lands_the_same_jobs(tmp_path, ahead):
    src = make_source(tmp_path)
    dst = suite.init_project(tmp_path / "dst")
    result = sync.sync(src, str(tmp_path / "dst"))
    assert len(ahead) == 1  # one direction had jobs to copy: one thread
    assert len([a for a in result.actions if a["action"] == "copy job"]) == N
    assert contents(suite.get_project(dst.path)) == contents(src)
    assert leftovers(dst) == []
    # the landed jobs were indexed from what was written: found without reading them
    assert len(suite.get_project(dst.path).find_jobs({"i": {"$lt": 10}})) == 10


def test_without_the_native_staging_one_thread_copies(tmp_path, monkeypatch):
    """The pure-Python staging holds the GIL: a second thread would only cost. It stays
    off, and the same jobs land."""
    made = []
    monkeypatch.setattr(Replica, "AHEAD_MIN", 1)
    monkeypatch.setattr(native, "idle_core", lambda: True)
    monkeypatch.setattr("sync.replica.stage_copy", landing.stage_copy_python)
    monkeypatch.setattr("sync.replica.StagedAhead", lambda *args: made.append(args))
    src = make_source(tmp_path)
    dst = suite.init_project(tmp_path / "dst")
    sync.sync(src, dst.path)
    assert made == []
    assert contents(suite.get_project(dst.path)) == contents(src)


def test_both_directions_staged_ahead(tmp_path, ahead):
    src = make_source(tmp_path)
    other = suite.init_project(tmp_path / "dst")
    for i in range(N, N + 7):
        other.open_job({"i": i}).init().doc.step = i
    sync.sync(src, other.path)
    assert len(ahead) == 2  # one thread for each side's new jobs
    assert contents(src) == contents(suite.get_project(other.path))
    assert leftovers(src) == leftovers(other) == []


def failing_copy(tmp_path, monkeypatch, ahead_on):
    """A first sync where a file of the 11th job is removed after the listing: what it
    raises, the jobs landed, the staging directories left."""
    src = make_source(tmp_path)
    dst = suite.init_project(tmp_path / "dst")
    victim = sorted(job.id for job in src)[10]
    real = Replica.stage_ahead

    def remove_then_plan(self, source, jobs):  # the listing was taken: the file goes now
        if victim in [job[0] for job in jobs]:
            os.unlink(os.path.join(src.workspace, victim, "b.dat"))
        return real(self, source, jobs)

    monkeypatch.setattr(Replica, "stage_ahead", remove_then_plan)
    with pytest.raises(OSError) as info:
        sync.sync(src, dst.path)
    landed = sorted(os.listdir(dst.workspace))
    return info.value, victim, landed, leftovers(dst), src, dst


@pytest.mark.parametrize("on", [True, False], ids=["ahead", "one-thread"])
def test_a_failing_job_raises_its_own_error_and_leaves_nothing_staged(tmp_path, monkeypatch,
                                                                       ahead, on):
    if not on:
        monkeypatch.setattr(Replica, "AHEAD_MIN", 10**9)
    exc, victim, landed, left, src, dst = failing_copy(tmp_path, monkeypatch, on)
    assert len(ahead) == (1 if on else 0)
    assert isinstance(exc, FileNotFoundError)
    assert exc.filename == os.path.join(src.workspace, victim, "b.dat")
    assert landed == sorted(job.id for job in src)[:10]  # those before it, not one after
    assert left == []
    # the file back, the sync run again completes the copy
    with open(os.path.join(src.workspace, victim, "b.dat"), "w") as f:
        f.write("back\n")
    monkeypatch.undo()
    sync.sync(src, dst.path)
    assert contents(suite.get_project(dst.path)) == contents(src)


def test_a_state_point_not_its_jobs_is_reported_and_the_rest_copied(tmp_path, ahead):
    src = make_source(tmp_path)
    dst = suite.init_project(tmp_path / "dst")
    bad = sorted(job.id for job in src)[5]
    with open(os.path.join(src.workspace, bad, layout.STATEPOINT), "w") as f:
        f.write('{"i": "edited by hand"}')
    result = sync.sync(src, dst.path)
    assert len(ahead) == 1
    assert [u["job"] for u in result.unreadable] == [bad]
    assert bad in result.unreadable[0]["reason"]
    assert sorted(os.listdir(dst.workspace)) == sorted(j.id for j in src if j.id != bad)
    assert leftovers(dst) == []


def test_an_interrupted_sync_removes_what_was_staged_and_resumes(tmp_path, ahead):
    src = make_source(tmp_path)
    dst = suite.init_project(tmp_path / "dst")

    def stop(done, total):
        if done == 12:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        sync.sync(src, dst.path, progress=stop)
    assert len(ahead) == 1
    assert len(os.listdir(dst.workspace)) == 11
    assert leftovers(dst) == []  # staged ahead of the stop, removed
    sync.sync(src, dst.path)
    assert contents(suite.get_project(dst.path)) == contents(src)


def per_key(fn, seen):
    """A StagedAhead's prepare from a function of one key (its exception kept)."""

    def prepare(keys):
        seen.append(list(keys))
        out = []
        for key in keys:
            try:
                out.append((True, fn(key)))
            except Exception as exc:
                out.append((False, exc))
        return out

    return prepare


def value(key):
    if key == 3:
        raise ValueError(f"key {key}")
    return key * 10


@pytest.mark.parametrize("batch", [1, 2, 64])
def test_staged_ahead_takes_in_any_order_and_discards_the_rest(monkeypatch, batch):
    monkeypatch.setattr(landing.StagedAhead, "BATCH", batch)
    discarded, seen = [], []
    ahead = landing.StagedAhead(per_key(value, seen), range(8), discarded.append)
    assert ahead.take(5) == 50  # beyond keys not taken: they are prepared all the same
    with pytest.raises(ValueError, match="key 3"):
        ahead.take(3)
    assert ahead.take(5) is None  # taken already
    assert ahead.take(99) is None  # never planned
    assert ahead.take(1) == 10
    ahead.close()
    # those not taken; 6 and 7 only if the thread got to them before close
    assert sorted(discarded)[:3] == [0, 20, 40] and set(discarded) <= {0, 20, 40, 60, 70}
    assert all(len(keys) <= batch for keys in seen)
    ahead.close()  # idempotent


def test_a_failing_batch_fails_each_of_its_keys(monkeypatch):
    monkeypatch.setattr(landing.StagedAhead, "BATCH", 4)

    def prepare(keys):
        if 5 in keys:
            raise OSError(28, "No space left on device")
        return [(True, key) for key in keys]

    ahead = landing.StagedAhead(prepare, range(12), lambda _: None)
    assert ahead.take(3) == 3
    for key in (4, 5, 6, 7):
        with pytest.raises(OSError, match="No space"):
            ahead.take(key)
    assert ahead.take(8) == 8
    ahead.close()


def test_staged_ahead_stays_within_its_lead(monkeypatch):
    monkeypatch.setattr(landing.StagedAhead, "LEAD", 3)
    monkeypatch.setattr(landing.StagedAhead, "BATCH", 1)
    seen = []
    ahead = landing.StagedAhead(per_key(lambda key: key, seen), range(100), lambda _: None)
    assert ahead.take(0) == 0
    deadline = time.monotonic() + 60
    while len(seen) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # time enough to go further, were it allowed to
    assert seen == [[0], [1], [2], [3]]  # the key taken and LEAD beyond it, no more
    assert ahead.take(2) == 2
    deadline = time.monotonic() + 60  # each wait its own (they shared one of 10 s)
    while len(seen) < 6 and time.monotonic() < deadline:
        time.sleep(0.01)
    ahead.close()
    assert seen == [[0], [1], [2], [3], [4], [5]]  # the lead moved with the last key taken


#: the CLI with staging ahead on whatever the load, from one job on (a real process)
CLI_AHEAD = """
import sys
import suite.native as n
import sync.replica as r
n.idle_core = lambda: True
r.Replica.AHEAD_MIN = 1
class Marked(r.StagedAhead):
    def __init__(self, *args):
        print("(staged ahead)", file=sys.stderr)
        super().__init__(*args)
r.StagedAhead = Marked
from suite.cli import main
sys.argv[0] = "suite"
main()
"""


def test_the_cli_reports_a_job_staged_ahead_that_is_not_its_own_and_lands_the_rest(tmp_path,
                                                                                  ahead):
    import subprocess
    import sys

    src = make_source(tmp_path)
    dst = suite.init_project(tmp_path / "dst")
    bad = sorted(job.id for job in src)[7]
    with open(os.path.join(src.workspace, bad, layout.STATEPOINT), "w") as f:
        f.write('{"i": "edited by hand"}')
    run = subprocess.run([sys.executable, "-c", CLI_AHEAD, "sync", dst.path, "-q"],
                         cwd=src.path, capture_output=True, text=True, timeout=120)
    assert run.returncode == 5, run.stderr  # a job left alone
    assert run.stderr.count("(staged ahead)") == 1  # the thread staged the copies
    assert bad in run.stdout + run.stderr and "Traceback" not in run.stderr
    assert sorted(os.listdir(dst.workspace)) == sorted(j.id for j in src if j.id != bad)
    assert leftovers(dst) == []
