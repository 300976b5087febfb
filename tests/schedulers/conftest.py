"""A real single-node SLURM (with its own munge) started for the tests."""

import os
import shutil
import socket
import subprocess
import time

import pytest

from tests.conftest import skip_or_fail


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def slurm(tmp_path_factory):
    """Start munged, slurmctld and slurmd under a temporary directory; yield SLURM_CONF."""
    needed = ["munged", "slurmctld", "slurmd", "sbatch", "squeue"]
    missing = [c for c in needed if shutil.which(c) is None and not os.path.exists(
        f"/usr/sbin/{c}")]
    if missing:
        skip_or_fail(f"SLURM is not installed ({', '.join(missing)} missing; "
                     "apt-get install slurm-wlm munge)")
    root = tmp_path_factory.mktemp("slurm")
    for d in ("munge", "state", "spool", "log"):
        (root / d).mkdir()
    os.chmod(root / "munge", 0o700)
    key = root / "munge" / "munge.key"
    key.write_bytes(os.urandom(1024))
    os.chmod(key, 0o400)
    sock = root / "munge" / "sock"
    subprocess.run(["munged", f"--socket={sock}", f"--key-file={key}",
                    f"--pid-file={root}/munge/pid", f"--log-file={root}/munge/log",
                    f"--seed-file={root}/munge/seed", "--force"], check=False)
    node = subprocess.run(["slurmd", "-C"], capture_output=True, text=True).stdout.splitlines()
    node = " ".join(p for p in (node[0] if node else "").split() if not p.startswith("RealMemory"))
    host = socket.gethostname()
    conf = root / "slurm.conf"
    conf.write_text("\n".join([
        "ClusterName=suitetest", f"SlurmctldHost={host}", "AuthType=auth/munge",
        "CredType=cred/munge", f"AuthInfo=socket={sock}", "SlurmUser=root", "SlurmdUser=root",
        f"StateSaveLocation={root}/state", f"SlurmdSpoolDir={root}/spool",
        f"SlurmctldPidFile={root}/slurmctld.pid", f"SlurmdPidFile={root}/slurmd.pid",
        f"SlurmctldLogFile={root}/log/slurmctld.log", f"SlurmdLogFile={root}/log/slurmd.log",
        f"SlurmctldPort={_free_port()}", f"SlurmdPort={_free_port()}",
        "ProctrackType=proctrack/linuxproc", "TaskPlugin=task/none",
        "SelectType=select/cons_tres", "SchedulerType=sched/backfill", "ReturnToService=2",
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
        _stop(root)
        skip_or_fail(f"SLURM did not become idle: {logs}")
    old = os.environ.get("SLURM_CONF")
    os.environ["SLURM_CONF"] = str(conf)
    yield str(conf)
    if old is None:
        os.environ.pop("SLURM_CONF", None)
    else:
        os.environ["SLURM_CONF"] = old
    _stop(root)


def _stop(root):
    for pidfile in ("slurmd.pid", "slurmctld.pid", "munge/pid"):
        try:
            pid = int((root / pidfile).read_text().strip())
            os.kill(pid, 9)
        except (OSError, ValueError):
            pass


@pytest.fixture(scope="session")
def sge(tmp_path_factory):
    """A real single-node Grid Engine (Debian's gridengine packages) in a cell of its own
    (``tests/schedulers/sge_cell.py``): qmaster and execd on free ports, one queue all.q with
    2 slots and a parallel environment smp; stopped and removed at the end of the session."""
    from .sge_cell import Cell, CellError

    if not os.path.exists("/usr/sbin/sge_qmaster") or shutil.which("qsub") is None:
        skip_or_fail("Grid Engine is not installed (apt-get install gridengine-master "
                     "gridengine-exec gridengine-client)")
    if os.geteuid() != 0:
        skip_or_fail("starting Grid Engine's daemons needs root")
    if "1" not in (os.environ.get("SUITE_REQUIRE_SERVICES"), os.environ.get("SUITE_TEST_SGE")):
        # it starts daemons as root and adds a cell under /var/lib/gridengine for the session
        pytest.skip("set SUITE_TEST_SGE=1 to let the tests start a Grid Engine cell of their "
                    "own (CI does, through SUITE_REQUIRE_SERVICES=1)")
    cell = Cell()
    try:
        cell.create()
        cell.start(tmp_path_factory.mktemp("sge"))
    except (CellError, OSError, KeyError, subprocess.TimeoutExpired) as exc:
        cell.stop()
        skip_or_fail(f"cannot start a Grid Engine cell: {exc}")
    keys = ("SGE_ROOT", "SGE_CELL", "SGE_QMASTER_PORT", "SGE_EXECD_PORT")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: cell.env[k] for k in keys})
    try:
        yield cell.env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        cell.stop()
