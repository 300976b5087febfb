"""A real single-node SLURM (with its own munge) started for the tests."""

import os
import pwd
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


SGE_ROOT = "/var/lib/gridengine"  # Debian's gridengine packages


def _qconf(*args, env, check=True):
    r = subprocess.run(["qconf", *args], env=env, capture_output=True, text=True, timeout=30)
    if check and r.returncode:
        raise RuntimeError(f"qconf {' '.join(args)}: {r.stdout}{r.stderr}")
    return r.stdout + r.stderr


def _running(name):
    return subprocess.run(["pgrep", "-f", name], capture_output=True).returncode == 0


@pytest.fixture(scope="session")
def sge(tmp_path_factory):
    """A real single-node Grid Engine (Debian's gridengine packages): qmaster and execd on
    this host, one queue all.q with 2 slots and a parallel environment smp. The cell lives in
    /var/lib/gridengine (system-wide, as the packages install it); set up once, reused."""
    if not os.path.exists("/usr/sbin/sge_qmaster") or shutil.which("qsub") is None:
        skip_or_fail("Grid Engine is not installed (apt-get install gridengine-master "
                     "gridengine-exec gridengine-client)")
    if os.geteuid() != 0:
        skip_or_fail("starting Grid Engine's daemons needs root")
    if "1" not in (os.environ.get("SUITE_REQUIRE_SERVICES"), os.environ.get("SUITE_TEST_SGE")):
        # it reconfigures the machine's own Grid Engine cell: never by surprise
        pytest.skip("set SUITE_TEST_SGE=1 to let the tests set up this machine's Grid Engine "
                    "(CI does, through SUITE_REQUIRE_SERVICES=1)")
    host = socket.gethostname()
    env = {**os.environ, "SGE_ROOT": SGE_ROOT, "SGE_CELL": "default"}
    common = os.path.join(SGE_ROOT, "default", "common")
    spool = "/var/spool/gridengine/spooldb"
    if not os.path.exists(os.path.join(spool, "sge")):
        subprocess.run(["/usr/share/gridengine/scripts/init_cluster", SGE_ROOT, "default",
                        spool, "sgeadmin"], env=env, check=False, capture_output=True)
    # containers resolve 127.0.0.1 to "localhost" first; Grid Engine refuses clients whose
    # address resolves to another name than their own, unless the names are aliases
    with open(os.path.join(common, "host_aliases"), "w") as f:
        f.write(f"{host} localhost\n")
    for attempt in range(2):
        if attempt:  # a qmaster started before the aliases existed refuses us: restart it
            subprocess.run(["pkill", "-9", "-f", "sge_(qmaster|execd)"], check=False)
            time.sleep(1)
        if not _running("sge_qmaster"):
            with open(os.path.join(common, "act_qmaster"), "w") as f:
                f.write(host + "\n")
            subprocess.run(["/usr/sbin/sge_qmaster"], env=env, check=False)
        deadline = time.time() + 20
        while subprocess.run(["qconf", "-sh"], env=env, capture_output=True).returncode:
            if time.time() > deadline:
                break
            time.sleep(0.5)
        else:
            break
    else:
        skip_or_fail("sge_qmaster did not answer")
    work = tmp_path_factory.mktemp("sge")
    try:
        if host not in _qconf("-ss", env=env, check=False):
            _qconf("-as", host, env=env)
        if host not in _qconf("-sel", env=env, check=False):
            (work / "host").write_text(
                f"hostname {host}\nload_scaling NONE\ncomplex_values NONE\nuser_lists NONE\n"
                "xuser_lists NONE\nprojects NONE\nxprojects NONE\nusage_scaling NONE\n"
                "report_variables NONE\n")
            _qconf("-Ae", str(work / "host"), env=env)
        if "@allhosts" not in _qconf("-shgrpl", env=env, check=False):
            (work / "hg").write_text(f"group_name @allhosts\nhostlist {host}\n")
            _qconf("-Ahgrp", str(work / "hg"), env=env)
        if "smp" not in _qconf("-spl", env=env, check=False).split():
            (work / "pe").write_text(
                "pe_name smp\nslots 999\nuser_lists NONE\nxuser_lists NONE\n"
                "start_proc_args /bin/true\nstop_proc_args /bin/true\n"
                "allocation_rule $pe_slots\ncontrol_slaves FALSE\njob_is_first_task TRUE\n"
                "urgency_slots min\naccounting_summary FALSE\nqsort_args NONE\n")
            _qconf("-Ap", str(work / "pe"), env=env)
        if "all.q" not in _qconf("-sql", env=env, check=False).split():
            template = _qconf("-sq", env=env)  # the default queue template
            lines = []
            for line in template.splitlines():
                key = line.split(" ")[0]
                value = {"qname": "all.q", "hostlist": "@allhosts", "slots": "2",
                         "pe_list": "smp"}.get(key)
                lines.append(f"{key} {value}" if value else line)
            (work / "q").write_text("\n".join(lines) + "\n")
            _qconf("-Aq", str(work / "q"), env=env)
        conf = _qconf("-sconf", "global", env=env)
        if "min_uid                      0\n" not in conf:  # root submits in the tests
            (work / "global").write_text("\n".join(
                "min_uid 0" if line.startswith("min_uid") else
                "min_gid 0" if line.startswith("min_gid") else line
                for line in conf.splitlines()) + "\n")
            _qconf("-Mconf", str(work / "global"), env=env)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        skip_or_fail(f"cannot configure Grid Engine: {exc}")
    if not _running("sge_execd"):
        subprocess.run(["/usr/sbin/sge_execd"], env=env, check=False)
    deadline = time.time() + 60
    while True:  # the queue instance is usable once execd reports a load (no "au" state)
        out = subprocess.run(["qstat", "-f", "-q", "all.q"], env=env, capture_output=True,
                             text=True).stdout
        row = next((line for line in out.splitlines() if line.startswith("all.q@")), "")
        if row and "-NA-" not in row and not row.rstrip().endswith(("au", "u", "E")):
            break
        if time.time() > deadline:
            skip_or_fail(f"Grid Engine's queue did not come up: {out[-300:]}")
        time.sleep(1)
    # jobs of this user left by an earlier, interrupted test run would hold the slots
    subprocess.run(["qdel", "-f", "-u", pwd.getpwuid(os.geteuid()).pw_name], env=env,
                   capture_output=True, check=False)
    saved = {k: os.environ.get(k) for k in ("SGE_ROOT", "SGE_CELL")}
    os.environ.update(SGE_ROOT=SGE_ROOT, SGE_CELL="default")
    yield env
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
