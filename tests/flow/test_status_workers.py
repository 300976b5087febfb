"""status judged by forked workers (suite.flow.workers): the same result as one process on
every chunk path, a failing condition or label reported as one process reports it, Ctrl-C
stopping the workers, the setting and the option."""

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from suite.errors import SuiteError
from suite.flow import Runner, Workflow, scan

PIDS = {"dir": None}  # where the labels below note the process that judged them


class W(Workflow):
    pass


@W.label
def started(job):
    return "step" in job.doc


@W.label
def parity(job):
    if PIDS["dir"]:
        open(os.path.join(PIDS["dir"], str(os.getpid())), "a").close()
    return "odd" if job.sp.i % 2 else False


@W.post.true("step")
@W.operation
def first(job):
    pass


@W.pre.true("step")
@W.post.isfile("out.txt")
@W.operation
def second(job):
    pass


@W.pre(lambda job: job.sp.i % 5 != 0)
@W.post(lambda job: job.doc.get("done", False))
@W.operation
def third(job):
    pass


def _jobs(project, n):
    for i in range(n):
        job = project.open_job({"i": i}).init()
        if i % 2:
            job.doc.step = i
        if i % 3 == 0:
            open(job.fn("out.txt"), "w").close()
        if i % 7 == 0:
            job.doc.done = True


def _seen(status):
    return (status.format(detailed=True), json.dumps(status.to_json(), sort_keys=True),
            status.operations, status.labels, list(status.jobs), status.jobs.ids)


@pytest.fixture
def noted(tmp_path):
    PIDS["dir"] = str(tmp_path / "pids")
    os.mkdir(PIDS["dir"])
    yield lambda: {int(p) for p in os.listdir(PIDS["dir"])}
    PIDS["dir"] = None


def _clear():
    for name in os.listdir(PIDS["dir"]):
        os.unlink(os.path.join(PIDS["dir"], name))


@pytest.mark.parametrize("columns_max", [scan.COLUMNS_MAX, 0])  # whole columns; rows
@pytest.mark.parametrize("chunk", [scan.CHUNK, 4])
@pytest.mark.parametrize("piece", [scan.PIECE, 5])  # the columns' pieces: parts cut them
def test_workers_give_what_one_process_gives(project, monkeypatch, noted, columns_max, chunk,
                                             piece):
    monkeypatch.setattr(scan, "COLUMNS_MAX", columns_max)
    monkeypatch.setattr(scan, "CHUNK", chunk)
    monkeypatch.setattr(scan, "PIECE", piece)
    _jobs(project, 23)
    one = _seen(Runner(W, project).status(workers=1))
    assert noted() == {os.getpid()}
    for ways in (2, 3, 8):
        _clear()
        assert _seen(Runner(W, project).status(workers=ways)) == one
        judged = noted()
        assert os.getpid() not in judged and len(judged) == ways  # one process a part


def test_workers_see_documents_changed_since_the_pieces_were_stored(project, monkeypatch):
    """The columns' pieces kept in the index (stored from SP_CACHE_MIN jobs on) never outlive
    the documents they were made from: a document rewritten in place, one replaced, one
    removed and a job added between two statuses are seen by the workers as by one process."""
    from suite.index import columns

    monkeypatch.setattr(columns, "SP_CACHE_MIN", 0)
    _jobs(project, 23)
    assert _seen(Runner(W, project).status(workers=2)) == _seen(
        Runner(W, project).status(workers=1))
    with sqlite3.connect(project.index.path) as db:
        assert db.execute("SELECT count(*) FROM sigcache WHERE tag = ?",
                          (columns.PIECES + columns.DOC_TAG,)).fetchone()[0] == 1
    before = Runner(W, project).status(workers=2)
    docs = [os.path.join(project.workspace, i, "signac_job_document.json")
            for i in sorted(before.jobs)]
    ids, docs = zip(*[(i, d) for i, d in zip(sorted(before.jobs), docs, strict=True)
                      if os.path.exists(d)], strict=True)  # the jobs with a document
    with open(docs[0], "r+") as f:
        f.seek(0)  # in place: no directory's time moves
        f.write(json.dumps({"step": 1, "done": True, "pad": "x" * 40}))
        f.truncate()
    project.open_job(id=ids[1]).doc.step = 5
    os.unlink(docs[2])
    project.open_job({"i": 99}).init().doc.step = 1
    after = _seen(Runner(W, project).status(workers=2))
    assert after == _seen(Runner(W, project).status(workers=1)) != _seen(before)
    assert len(after[-1]) == 24


def test_workers_with_a_selection(project, monkeypatch, noted):
    monkeypatch.setattr(scan, "CHUNK", 3)
    _jobs(project, 20)
    some = {"i": {"$lt": 13}}
    ids = [project.open_job({"i": i}).id[:9] for i in (2, 5, 11, 19)]
    for kwargs in ({"filter": some}, {"ids": ids}, {"filter": {"i": 99}}):
        one = _seen(Runner(W, project).status(workers=1, **kwargs))
        _clear()
        assert _seen(Runner(W, project).status(workers=2, **kwargs)) == one, kwargs
        assert os.getpid() not in noted()


def test_fewer_jobs_than_workers(project, noted):
    _jobs(project, 2)
    assert _seen(Runner(W, project).status(workers=5)) == _seen(
        Runner(W, project).status(workers=1))


def test_no_jobs(project):
    assert _seen(Runner(W, project).status(workers=2)) == _seen(
        Runner(W, project).status(workers=1))


class Failing(W):
    pass


@Failing.pre(lambda job: 1 / (job.sp.i - 17) > -5)
@Failing.post.true("never")
@Failing.operation
def fourth(job):
    pass


class LabelFails(W):
    pass


@LabelFails.label
def broken(job):
    return {"x": 1}["y"] if job.sp.i == 9 else False


def _raised(project, flow, workers):
    with pytest.raises(Exception) as info:
        Runner(flow, project).status(workers=workers)
    import traceback

    return type(info.value), str(info.value), traceback.format_exception(info.value)[-3:]


@pytest.mark.parametrize("flow", [Failing, LabelFails])
def test_a_failing_condition_or_label_raises_as_in_one_process(project, flow, noted):
    _jobs(project, 24)
    one = _raised(project, flow, 1)
    assert one[0] in (ZeroDivisionError, KeyError)
    _clear()
    assert _raised(project, flow, 2) == one  # the workers failed; judged again here
    assert len(noted() - {os.getpid()}) >= 1  # the workers had run


def test_workflows_that_read_logs_are_judged_here(project, noted):
    class Logs(W):  # no postconditions: complete by the log
        pass

    @Logs.operation
    def plain(job):
        pass

    _jobs(project, 10)
    one = _seen(Runner(Logs, project).status(workers=1))
    assert _seen(Runner(Logs, project).status(workers=2)) == one
    assert noted() == {os.getpid()}


def test_the_setting(project):
    _jobs(project, 3)
    config = os.path.join(project.path, ".signac", "config")
    original = open(config).read()
    for value, expected in (("none", (1, True)), ("thread", (1, True)), ("3", (3, True)),
                            ("process", (min(len(os.sched_getaffinity(0)), 2), False))):
        with open(config, "w") as f:
            f.write(original + f"status_parallelization = {value}\n")
        from suite import get_project

        assert Runner(W, get_project(project.path)).status_workers() == expected
    for bad in ("0", "many", "-2"):
        with open(config, "w") as f:
            f.write(original + f"status_parallelization = {bad}\n")
        from suite import get_project

        with pytest.raises(SuiteError, match="status_parallelization"):
            Runner(W, get_project(project.path)).status()


WORKFLOW = '''
import os, time
from suite.flow import Workflow

class W(Workflow):
    pass

@W.label
def slow(job):
    if os.environ.get("PIDS"):
        open(os.path.join(os.environ["PIDS"], str(os.getpid())), "a").close()
        time.sleep(60)
    return job.sp.i % 2 == 0

@W.pre(lambda job: 1 / (job.sp.i - 5) > -5)
@W.post.true("step")
@W.operation
def first(job):
    pass
'''


def _cli(project, *args, env=None):
    return subprocess.run([sys.executable, "-m", "suite", "status", *args], cwd=project.path,
                          capture_output=True, text=True, env=env, timeout=120)


def test_cli_option_and_failure(project):
    with open(project.fn("workflow.py"), "w") as f:
        f.write(WORKFLOW.replace("1 / (job.sp.i - 5)", "1 / (job.sp.i + 1)"))
    _jobs(project, 12)
    one = _cli(project, "--parallel", "1", "--detailed")
    assert one.returncode == 0, one.stderr
    assert _cli(project, "--parallel", "3", "--detailed").stdout == one.stdout
    assert _cli(project, "--parallel", "0").returncode == 2  # a usage error
    with open(project.fn("workflow.py"), "w") as f:
        f.write(WORKFLOW)
    one, two = _cli(project, "--parallel", "1"), _cli(project, "--parallel", "2")
    assert one.returncode == two.returncode == 1
    assert "ZeroDivisionError" in one.stderr
    assert [line for line in two.stderr.splitlines() if "File" not in line] == [
        line for line in one.stderr.splitlines() if "File" not in line]


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize("whom, plain", [("parent", False), ("group", False), ("parent", True)])
def test_ctrl_c_stops_the_workers(project, tmp_path, whom, plain):
    """Ctrl-C (to the whole group, as a terminal sends it, or to the parent alone): status
    stops as it does without workers, and no worker is left."""
    with open(project.fn("workflow.py"), "w") as f:
        f.write(WORKFLOW.replace("1 / (job.sp.i - 5)", "1 / (job.sp.i + 1)"))
    if plain:  # `suite status` alone (no click): the workers from the setting
        with open(os.path.join(project.path, ".signac", "config"), "a") as f:
            f.write("status_parallelization = 2\n")
    _jobs(project, 8)
    pids = tmp_path / "pids"
    pids.mkdir()
    proc = subprocess.Popen([sys.executable, "-m", "suite", "status",
                             *([] if plain else ["--parallel", "2"])],
                            cwd=project.path, env={**os.environ, "PIDS": str(pids)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        end = time.time() + 60
        while len(os.listdir(pids)) < 2 and time.time() < end:
            time.sleep(0.05)
        workers = {int(p) for p in os.listdir(pids)}
        assert len(workers) == 2 and proc.pid not in workers
        if whom == "parent":
            proc.send_signal(signal.SIGINT)
        else:
            os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # as without workers, and the same words in the plain form and click's
    assert proc.returncode == 130 and err.strip().endswith("suite: interrupted"), err
    assert not any(_alive(p) for p in workers)  # killed and reaped, not left running


def test_the_default_forks_from_fork_min_jobs(project, monkeypatch, noted):
    """Without a setting: one process below Runner.FORK_MIN jobs, one worker per core (two
    at most) from it on."""
    _jobs(project, 12)
    one = _seen(Runner(W, project).status())
    assert noted() == {os.getpid()}  # 12 jobs: below the default FORK_MIN
    monkeypatch.setattr(Runner, "FORK_MIN", 12)
    _clear()
    assert _seen(Runner(W, project).status()) == one
    cores = min(len(os.sched_getaffinity(0)), 2)
    judged = noted()
    assert (judged == {os.getpid()}) if cores == 1 else (
        os.getpid() not in judged and len(judged) == cores)


class Killed(W):
    pass


PARENT = {"pid": None}


@Killed.label
def killer(job):
    if os.getpid() != PARENT["pid"] and job.sp.i == 13:
        os.kill(os.getpid(), signal.SIGKILL)  # a worker dies (the OOM killer, say)
    return job.sp.i > 10


def test_a_killed_worker_leaves_the_work_to_this_process(project):
    _jobs(project, 20)
    PARENT["pid"] = os.getpid()
    try:
        one = _seen(Runner(Killed, project).status(workers=1))
        assert _seen(Runner(Killed, project).status(workers=2)) == one
    finally:
        PARENT["pid"] = None


PRINTING = '''
from suite.flow import Workflow

class W(Workflow):
    pass

@W.label
def loud(job):
    if job.sp.i in (3, 17):
        print("judged", job.sp.i, flush=job.sp.i == 3)
    return True

@W.post.true("step")
@W.operation
def first(job):
    pass
'''


def test_what_conditions_print_comes_once(project):
    """Buffered output is flushed before the fork (else every worker would write it again)
    and by each worker before it leaves (else it would be lost)."""
    with open(project.fn("workflow.py"), "w") as f:
        f.write(PRINTING)
    _jobs(project, 20)
    one, two = _cli(project, "--parallel", "1"), _cli(project, "--parallel", "2")
    assert one.returncode == two.returncode == 0, two.stderr
    lines = sorted(two.stdout.splitlines())
    assert lines == sorted(one.stdout.splitlines())
    assert lines.count("judged 3") == lines.count("judged 17") == 1


def test_workers_fork_right_after_a_sync_through_a_subprocess(project, tmp_path, noted):
    # a sync's far process is reaped after the sync returns (it brings its index up to date
    # first); the thread that waits for it must not keep status from forking meanwhile
    import sync

    _jobs(project, 300)
    sync.sync(project, str(tmp_path / "far"), init=True, ssh="local")
    _clear()
    Runner(W, project).status(workers=2)
    assert noted() and os.getpid() not in noted()
