"""A Grid Engine cell of the tests' own: ``$SGE_ROOT/suitetest-<random>`` with its spool inside
it, daemons on free ports, stopped and removed afterwards. The machine's own cells, daemons,
ports and files are never touched (Debian's gridengine packages keep one cell, ``default``)."""

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
import uuid

SGE_ROOT = "/var/lib/gridengine"  # Debian's gridengine packages
ADMIN = "sgeadmin"
LIB = "/usr/lib/gridengine"
DEFAULTS = "/usr/share/gridengine"

#: the clients the tests and suite run. Debian's /usr/bin/q* is a shell wrapper that runs
#: util/arch twice (cpp, ldd, ~35 processes: 0.6 s a call on a busy machine) only to set
#: SGE_ARCH, which the clients do not read; the cell puts links to the binaries first on PATH
CLIENTS = ("qsub", "qstat", "qdel", "qrls", "qhold", "qconf", "qalter", "qacct", "qhost",
           "qmod", "qselect")

#: the scheduler's configuration: a run every second and right after each submission and
#: each finished job (Grid Engine's defaults: every 15 s, not on events), so that a released
#: job starts within about a second; the tests' jobs take seconds, not the 15 s of waiting
SCHEDULER = {"schedule_interval": "0:0:1", "flush_submit_sec": "1", "flush_finish_sec": "1"}


class CellError(RuntimeError):
    """The cell could not be set up (the message says which step)."""


def _free_port():
    with socket.socket() as s:
        s.bind(("", 0))
        return s.getsockname()[1]


class Cell:
    """``create()``, ``start()``, then ``env`` for clients; ``stop()`` always (also after a
    failed start) stops the daemons this cell started and removes the cell."""

    def __init__(self):
        self.name = f"suitetest-{uuid.uuid4().hex[:8]}"
        self.dir = os.path.join(SGE_ROOT, self.name)
        self.spool = os.path.join(self.dir, "spool")
        self.host = socket.gethostname()
        self.bin = os.path.join(self.dir, "bin")
        self._watchdog = None  # ends the daemons and removes the cell if this process dies
        # (tests/watchdog.py): from create() on
        self.env = {**os.environ, "SGE_ROOT": SGE_ROOT, "SGE_CELL": self.name,
                    "PATH": os.pathsep.join([self.bin, os.environ.get("PATH", os.defpath)]),
                    "SGE_QMASTER_PORT": str(_free_port()),
                    "SGE_EXECD_PORT": str(_free_port())}

    def _admin(self, *cmd):
        """Run ``cmd`` as the Grid Engine admin user (the spool belongs to it)."""
        entry = pwd.getpwnam(ADMIN)
        r = subprocess.run(cmd, env=self.env, cwd=self.dir, capture_output=True, text=True,
                           user=entry.pw_uid, group=entry.pw_gid, timeout=60)
        if r.returncode:
            raise CellError(f"{' '.join(cmd)}: {r.stdout}{r.stderr}")

    def create(self):
        """The cell's files, as Debian's init_cluster makes them, but with its own spool."""
        from tests.watchdog import guard

        # from here on the cell's directory goes with this process, even a SIGKILLed one
        # (its daemons first, once started)
        self._watchdog = guard([
            (os.path.join(self.spool, "qmaster", "qmaster.pid"), "sge_qmaster"),
            (os.path.join(self.spool, "execd", "*", "execd.pid"), "sge_execd")], grace=10,
            remove=[self.dir])
        entry = pwd.getpwnam(ADMIN)
        common = os.path.join(self.dir, "common")
        os.makedirs(common)
        for d in ("qmaster", "qmaster/job_scripts", "spooldb", "execd"):
            os.makedirs(os.path.join(self.spool, d))
        with open(os.path.join(DEFAULTS, "default-bootstrap")) as f:
            bootstrap = f.read().replace("/var/spool/gridengine", self.spool)
        # root submits in the tests; the execd spools inside the cell
        config = []
        with open(os.path.join(DEFAULTS, "default-configuration")) as f:
            for line in f:
                key = line.split(" ")[0]
                value = {"execd_spool_dir": os.path.join(self.spool, "execd"), "min_uid": "0",
                         "min_gid": "0"}.get(key)
                config.append(f"{key} {value}\n" if value else line)
        files = {"bootstrap": bootstrap, "configuration": "".join(config),
                 "act_qmaster": self.host + "\n",
                 # containers resolve 127.0.0.1 to "localhost" first; Grid Engine refuses
                 # clients whose address resolves to another name, unless aliased
                 "host_aliases": f"{self.host} localhost\n"}
        for name, text in files.items():
            with open(os.path.join(common, name), "w") as f:
                f.write(text)
        for d, _, names in os.walk(self.dir):
            for path in [d, *(os.path.join(d, n) for n in names)]:
                os.chown(path, entry.pw_uid, entry.pw_gid)
        self._admin(f"{LIB}/spoolinit", "berkeleydb", "libspoolb",
                    os.path.join(self.spool, "spooldb"), "init")
        self._admin(f"{LIB}/spooldefaults", "configuration", os.path.join(common, "configuration"))
        self._admin(f"{LIB}/spooldefaults", "complexes", f"{DEFAULTS}/util/resources/centry")
        self._admin(f"{LIB}/spooldefaults", "usersets", f"{DEFAULTS}/util/resources/usersets")
        self._admin(f"{LIB}/spooldefaults", "managers", ADMIN)
        os.makedirs(self.bin)
        for name in CLIENTS:
            os.symlink(os.path.join(LIB, name), os.path.join(self.bin, name))

    def qconf(self, *args, check=True):
        r = subprocess.run(["qconf", *args], env=self.env, capture_output=True, text=True,
                           timeout=30)
        if check and r.returncode:
            raise CellError(f"qconf {' '.join(args)}: {r.stdout}{r.stderr}")
        return r.stdout + r.stderr

    def start(self, work):
        """Start qmaster, configure one host, queue all.q (2 slots) and PE smp, start execd and
        wait until the queue takes jobs. ``work`` is a scratch directory."""
        subprocess.run(["/usr/sbin/sge_qmaster"], env=self.env, check=False)
        if not _wait(lambda: subprocess.run(["qconf", "-sh"], env=self.env,
                                            capture_output=True).returncode == 0, 30):
            raise CellError(f"sge_qmaster did not answer: {self._log('qmaster/messages')}")
        self.qconf("-as", self.host)
        with open(os.path.join(work, "sconf"), "w") as f:
            for line in self.qconf("-ssconf").splitlines():
                key = line.split(" ")[0]
                f.write(f"{key} {SCHEDULER[key]}\n" if key in SCHEDULER else line + "\n")
        self.qconf("-Msconf", os.path.join(work, "sconf"))
        files = {
            "host": f"hostname {self.host}\nload_scaling NONE\ncomplex_values NONE\n"
                    "user_lists NONE\nxuser_lists NONE\nprojects NONE\nxprojects NONE\n"
                    "usage_scaling NONE\nreport_variables NONE\n",
            "hg": f"group_name @allhosts\nhostlist {self.host}\n",
            "pe": "pe_name smp\nslots 999\nuser_lists NONE\nxuser_lists NONE\n"
                  "start_proc_args /bin/true\nstop_proc_args /bin/true\n"
                  "allocation_rule $pe_slots\ncontrol_slaves FALSE\njob_is_first_task TRUE\n"
                  "urgency_slots min\naccounting_summary FALSE\nqsort_args NONE\n"}
        for name, text in files.items():
            with open(os.path.join(work, name), "w") as f:
                f.write(text)
        self.qconf("-Ae", os.path.join(work, "host"))
        self.qconf("-Ahgrp", os.path.join(work, "hg"))
        self.qconf("-Ap", os.path.join(work, "pe"))
        # no load threshold: on a busy test machine (load above 1.75 per core) the queue
        # would otherwise be in alarm state and start nothing
        queue = {"qname": "all.q", "hostlist": "@allhosts", "slots": "2", "pe_list": "smp",
                 "load_thresholds": "NONE"}
        with open(os.path.join(work, "q"), "w") as f:
            for line in self.qconf("-sq").splitlines():  # the default queue template
                key = line.split(" ")[0]
                f.write(f"{key} {queue[key]}\n" if key in queue else line + "\n")
        self.qconf("-Aq", os.path.join(work, "q"))
        subprocess.run(["/usr/sbin/sge_execd"], env=self.env, check=False)

        def queue_up():  # usable once execd reports a load (no "au" state)
            out = subprocess.run(["qstat", "-f", "-q", "all.q"], env=self.env,
                                 capture_output=True, text=True).stdout
            row = next((line for line in out.splitlines() if line.startswith("all.q@")), "")
            return row and "-NA-" not in row and not row.rstrip().endswith(("au", "u", "E"))

        if not _wait(queue_up, 60):
            raise CellError(f"the queue did not come up: "
                            f"{self._log('execd/*/messages')}")

    def stop(self):
        """Delete the cell's jobs, stop its daemons (by their pid files), remove the cell."""
        if os.path.exists(os.path.join(self.spool, "qmaster", "qmaster.pid")):
            try:  # a qmaster that does not answer must not keep its daemons running
                subprocess.run(["qdel", "-f", "-u", "*"], env=self.env, capture_output=True,
                               check=False, timeout=30)
            except subprocess.TimeoutExpired:
                pass
        # execd's directory is named by the host's resolved name (an alias, maybe); it stops
        # its jobs on SIGTERM, so it has its time. qmaster's controlled shutdown takes 7 s
        # of joining threads, and all it would keep is its spool, inside the cell removed
        # below: it is killed after 1 s
        for path, grace in [*((p, 10) for p in glob.glob(os.path.join(self.spool, "execd", "*",
                                                                       "execd.pid"))),
                            (os.path.join(self.spool, "qmaster", "qmaster.pid"), 1)]:
            pid = _pid(path)
            if pid and _is_sge_daemon(pid):  # a pid file may outlive its process
                _terminate(pid, grace)
        if self._watchdog is not None:
            self._watchdog.release()
            self._watchdog = None
        shutil.rmtree(self.dir, ignore_errors=True)

    def _log(self, rel):
        for path in glob.glob(os.path.join(self.spool, rel)):
            with open(path, errors="replace") as f:
                return f.read()[-400:]
        return "(no log)"


def _pid(path):
    try:
        with open(path) as f:
            return int(f.read().strip())
    except (OSError, ValueError):
        return None


def _is_sge_daemon(pid):
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return os.path.basename(f.read().split(b"\0")[0]) in (b"sge_qmaster", b"sge_execd")
    except OSError:
        return False


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _terminate(pid, grace=10):
    """SIGTERM, then SIGKILL after ``grace`` seconds (Grid Engine daemons shut down on
    SIGTERM)."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5)):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if _wait(lambda: not _alive(pid), wait):
            return


def _wait(predicate, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.3)
    return False
