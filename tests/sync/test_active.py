"""Sync leaves alone jobs whose operations are queued or running on either side (asked of a
real single-node SLURM), syncs them with --include-active, and waits for them with --wait."""

import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

import suite
import sync
from sync.active import active_work
from tests.schedulers.live import make_live_project


def run(project, *args, **kwargs):
    return subprocess.run(["suite", *args], cwd=project.path, capture_output=True, text=True,
                          **kwargs)


def submit_held(project, job):
    """Submit the operation ``work`` of ``job`` to SLURM, held; return its SLURM id."""
    r = run(project, "submit", "--hold", "--scheduler", "slurm", "-j", job.id)
    assert r.returncode == 0, r.stderr
    return r.stdout.split(":")[1].split()[0]


def write(job, name, text):
    with open(job.fn(name), "w") as f:
        f.write(text)


@pytest.fixture
def pair(tmp_path):
    """A laptop and a cluster copy of a project of three jobs, synced once."""
    lap = make_live_project(suite.init_project(tmp_path / "laptop"))
    clu = suite.init_project(tmp_path / "cluster")
    with open(clu.fn("workflow.py"), "w") as f, open(lap.fn("workflow.py")) as g:
        f.write(g.read())
    assert sync.sync(lap, clu.path).exit_status == 0
    return lap, clu


@pytest.fixture
def far(transport, slurm):
    """The far side over each transport (paramiko, openssh, local); its suite sees the test
    SLURM (sshd does not pass the environment on)."""
    transport.remote_suite = f"env SLURM_CONF={slurm} {transport.remote_suite}"
    return transport


def jobs(project):
    return [project.open_job({"a": a}) for a in range(3)]


def test_no_submissions_answers_at_once_without_a_scheduler(transport, pair, monkeypatch):
    lap, clu = pair
    # a scheduler that does not exist: never looked up, since nothing was ever submitted
    monkeypatch.setenv("SUITE_SCHEDULER", "no-such-scheduler")
    assert active_work(lap) == {"active": [], "error": None}
    # cheaply: one stat, not even the import of the workflow package
    code = ("import sys, suite; from sync.active import active_work; "
            f"assert active_work(suite.get_project({lap.path!r}))['active'] == []; "
            "assert 'suite.flow' not in sys.modules and 'schedulers' not in sys.modules")
    subprocess.run([sys.executable, "-c", code], check=True)
    write(jobs(clu)[0], "new.txt", "x")
    # the far side is asked too (its environment names the same missing scheduler)
    result = transport.sync(lap, clu.path, remote_suite="env SUITE_SCHEDULER=no-such-scheduler "
                            f"{transport.remote_suite}")
    assert result.exit_status == 0 and result.active == []
    assert os.path.exists(jobs(lap)[0].fn("new.txt"))


def test_active_jobs_are_left_alone_and_listed_on_both_sides(far, pair):
    lap, clu = pair
    here, there, idle = jobs(lap)
    local_id = submit_held(lap, here)
    remote_id = submit_held(clu, clu.open_job(id=there.id))
    for j in (clu.open_job(id=here.id), clu.open_job(id=there.id), clu.open_job(id=idle.id)):
        write(j, "from-cluster.txt", "c")
    for j in (here, there, idle):
        write(j, "from-laptop.txt", "l")
    r = run(lap, "sync", far.url(clu.path), *far.cli)
    assert r.returncode == 5, r.stderr
    assert f"ACTIVE {here.id}: work held on the local side ({local_id})" in r.stdout
    assert f"ACTIVE {there.id}: work held on the remote side ({remote_id})" in r.stdout
    assert "--include-active syncs it" in r.stdout
    assert "2 job(s) with work queued or running left alone" in r.stdout
    # the idle job synced both ways; the active ones were left alone in both directions
    assert os.path.exists(idle.fn("from-cluster.txt"))
    assert os.path.exists(clu.open_job(id=idle.id).fn("from-laptop.txt"))
    for j in (here, there):
        assert not os.path.exists(j.fn("from-cluster.txt"))
        assert not os.path.exists(clu.open_job(id=j.id).fn("from-laptop.txt"))
    # --json carries the same
    r = run(lap, "sync", far.url(clu.path), "--json", *far.cli)
    active = json.loads(r.stdout)["active"]
    assert sorted((a["job"], a["side"], a["state"]) for a in active) == sorted(
        [(here.id, "local", "held"), (there.id, "remote", "held")])
    # a filter that selects only the idle job does not mention the others
    r = run(lap, "sync", far.url(clu.path), "-j", idle.id, *far.cli)
    assert r.returncode == 0 and "ACTIVE" not in r.stdout, r.stdout
    # --include-active (the Python API) syncs them anyway
    result = sync.sync(lap, far.url(clu.path), include_active=True, **far.options)
    assert result.exit_status == 0 and result.active == []
    assert os.path.exists(here.fn("from-cluster.txt"))
    assert os.path.exists(clu.open_job(id=there.id).fn("from-laptop.txt"))
    subprocess.run(["scancel", local_id, remote_id], check=True)


def test_wait_polls_until_the_work_has_finished_then_syncs(far, pair):
    lap, clu = pair
    there = clu.open_job(id=jobs(lap)[0].id)
    remote_id = submit_held(clu, there)
    proc = subprocess.Popen(["suite", "sync", far.url(clu.path), "--wait", "--poll", "1",
                             *far.cli], cwd=lap.path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    first = proc.stderr.readline()  # the sync waits: now release the work from a thread
    assert first.startswith("suite: waiting for 1 operation(s) on 1 job(s) (remote: 1 queued, "
                            "0 running; local: 0 queued, 0 running)"), first
    released = threading.Thread(
        target=lambda: subprocess.run(["scontrol", "release", remote_id], check=True))
    released.start()
    out, err = proc.communicate(timeout=180)
    released.join()
    assert proc.returncode == 0, err
    # a line per change of the counts (at most: running, as the work ran for 2 s), not one
    # per poll
    assert all(line.startswith("suite: waiting for 1 operation(s) on 1 job(s) (remote: 0 "
                               "queued, 1 running;") for line in err.splitlines()) \
        and len(err.splitlines()) <= 1, err
    # what the operation wrote (once it finished) came back with the sync
    assert os.path.exists(jobs(lap)[0].fn("done.txt"))


def test_wait_through_the_python_api(far, pair):
    lap, clu = pair
    here = jobs(lap)[1]
    local_id = submit_held(lap, here)
    write(clu.open_job(id=here.id), "from-cluster.txt", "c")
    heard = []

    def notify(line):  # the first line says it waits: cancel the work from a thread
        heard.append(line)
        if len(heard) == 1:
            threading.Thread(target=subprocess.run, args=(["scancel", local_id],),
                             kwargs={"check": True}).start()

    result = sync.sync(lap, far.url(clu.path), wait=True, poll=0.5, notify=notify,
                       **far.options)
    assert heard[0].startswith("waiting for 1 operation(s) on 1 job(s) (remote: 0 queued, "
                               "0 running; local: 1 queued, 0 running)")
    assert result.exit_status == 0 and result.active == []
    assert os.path.exists(here.fn("from-cluster.txt"))


def test_ctrl_c_while_waiting_stops_cleanly(far, pair):
    lap, clu = pair
    proc, remote_id = _waiting_sync(far, lap, clu)
    assert _servers(clu.path)  # the connection is open while it waits
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130
    assert "Traceback" not in err and err.strip().splitlines()[-1] == "suite: interrupted", err
    assert not os.path.exists(jobs(lap)[0].fn("from-cluster.txt"))  # nothing was synced
    # the far side's server saw the connection close and ended
    deadline = time.monotonic() + 30
    while _servers(clu.path) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _servers(clu.path)
    subprocess.run(["scancel", remote_id], check=True)


def _waiting_sync(far, lap, clu):
    """A `suite sync --wait` from ``lap`` that waits for held work on ``clu`` (which wrote
    from-cluster.txt): the process, once it said it waits, and the work's SLURM id."""
    there = clu.open_job(id=jobs(lap)[0].id)
    remote_id = submit_held(clu, there)
    write(there, "from-cluster.txt", "c")
    proc = subprocess.Popen(["suite", "sync", far.url(clu.path), "--wait", "--poll", "1",
                             *far.cli], cwd=lap.path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    line = proc.stderr.readline()
    assert line.startswith("suite: waiting for 1 operation(s)"), line
    return proc, remote_id


def _servers(path):
    """Pids of sync servers running for ``path`` (read from /proc)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
        except OSError:
            continue
        if b"_sync-server" in args and os.fsencode(path) in args:
            found.append(pid)
    return found


def test_a_scheduler_that_cannot_be_asked_leaves_its_jobs_alone(far, pair, tmp_path):
    lap, clu = pair
    there = clu.open_job(id=jobs(lap)[0].id)
    remote_id = submit_held(clu, there)
    write(there, "from-cluster.txt", "c")
    write(clu.open_job(id=jobs(lap)[1].id), "from-cluster.txt", "c")
    # the far side's squeue reads a configuration it cannot use
    (tmp_path / "empty.conf").write_text("")
    far.remote_suite = f"env SLURM_CONF={tmp_path}/empty.conf {sys.executable} -m suite"
    cli = far.cli
    r = run(lap, "sync", far.url(clu.path), *cli)
    assert r.returncode == 5, r.stderr
    warning = [line for line in r.stderr.splitlines() if "warning" in line]
    assert len(warning) == 1 and "cannot ask the scheduler on the remote side" in warning[0] \
        and "--include-active" in warning[0], r.stderr
    assert f"ACTIVE {there.id}: work unknown on the remote side ({remote_id})" in r.stdout
    assert not os.path.exists(jobs(lap)[0].fn("from-cluster.txt"))  # unknown: left alone
    assert os.path.exists(jobs(lap)[1].fn("from-cluster.txt"))
    # waiting for work whose state nobody can tell would never end: one line, nothing synced
    r = run(lap, "sync", far.url(clu.path), "--wait", "--poll", "1", *cli)
    assert r.returncode == 1
    assert r.stderr.strip().startswith("suite: error: cannot tell whether work still runs "
                                       "on the remote side"), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    # the submission was not dropped from the far side's book: the next sync still asks
    with open(clu.fn(".suite/flow/submissions.json")) as f:
        assert remote_id in json.load(f)
    subprocess.run(["scancel", remote_id], check=True)


def test_wait_and_include_active_exclude_each_other(pair):
    lap, clu = pair
    with pytest.raises(sync.SyncError, match="exclude each other"):
        sync.sync(lap, clu.path, wait=True, include_active=True)
    with pytest.raises(sync.SyncError, match="--poll"):
        sync.sync(lap, clu.path, wait=True, poll=0)


@pytest.mark.parametrize("text", ["{not json", '{"12": {"pairs": []}}'])
def test_a_damaged_submission_record_stops_the_sync_naming_it(transport, pair, text):
    lap, clu = pair
    os.makedirs(os.path.dirname(clu.fn(".suite/flow/submissions.json")))
    with open(clu.fn(".suite/flow/submissions.json"), "w") as f:
        f.write(text)
    write(jobs(clu)[0], "from-cluster.txt", "c")
    r = run(lap, "sync", transport.url(clu.path), *transport.cli)  # the far side's record
    assert r.returncode == 1
    assert len(r.stderr.strip().splitlines()) == 1 and "submissions.json" in r.stderr, r.stderr
    assert not os.path.exists(jobs(lap)[0].fn("from-cluster.txt"))
    # --include-active does not ask about work; the books are still exchanged, so a book
    # that cannot be read still stops it (one of the wrong shape too: taken into the other
    # copy's book, it would break every submit there)
    r = run(lap, "sync", transport.url(clu.path), "--include-active", *transport.cli)
    assert r.returncode == 1 and "submissions.json" in r.stderr, r.stderr
    assert not os.path.exists(jobs(lap)[0].fn("from-cluster.txt"))
    os.remove(clu.fn(".suite/flow/submissions.json"))
    r = run(lap, "sync", transport.url(clu.path), "--include-active", *transport.cli)
    assert r.returncode == 0, r.stderr
    assert os.path.exists(jobs(lap)[0].fn("from-cluster.txt"))


def test_each_sides_scheduler_is_asked_once_per_sync(pair, slurm, tmp_path, monkeypatch):
    """Many jobs with work on both sides: each side's scheduler is asked once in a sync, not
    once per job (a squeue on PATH that counts its calls, then runs the real one)."""
    import shutil

    lap, clu = pair
    here, there, idle = jobs(lap)
    ids = [submit_held(lap, here), submit_held(clu, clu.open_job(id=there.id)),
           submit_held(clu, clu.open_job(id=idle.id))]
    real = shutil.which("squeue")
    calls = tmp_path / "calls"
    wrap = tmp_path / "bin"
    wrap.mkdir()
    (wrap / "squeue").write_text(f'#!/bin/sh\necho x >> "{calls}"\nexec "{real}" "$@"\n')
    (wrap / "squeue").chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrap}{os.pathsep}{os.environ['PATH']}")
    try:
        r = run(lap, "sync", clu.path)
        assert r.returncode == 5 and r.stdout.count("ACTIVE") == 3, r.stdout + r.stderr
        assert calls.read_text().count("x") == 2  # the local side once, the remote side once
    finally:
        subprocess.run(["scancel", *ids], check=True)


def test_a_connection_lost_while_waiting_is_one_error_and_a_rerun_syncs(far, pair):
    lap, clu = pair
    proc, remote_id = _waiting_sync(far, lap, clu)
    # the network drops: the far server dies, and the sshd session that carried it (over the
    # local transport its parent is the client itself, which stays)
    for pid in _servers(clu.path):
        with open(f"/proc/{pid}/stat") as f:
            parent = int(f.read().rsplit(")", 1)[1].split()[1])
        for victim in ([int(pid)] if parent == proc.pid else [parent, int(pid)]):
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                pass
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 1, (out, err)
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("suite: error: ") and far.host in last, err  # names the far side
    assert not os.path.exists(jobs(lap)[0].fn("from-cluster.txt"))  # nothing was synced
    subprocess.run(["scancel", remote_id], check=True)
    rerun = subprocess.run(["suite", "sync", far.url(clu.path), "--wait", "--poll", "1",
                            *far.cli], cwd=lap.path, capture_output=True, text=True,
                           timeout=180)
    assert rerun.returncode == 0, rerun.stderr
    with open(jobs(lap)[0].fn("from-cluster.txt")) as f:
        assert f.read() == "c"
