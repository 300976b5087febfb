"""submit/run/status --on REMOTE and --everywhere over two loopback clusters (a: SLURM,
b: direct), the submission books that keep work from being done twice, and the faults."""

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
from suite.flow import book
from tests.remote.conftest import cut


def cli(project, *args, **kw):
    return subprocess.run([sys.executable, "-m", "suite", *args], cwd=project.path,
                          capture_output=True, text=True, timeout=120, **kw)


def far_book(info):
    """The far copy's book as its own suite reads it (a submit still running keeps its
    records in the book's journal until it ends)."""
    return book.load(suite.get_project(info["proj"]))


def cancel_held(info):
    """Cancel a test's held SLURM jobs, so the shared SLURM's queue is left as found."""
    ids = [e.get("id", k) for k, e in far_book(info).items()]
    if ids:
        subprocess.run(["scancel", *ids], capture_output=True, timeout=30)


def test_submit_on_two_clusters_shares_out_and_never_twice(laptop, clusters):
    done = cli(laptop, "submit", "--on", "b", "-o", "simulate", "--hold")
    # direct cannot hold: b refuses in one line, and nothing is recorded
    assert done.returncode == 1 and "direct scheduler cannot hold" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and book.load(laptop) == {}
    done = cli(laptop, "submit", "--on", "a,b", "--share", "a=2,b=1", "-o", "simulate")
    assert done.returncode == 0, done.stderr
    assert "a: submitted 4 script(s) to slurm" in done.stdout
    assert "b: submitted 2 script(s) to direct" in done.stdout
    mine = book.load(laptop)
    where = sorted(e["where"] for e in mine.values())
    assert where == ["a"] * 4 + ["b"] * 2
    pairs = [p for e in mine.values() for p in e["pairs"]]
    assert len(pairs) == len(set(map(tuple, pairs))) == 6  # each operation exactly once
    # a's records are known here: b does not get them (while a has them queued or running)
    a_jobs = {p[1] for e in mine.values() if e["where"] == "a" for p in e["pairs"]}
    again = cli(laptop, "submit", "--on", "b", "-o", "simulate", "-j", sorted(a_jobs)[0])
    assert again.returncode == 0, again.stderr
    assert "submitted 0 script(s)" in again.stdout
    assert "queued or running at a" in again.stderr or "submitted 0" in again.stdout


def test_status_everywhere_and_unreachable(laptop, clusters):
    for name in ("a", "b"):
        with suite.Remote(laptop, name) as far:
            far.push([])  # the workflow file
    sync.add_remote(laptop, "gone", "nohost.invalid:/x")
    done = cli(laptop, "status", "--everywhere")
    assert done.returncode == 6, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split()[:2] == ["operation", "location"]
    rows = {(ln.split()[0], ln.split()[1]): ln.split()[2:] for ln in lines[1:]
            if ln.split() and ln.split()[0] in ("simulate", "crawl")}
    assert rows[("simulate", "here")][0] == "6"
    assert rows[("simulate", "a")][0] == "6" and rows[("simulate", "b")][0] == "6"
    assert any(ln.startswith("gone: unreachable:") for ln in lines)
    data = json.loads(cli(laptop, "status", "--everywhere", "--json").stdout)
    assert set(data) == {"here", "a", "b", "gone"} and "error" in data["gone"]
    assert data["a"]["status"]["operations"]["simulate"]["eligible"] == 6
    ok = cli(laptop, "status", "--on", "b")
    assert ok.returncode == 0 and "simulate" in ok.stdout


def test_pretend_changes_nothing_on_either_side(laptop, clusters):
    before = sorted(os.listdir(clusters["a"]["proj"]))
    done = cli(laptop, "submit", "--on", "a", "--pretend", "-o", "simulate")
    assert done.returncode == 0, done.stderr
    assert "send file" in done.stdout and "workflow.py" in done.stdout
    assert "#SBATCH" in done.stdout and "sbatch" in done.stdout
    assert sorted(os.listdir(clusters["a"]["proj"])) == before
    assert not os.path.exists(os.path.join(clusters["a"]["proj"], "workflow.py"))
    assert book.load(laptop) == {} and far_book(clusters["a"]) == {}


def test_jobs_in_conflict_are_not_submitted(laptop, clusters):
    job = next(iter(laptop))
    job.doc.x = 1
    sync.sync(laptop, "b")
    job.doc.x = 2
    far = suite.get_project(clusters["b"]["proj"]).open_job(id=job.id)
    far.doc.x = 3
    done = cli(laptop, "submit", "--on", "b", "-o", "simulate")
    assert done.returncode == 0, done.stderr
    assert f"job {job.id} has unresolved sync conflicts" in done.stderr
    assert "submitted 5 script(s)" in done.stdout
    assert job.id not in {p[1] for e in far_book(clusters["b"]).values() for p in e["pairs"]}


def test_jobs_with_kept_both_copies_are_not_submitted(laptop, clusters):
    job = next(iter(laptop))
    with open(job.fn("in.txt"), "w") as f:
        f.write("here")
    far = suite.get_project(clusters["b"]["proj"]).open_job(id=job.id)
    with open(far.fn("in.txt"), "w") as f:
        f.write("there")
    assert sync.sync(laptop, "b", keep_both=True).exit_status == 0
    done = cli(laptop, "submit", "--on", "b", "-o", "simulate")
    assert done.returncode == 0, done.stderr
    assert f"job {job.id} has unresolved sync conflicts" in done.stderr
    assert "submitted 5 script(s)" in done.stdout


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "client-gone"])
def test_run_on_streams_output_and_a_stop_ends_the_far_run(laptop, clusters, how):
    for job in laptop:  # reaches b by run --on's own push
        job.doc.slow = job.sp.a == 0
    proc = subprocess.Popen([sys.executable, "-m", "suite", "run", "--on", "b", "-o", "crawl"],
                            cwd=laptop.path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    # the stop comes once the far side's operation runs and its first line has come back
    # here (waited for, up to 60 s: a fixed pause was outrun on a loaded machine)
    streamed = []
    reader = threading.Thread(target=lambda: streamed.extend(iter(proc.stdout.readline, "")))
    reader.start()
    pidfile = os.path.join(clusters["b"]["proj"], "crawl.pid")
    deadline = time.time() + 60
    while not (os.path.exists(pidfile) and open(pidfile).read().strip()
               and any("started" in line for line in streamed)):
        assert time.time() < deadline and proc.poll() is None, streamed
        time.sleep(0.05)
    far_pid = int(open(pidfile).read())
    os.kill(far_pid, 0)  # the far side's operation runs
    proc.send_signal(how)
    proc.wait(timeout=30)
    reader.join(timeout=30)
    proc.stderr.close()
    assert any("started" in line for line in streamed)  # streamed back before the stop
    deadline = time.time() + 30  # TERM, then KILL after 5 s; a loaded machine is slower
    while time.time() < deadline:
        try:
            os.kill(far_pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.1)
    else:
        pytest.fail("the far side's run was not stopped")
    assert proc.returncode != 0


def test_cut_after_push_before_submit_records_nothing(laptop, clusters):
    info = clusters["b"]
    with suite.Remote(laptop, "b") as far:
        far.push([j.id for j in laptop])
        cut(info["proj"])
        with pytest.raises(suite.SuiteError):
            far.submit(ops=["simulate"], push=False)
    assert book.load(laptop) == {} and far_book(info) == {}


def test_cut_after_the_far_side_submitted_before_the_ids_came_back(laptop, clusters):
    info = clusters["a"]
    (info["root"] / "slow").write_text("")  # the far side's second sbatch waits
    errors = []
    first, second = sorted(job.id for job in laptop)[:2]

    def submit():
        try:
            with suite.Remote(laptop, "a") as far:
                far.submit(ops=["simulate"], ids=[first, second], hold=True)
        except suite.SuiteError as exc:
            errors.append(exc)

    worker = threading.Thread(target=submit)
    worker.start()
    deadline = time.time() + 60
    while not far_book(info) and time.time() < deadline:
        time.sleep(0.05)
    cut(info["proj"])
    worker.join(60)
    (info["root"] / "slow").unlink()
    assert errors and len(far_book(info)) == 1  # the far side recorded its submission
    assert book.load(laptop) == {}  # the ids never came back
    status = cli(laptop, "status", "--on", "a", "--json")
    counts = json.loads(status.stdout)["a"]["status"]["operations"]["simulate"]
    assert counts.get("submitted", 0) + counts.get("running", 0) + counts["complete"] >= 1
    recorded = [p[1] for e in far_book(info).values() for p in e["pairs"]]
    assert recorded in ([first], [second])
    again = cli(laptop, "submit", "--on", "a", "-o", "simulate", "-j", recorded[0])
    assert again.returncode == 0, again.stderr
    assert "submitted 0 script(s)" in again.stdout  # still held there: not submitted twice
    assert len(far_book(info)) == 1
    cancel_held(info)


def old_suite(tmp_path):
    """A far "suite" that says hello in protocol version 4."""
    old = tmp_path / "old_suite"
    old.write_text(f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {os.getcwd()!r})\n"
                   "from sync import protocol\n"
                   "protocol.write_frame(sys.stdout.buffer, {'ok': True, 'version': 4})\n")
    old.chmod(0o755)
    return old


def test_far_side_faults_are_one_line(laptop, clusters, tmp_path):
    done = cli(laptop, "submit", "--on", "b", "--scheduler", "pbs", "-o", "simulate")
    assert done.returncode == 1 and len(done.stderr.strip().splitlines()) == 1
    assert "qsub" in done.stderr
    done = cli(laptop, "status", "--on", "b", "--remote-suite", "/nonexistent")
    assert done.returncode == 6 and "suite is not installed" in done.stdout
    old = old_suite(tmp_path)
    done = cli(laptop, "submit", "--on", "b", "--remote-suite", str(old))
    assert done.returncode == 1 and "speaks sync protocol 4" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_two_submits_at_once_never_submit_one_operation_twice(laptop, clusters):
    # held: the jobs stay queued, so any second submission would be a duplicate
    procs = [subprocess.Popen([sys.executable, "-m", "suite", "submit", "--on", "a", "-o",
                               "simulate", "--hold"], cwd=laptop.path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    pairs = [tuple(p) for e in far_book(clusters["a"]).values() for p in e["pairs"]]
    assert len(pairs) == len(set(pairs)) == 6
    cancel_held(clusters["a"])


def test_status_on_leaves_out_invoke_unless_the_ssh_config_runs_match_exec(laptop, clusters):
    # status --on imports nothing it does not use (h5py, numpy, jinja2, ...); paramiko
    # imports invoke (asyncio, unittest.mock, yaml: half its import time) only to
    # run "Match exec" lines; status --on imports it only for a config that has one
    with suite.Remote(laptop, "b") as far:
        far.push([])  # the workflow file
    code = ("import sys\nfrom suite.cli import main\n"
            "try:\n    main(['status', '--on', 'b'])\nexcept SystemExit as exc:\n"
            "    assert not exc.code, (exc.code, sys.stdout.flush())\n"
            "unused = ('h5py', 'numpy', 'jinja2', 'deepdiff', 'zstandard', 'schedulers')\n"
            "assert not [m for m in unused if m in sys.modules], sys.modules.keys()\n"
            "print('invoke' in sys.modules, 'paramiko' in sys.modules)\n"
            "import invoke\nprint(invoke.run('true', hide=True).ok)\n")
    done = subprocess.run([sys.executable, "-c", code], cwd=laptop.path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "simulate" in done.stdout  # the far side answered
    assert done.stdout.splitlines()[-2:] == ["False True", "True"]  # invoke still importable
    config = os.path.join(os.environ["HOME"], ".ssh", "config")
    with open(config) as f:
        hosts = f.read()
    marker = os.path.join(os.path.dirname(config), "matched")
    with open(config, "w") as f:  # a Match exec line (here true for b) is still run
        f.write(f'Match host b exec "touch {marker}"\n  User root\n\n{hosts}')
    done = subprocess.run([sys.executable, "-c", code], cwd=laptop.path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-2:] == ["True True", "True"]
    assert os.path.exists(marker)


def test_status_is_asked_before_the_far_side_says_hello(laptop, clusters, tmp_path):
    with suite.Remote(laptop, "b") as far:
        far.push([])  # the workflow file
        expected = far.status()["status"]["operations"]
    # a far side that says hello only once the status request has come: the client must
    # send it with the connection, not wait for the hello first (which would time out)
    held = tmp_path / "held_suite"
    held.write_text(
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {os.getcwd()!r})\n"
        "from sync import protocol, server\n"
        "got, ops = bytearray(), []\n"
        "while 'flow_status' not in ops:\n"
        "    header, payload = protocol.read_frame(sys.stdin.buffer)\n"
        "    ops.append(header['op'])\n"
        "    got += protocol.encode_frame(header, payload)\n"
        "class Replay:\n"
        "    def read(self, n):\n"
        "        global got\n"
        "        if got:\n"
        "            out, got = bytes(got[:n]), got[n:]\n"
        "            return out\n"
        "        return sys.stdin.buffer.read1(n)\n"
        "sys.stderr.write(' '.join(ops))\n"
        "sys.exit(server.serve(sys.argv[2], Replay()))\n")
    held.chmod(0o755)
    far = suite.Remote(laptop, "b", remote_suite=str(held), timeout=10)
    try:
        far.connect(status={})
        assert far.status()["status"]["operations"] == expected
        assert far.status(ops=["simulate"])["status"]["operations"]["simulate"] \
            == expected["simulate"]  # other arguments: asked again
    finally:
        far.__exit__(None, None, None)
    # a far side of another version still says so in one line
    old = old_suite(tmp_path)
    done = cli(laptop, "status", "--on", "b", "--remote-suite", str(old))
    assert done.returncode == 6 and "b: unreachable:" in done.stdout
    assert "speaks sync protocol 4" in done.stdout


def far_doc(info, job):
    return suite.get_project(info["proj"]).open_job(id=job.id).document()


def test_submit_on_pushes_only_the_jobs_it_submits_for(laptop, clusters):
    info = clusters["b"]
    jobs = sorted(laptop, key=lambda j: j.sp.a)
    for job in jobs:  # every job changed here since the first sync
        job.doc.note = "changed"
    with open(jobs[4].fn("out.txt"), "w") as f:  # complete here: not eligible, not pushed
        f.write("done")
    done = cli(laptop, "submit", "--on", "b", "-o", "simulate", "-j", jobs[0].id,
               "-j", jobs[4].id)
    assert done.returncode == 0, done.stderr
    assert "b: submitted 1 script(s) to direct" in done.stdout
    assert far_doc(info, jobs[0]) == {"note": "changed"}
    assert all(far_doc(info, job) == {} for job in jobs[1:])  # the others stay unpushed
    # -n: the first N operations eligible here are what is pushed and submitted
    plan = cli(laptop, "submit", "--on", "b", "-o", "simulate", "-n", "2", "--pretend")
    assert plan.returncode == 0, plan.stderr
    lines = plan.stdout.splitlines()
    push = lines[lines.index("# push to b:") + 1:]
    push = push[:next(k for k, ln in enumerate(push) if ln.startswith("would change"))]
    pushed = {ln.split()[-1].split("/")[0] for ln in push if "(project)" not in ln}
    assert len(pushed) == 2 and jobs[4].id not in pushed
    assert all(far_doc(info, job) == {} for job in jobs[1:])  # pretend changed nothing
    done = cli(laptop, "submit", "--on", "b", "-o", "simulate", "-n", "2")
    assert done.returncode == 0, done.stderr
    assert "b: submitted 2 script(s) to direct" in done.stdout
    changed = {job.id for job in jobs if far_doc(info, job)}
    assert changed == {jobs[0].id} | pushed


def test_submit_on_with_the_workflow_only_on_the_far_side_pushes_all(laptop, clusters):
    info = clusters["b"]
    os.replace(os.path.join(laptop.path, "workflow.py"), os.path.join(info["proj"],
                                                                     "workflow.py"))
    for job in laptop:
        job.doc.note = "changed"
    done = cli(laptop, "submit", "--on", "b", "-o", "simulate")
    assert done.returncode == 0, done.stderr
    assert "b: submitted 6 script(s) to direct" in done.stdout  # the far side chose
    assert all(far_doc(info, job) == {"note": "changed"} for job in laptop)


def test_submit_on_asks_the_far_side_what_still_runs_there(laptop, clusters):
    info = clusters["b"]
    job = next(iter(laptop))
    done = cli(laptop, "submit", "--on", "b", "-o", "simulate", "-j", job.id)
    assert "b: submitted 1 script(s)" in done.stdout, done.stderr
    assert any(e["where"] == "b" for e in book.load(laptop).values())  # known here
    out = os.path.join(info["proj"], "workspace", job.id, "out.txt")
    deadline = time.time() + 30
    while not os.path.exists(out) and time.time() < deadline:
        time.sleep(0.1)
    os.remove(out)  # it ran there and left no result (as if it failed)
    # this copy's book still lists it at b; b's scheduler no longer does: submitted again
    again = cli(laptop, "submit", "--on", "b", "-o", "simulate", "-j", job.id)
    assert again.returncode == 0, again.stderr
    assert "b: submitted 1 script(s)" in again.stdout and "skipped" not in again.stderr


def test_submit_on_n_makes_up_what_the_far_side_finds_done(laptop, clusters):
    info = clusters["b"]
    first = cli(laptop, "submit", "--on", "b", "-o", "simulate", "-n", "2")
    assert "b: submitted 2 script(s)" in first.stdout, first.stderr

    def done_there():
        return {job.id for job in laptop
                if os.path.exists(os.path.join(info["proj"], "workspace", job.id, "out.txt"))}

    deadline = time.time() + 30
    while len(done_there()) < 2 and time.time() < deadline:
        time.sleep(0.1)
    ran = done_there()
    assert len(ran) == 2
    # not synced back: here the same two are still eligible; b finds them complete
    again = cli(laptop, "submit", "--on", "b", "-o", "simulate", "-n", "2")
    assert again.returncode == 0, again.stderr
    assert "b: submitted 2 script(s)" in again.stdout
    deadline = time.time() + 30
    while len(done_there()) < 4 and time.time() < deadline:
        time.sleep(0.1)
    assert len(done_there()) == 4 and ran < done_there()


def test_run_through_the_python_api_streams_output_and_returns_the_exit(laptop, clusters):
    """Remote.run: pushes, runs the far side's `suite run`, hands its output over as it
    comes and returns its exit status; the far copy holds what ran (the laptop does not,
    until a sync)."""
    heard = []
    with suite.Remote(laptop, "b") as far:
        status = far.run(["-o", "simulate", "--progress"],
                         output=lambda stream, data: heard.append((stream, data)))
    assert status == 0, heard
    assert {stream for stream, _ in heard} <= {"out", "err"} and heard
    far_project = suite.get_project(clusters["b"]["proj"])
    assert sorted(os.path.exists(job.fn("out.txt")) for job in far_project) == [True] * 6
    assert not any(os.path.exists(job.fn("out.txt")) for job in laptop)
    with suite.Remote(laptop, "b") as far:
        failed = far.run(["-o", "no_such_operation"], output=lambda *a: None)
    assert failed != 0


def test_submit_on_pushes_the_templates_and_pretend_only_lists_them(laptop, clusters):
    """templates/ travels with the workflow file (hidden files and folders stay here);
    --pretend lists it in the push plan and sends nothing."""
    tdir = os.path.join(laptop.path, "templates")
    os.makedirs(os.path.join(tdir, "site"))
    os.makedirs(os.path.join(tdir, ".git"))
    for rel, text in (("mine.sh", "# my template\n"), ("site/extra.sh", "# extra\n"),
                      (".hidden", "no\n"), (".git/HEAD", "no\n")):
        with open(os.path.join(tdir, rel), "w") as f:
            f.write(text)
    far_templates = os.path.join(clusters["b"]["proj"], "templates")
    done = cli(laptop, "submit", "--on", "b", "--pretend", "-o", "simulate")
    assert done.returncode == 0, done.stderr
    assert "templates/mine.sh" in done.stdout and "templates/site/extra.sh" in done.stdout
    assert not os.path.exists(far_templates)
    done = cli(laptop, "submit", "--on", "b", "-o", "simulate")
    assert done.returncode == 0, done.stderr
    with open(os.path.join(far_templates, "mine.sh")) as f:
        assert f.read() == "# my template\n"
    with open(os.path.join(far_templates, "site", "extra.sh")) as f:
        assert f.read() == "# extra\n"
    assert sorted(os.listdir(far_templates)) == ["mine.sh", "site"]


def test_connection_lost_during_status_is_named_and_the_others_still_shown(laptop, clusters,
                                                                           tmp_path):
    """A far side whose connection drops once the status request has come (it exits without
    answering): --everywhere names that location's lost connection in one line, still shows
    the others, and exits non-zero. (Reached, then lost: reported as an error, exit 1, not as
    unreachable, exit 6.)"""
    for name in ("a", "b"):
        with suite.Remote(laptop, name) as far:
            far.push([])  # the workflow file
    dropped = tmp_path / "dropping_suite"
    dropped.write_text(
        f"#!{sys.executable}\nimport os, sys\nsys.path.insert(0, {os.getcwd()!r})\n"
        "from sync import protocol\n"
        "protocol.write_frame(sys.stdout.buffer, {'ok': True, 'version': protocol.VERSION})\n"
        "sys.stdout.buffer.flush()\n"
        "while True:\n"
        "    header, _ = protocol.read_frame(sys.stdin.buffer)\n"
        "    if header is None or header.get('op') == 'flow_status':\n"
        "        os._exit(0)  # gone without a word, as when the network drops\n")
    dropped.chmod(0o755)
    sync.add_remote(laptop, "flaky", f"b:{clusters['b']['proj']}", remote_suite=str(dropped))
    done = cli(laptop, "status", "--everywhere")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    lines = done.stdout.splitlines()
    assert [ln for ln in lines if ln.startswith("flaky:")] == [
        "flaky: error: connection to b closed"]
    locations = {ln.split()[1] for ln in lines if ln.split() and ln.split()[0] == "simulate"}
    assert locations == {"here", "a", "b"}
