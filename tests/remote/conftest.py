"""Two "clusters" on loopback: sshd instances with their own HOME and project root, one
whose far side submits to the real single-node SLURM (tests/conftest.py ``slurm``), one with
the ``direct`` scheduler; and a laptop HOME whose ~/.ssh/config names them a and b."""

import os
import shutil
import subprocess
import sys

import pytest

import suite
from tests.conftest import REPO, skip_or_fail, stop_process
from tests.sync.conftest import SSHD, start_listening_sshd

WORKFLOW = '''import time
from suite.flow import Workflow


class Sweep(Workflow):
    pass


@Sweep.post.isfile("out.txt")
@Sweep.operation(cmd=True)
def simulate(job):
    return "echo done > out.txt"


@Sweep.pre.true("slow")
@Sweep.post.isfile("slow.txt")
@Sweep.operation(cmd=True)
def crawl(job):
    return "echo $$ > ../../crawl.pid; echo started; sleep 60; echo x > slow.txt"
'''


def _start_sshd(root, env):
    """sshd on a free port under ``root``, its sessions given ``env``; (process, info)."""
    host_key, client_key = root / "host_ed25519", root / "client_ed25519"
    for key in (host_key, client_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)],
                       check=True)
    (root / "authorized_keys").write_text((root / "client_ed25519.pub").read_text())
    setenv = " ".join(f"{k}={v}" for k, v in env.items())
    proc, port = start_listening_sshd(root, lambda port: (
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
        f"AuthorizedKeysFile {root}/authorized_keys\nPidFile {root}/sshd.pid\n"
        "PermitRootLogin yes\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
        "UsePAM no\nStrictModes no\nPubkeyAuthentication yes\n"
        f"SetEnv {setenv}\n"))
    return proc, {"port": port, "host_key": str(host_key) + ".pub",
                  "client_key": str(client_key), "root": root}


@pytest.fixture(scope="session")
def clusters(tmp_path_factory, slurm):
    """``{"a": info, "b": info}``: a's far side submits to SLURM, b's runs ``direct``; each
    info has port, keys, home and its project path (``proj``)."""
    if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None:
        skip_or_fail("openssh-server is not installed (apt-get install openssh-server)")
    out, procs = {}, []
    path = f"{os.path.dirname(sys.executable)}:/usr/bin:/bin"
    # a's sshd is stopped also when b's does not start (a skip) or the session is interrupted
    try:
        for name, extra in (("a", {"SUITE_SCHEDULER": "slurm", "SLURM_CONF": slurm}),
                            ("b", {"SUITE_SCHEDULER": "direct"})):
            root = tmp_path_factory.mktemp(f"cluster-{name}")
            home = root / "home"
            home.mkdir()
            wrappers = root / "bin"  # sbatch that can be slowed down (a fault test waits in it)
            wrappers.mkdir()
            real = shutil.which("sbatch") or "/usr/bin/sbatch"
            # with the file "slow" present, the second call waits 4 s and submits nothing if
            # the suite process that called it has gone meanwhile
            (wrappers / "sbatch").write_text(
                f'#!/bin/sh\nif [ -e {root}/slow ]; then n=$(cat {root}/slow); '
                f'echo x >> {root}/slow\n  if [ -n "$n" ]; then sleep 4; '
                'kill -0 $PPID 2>/dev/null || exit 1; fi\nfi\n'
                f'exec {real} "$@"\n')
            os.chmod(wrappers / "sbatch", 0o755)
            env = {"PATH": f"{wrappers}:{path}", "PYTHONPATH": REPO, "HOME": str(home), **extra}
            proc, info = _start_sshd(root, env)
            procs.append(proc)
            out[name] = {**info, "home": home, "base": str(home / "proj"), "scheduler":
                         extra["SUITE_SCHEDULER"]}
        yield out
    finally:
        for proc in procs:
            stop_process(proc)


@pytest.fixture
def laptop(clusters, tmp_path, monkeypatch):
    """A project here with a workflow and 6 jobs, remotes a and b (each far side made afresh
    by a first sync), and a HOME whose ssh config and known_hosts know both clusters."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    config, known = [], []
    for name, info in clusters.items():
        config.append(f"Host {name}\n  HostName 127.0.0.1\n  Port {info['port']}\n"
                      f"  User root\n  IdentityFile {info['client_key']}\n")
        key_type, key = open(info["host_key"]).read().split()[:2]
        known.append(f"[127.0.0.1]:{info['port']} {key_type} {key}\n")
        (info["root"] / "slow").unlink(missing_ok=True)
    (home / ".ssh" / "config").write_text("".join(config))
    (home / ".ssh" / "known_hosts").write_text("".join(known))
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.setenv("SUITE_SCHEDULER", "direct")
    project = suite.init_project(tmp_path / "laptop")
    (tmp_path / "laptop" / "workflow.py").write_text(WORKFLOW)
    for a in range(6):
        project.open_job({"a": a}).init()
    import sync

    for name, info in clusters.items():
        tag = f"{info['base']}-{tmp_path.name}"  # unique per test: pkill -f finds its server
        info["proj"] = tag
        sync.add_remote(project, name, f"{name}:{tag}",
                        remote_suite=f"{sys.executable} -m suite")
        sync.sync(project, name, init=True)
    return project


def cut(project_path):
    """Kill the sshd session serving ``project_path`` (and its suite process): the
    connection is lost as when a network drops."""
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().split(b"\0")
            with open(f"/proc/{pid}/stat") as f:
                parent = int(f.read().rsplit(")", 1)[1].split()[1])
        except OSError:
            continue
        if b"_sync-server" in cmd and project_path.encode() in cmd:
            for victim in (parent, int(pid)):
                try:
                    os.kill(victim, 9)
                except ProcessLookupError:
                    pass
