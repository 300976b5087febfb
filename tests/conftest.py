"""Shared fixtures. Service fixtures (sshd, SLURM) skip with a reason when they cannot start,
unless SUITE_REQUIRE_SERVICES=1 (set by .ci/run), which turns those skips into failures."""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest

import suite

# Subprocesses of the tests (the `suite` console script, the far side of SSH sync) import this
# checkout, not whichever checkout the editable install points at.
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ["PYTHONPATH"] = os.pathsep.join(
    [REPO, *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]])


# A shell without job control starts a background command (`.ci/run &`, nohup) with SIGINT
# ignored, and an ignored signal stays ignored across exec: the programs the tests stop with
# Ctrl-C (dashboard, `run --on`, `sync --wait`) would never see it. A handled one is reset to
# the default at exec, so Python in each child raises KeyboardInterrupt again.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

def _ram_temp_root(path="/dev/shm", room=4 << 30):
    """``path`` when it is a writable RAM file system with ``room`` bytes free, else None."""
    try:
        with open("/proc/mounts") as f:
            kinds = {line.split()[1]: line.split()[2] for line in f if len(line.split()) > 2}
        st = os.statvfs(path)
    except OSError:
        return None
    if kinds.get(path) != "tmpfs" or not os.access(path, os.W_OK | os.X_OK) \
            or st.f_bavail * st.f_frsize < room:
        return None
    return path


# The tests' projects live in RAM where there is room for them: every commit of a project's
# index (SQLite, journal_mode=DELETE) syncs the disk, and on a busy disk those syncs were most
# of the run (the fast-path property tests: 33 s on disk, 6 s in RAM). PYTEST_DEBUG_TEMPROOT
# set by hand is kept.
if "PYTEST_DEBUG_TEMPROOT" not in os.environ:
    os.environ["PYTEST_DEBUG_TEMPROOT"] = _ram_temp_root() or tempfile.gettempdir()

# The shared temporary directories a test must leave as it found them (checked at the end of
# the run: :func:`pytest_sessionfinish`).
SHARED_TEMPS = sorted({"/dev/shm", os.environ["PYTEST_DEBUG_TEMPROOT"], tempfile.gettempdir()})
_SHARED_BEFORE = {d: set(os.listdir(d)) if os.path.isdir(d) else set() for d in SHARED_TEMPS}

# $TMPDIR and tempfile's default are this run's own directory, so that this process and the
# programs it starts agree (the direct scheduler keeps its statuses in $TMPDIR), and whatever
# a test leaves there is seen and named (:func:`_leaves_tmpdir_as_found`); a far side reached
# over sshd keeps its own. Removed at the end of the run, or by a watchdog when this process
# dies without one (a SIGKILLed run: tests/watchdog.py).
RUN_TMPDIR = os.environ["TMPDIR"] = tempfile.tempdir = tempfile.mkdtemp(
    prefix="suite-tests-", dir=os.environ["PYTEST_DEBUG_TEMPROOT"])


def _guard_run_tmpdir():
    from tests.watchdog import guard

    return guard([], remove=[RUN_TMPDIR])


_RUN_TMPDIR_GUARD = _guard_run_tmpdir()


def _listing(path):
    try:
        return set(os.listdir(path))
    except FileNotFoundError:
        return set()


@pytest.fixture(autouse=True)
def _leaves_tmpdir_as_found():
    """Fails the test (at its teardown) that leaves anything new in this run's $TMPDIR: a
    test's files belong in its tmp_path (and a test of the direct scheduler gives it a $TMPDIR
    of its own: :func:`private_tmpdir`)."""
    before = _listing(RUN_TMPDIR)
    yield
    left = sorted(_listing(RUN_TMPDIR) - before)
    if left:
        for name in left:
            _remove(os.path.join(RUN_TMPDIR, name))
        pytest.fail(f"the test left {left} in $TMPDIR", pytrace=False)


@pytest.fixture
def private_tmpdir(tmp_path, monkeypatch):
    """A $TMPDIR of the test's own (in tmp_path), for tests that start programs which keep
    files there (the direct scheduler's statuses)."""
    base = tmp_path / "tmp"
    base.mkdir()
    os.chmod(base, 0o1777)
    monkeypatch.setenv("TMPDIR", str(base))
    return base


def _remove(path):
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    else:
        try:
            os.unlink(path)
        except OSError:
            pass


def pytest_sessionfinish(session, exitstatus):
    """Fail the run if it left anything in $TMPDIR (after the session's fixtures ended);
    remove this run's $TMPDIR. Anything new in the shared temporary directories fails it
    too where the machine is the tests' alone (CI: SUITE_REQUIRE_SERVICES=1); elsewhere
    other programs put names there at the same time (a shared machine: every run listed
    a dozen of others'), so they are listed only."""
    left = sorted(_listing(RUN_TMPDIR))
    _remove(RUN_TMPDIR)
    _RUN_TMPDIR_GUARD.release()
    new = [os.path.join(d, name) for d in SHARED_TEMPS
           for name in sorted(_listing(d) - _SHARED_BEFORE[d])
           if not name.startswith(("pytest-of-", "suite-tests-"))]
    alone = os.environ.get("SUITE_REQUIRE_SERVICES") == "1"
    if left or new:
        session.config.get_terminal_writer().line(
            f"the tests left files behind: {left} in $TMPDIR; new in {', '.join(SHARED_TEMPS)}"
            f" since the run began{'' if alone else ' (by this run or another program)'}: "
            f"{new}", red=bool(left or alone))
        if (left or alone) and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def _no_deadlines():
    # hypothesis fails an example that takes longer than 200 ms: a timed assertion, which the
    # tests do not make (a loaded machine failed test_loads_many_reads_what_loads_reads's
    # first call at 722 ms, 0.05 ms when run again)
    from hypothesis import settings

    settings.register_profile("suite", deadline=None)
    settings.load_profile("suite")


_no_deadlines()


def skip_or_fail(reason):
    """Skip the test, or fail it when services are required (CI)."""
    if os.environ.get("SUITE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


def start_server(argv, name, **kwargs):
    """``subprocess.Popen(argv, **kwargs)`` of a server running in the foreground (program
    ``name``), watched over (tests/watchdog.py): it dies with this process, even a SIGKILLed
    one. End it with :func:`stop_process`."""
    from tests.watchdog import guard

    proc = subprocess.Popen(argv, **kwargs)
    try:
        proc.watchdog = guard([(proc.pid, name)])
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc


def stop_process(proc, timeout=10, sig=signal.SIGTERM):
    """End a server the tests started: ``sig``, then SIGKILL after ``timeout`` seconds; then
    its watchdog (:func:`start_server`), if it has one."""
    try:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    finally:
        watchdog = getattr(proc, "watchdog", None)
        if watchdog is not None:
            watchdog.release()


@pytest.fixture
def project(tmp_path):
    """An empty project in a temporary directory."""
    return suite.init_project(tmp_path / "project")


@pytest.fixture
def sweep(project):
    """A project with 24 jobs over a small sweep, with documents."""
    with suite.buffered():
        for a in range(4):
            for c in range(3):
                for flag in (True, False):
                    job = project.open_job({"a": a, "b": {"c": c, "d": "x" * c}, "flag": flag})
                    job.init()
                    job.doc.score = a * 10 + c
                    job.doc.tag = "even" if a % 2 == 0 else "odd"
    return project


# -- a real single-node SLURM (with its own munge), for tests/schedulers and tests/remote ----

def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """Start munged, slurmctld and slurmd under a temporary directory; yield SLURM_CONF."""
    yield from run_slurm(tmp_path_factory.mktemp("slurm"))


def run_slurm(root):
    """A generator: start SLURM under ``root`` (a pathlib.Path), yield SLURM_CONF, stop it
    when resumed (the fixture's body; bench/bench_remote.py drives it by hand)."""
    needed = ["munged", "slurmctld", "slurmd", "sbatch", "squeue"]
    missing = [c for c in needed if shutil.which(c) is None and not os.path.exists(
        f"/usr/sbin/{c}")]
    if missing:
        skip_or_fail(f"SLURM is not installed ({', '.join(missing)} missing; "
                     "apt-get install slurm-wlm munge)")
    for d in ("munge", "state", "spool", "log"):
        (root / d).mkdir()
    os.chmod(root / "munge", 0o700)
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    os.chmod(key, 0o400)
    sock = root / "munge" / "sock"
    # from the first daemon on, whatever ends this generator (a skip, an error, an interrupt,
    # close() at the yield) stops them; and a watchdog, this process dying (tests/watchdog.py)
    from tests.watchdog import guard

    watchdog = guard([(root / "munge" / "pid", "munged"), (root / "slurmctld.pid", "slurmctld"),
                      (root / "slurmd.pid", "slurmd")])
    try:
        subprocess.run(["munged", f"--socket={sock}", f"--key-file={key}",
                        f"--pid-file={root}/munge/pid", f"--log-file={root}/munge/log",
                        f"--seed-file={root}/munge/seed", "--force"], check=False)
        node = subprocess.run(["slurmd", "-C"], capture_output=True,
                              text=True).stdout.splitlines()
        node = " ".join(p for p in (node[0] if node else "").split()
                        if not p.startswith("RealMemory"))
        host = socket.gethostname()
        conf = root / "slurm.conf"
        conf.write_text("\n".join([
            "ClusterName=suitetest", f"SlurmctldHost={host}", "AuthType=auth/munge",
            "CredType=cred/munge", f"AuthInfo=socket={sock}", "SlurmUser=root",
            "SlurmdUser=root",
            f"StateSaveLocation={root}/state", f"SlurmdSpoolDir={root}/spool",
            f"SlurmctldPidFile={root}/slurmctld.pid", f"SlurmdPidFile={root}/slurmd.pid",
            f"SlurmctldLogFile={root}/log/slurmctld.log",
            f"SlurmdLogFile={root}/log/slurmd.log",
            f"SlurmctldPort={_free_port()}", f"SlurmdPort={_free_port()}",
            "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
            "SelectType=select/cons_tres", "SchedulerType=sched/backfill",
            "ReturnToService=2",
            # a batch job starts ~0.5 s after sbatch, not ~1.5 s (the default lets SLURM hold
            # new batch jobs up to 3 s to schedule them together)
            "SchedulerParameters=batch_sched_delay=0",
            "MpiDefault=none", "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none", "MinJobAge=300",
            f"{node} State=UNKNOWN",
            "PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP", ""]))
        env = {**os.environ, "SLURM_CONF": str(conf)}
        subprocess.run(["slurmctld", "-f", str(conf)], env=env, check=False)
        subprocess.run(["slurmd", "-f", str(conf)], env=env, check=False)
        deadline = time.time() + 30
        while time.time() < deadline:
            out = subprocess.run(["sinfo", "-h", "-o", "%t"], env=env, capture_output=True,
                                 text=True).stdout.strip()
            if out in ("idle", "mix", "alloc"):
                break
            time.sleep(0.5)
        else:
            logs = (root / "log" / "slurmctld.log").read_text()[-400:] if (
                root / "log" / "slurmctld.log").exists() else ""
            skip_or_fail(f"SLURM did not become idle: {logs}")
        old = os.environ.get("SLURM_CONF")
        os.environ["SLURM_CONF"] = str(conf)
        try:
            yield str(conf)
        finally:
            if old is None:
                os.environ.pop("SLURM_CONF", None)
            else:
                os.environ["SLURM_CONF"] = old
    finally:
        try:
            _stop(root)
        finally:
            watchdog.release()


def _stop(root):
    for pidfile in ("slurmd.pid", "slurmctld.pid", "munge/pid"):
        try:
            pid = int((root / pidfile).read_text().strip())
            os.kill(pid, 9)
        except (OSError, ValueError):
            pass
