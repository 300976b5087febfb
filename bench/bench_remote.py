"""Working across clusters: ``suite status --everywhere`` and ``suite submit --on``.

Usage: python bench/bench_remote.py [-n 10000] [--submit 1000] [--repeat 2] [--pretend]
[--json F] [--python PATH]

Two "clusters" on loopback, as in tests/remote: sshd instances with their own HOME and
project root; a's far side submits to the real single-node SLURM the tests start (root,
munge, slurmctld, slurmd). Each far side is a copy of the laptop's project of N jobs (its own
.suite/id, index built by a first status).

* status: ``suite status --everywhere`` on the laptop (here + a + b, asked at once) against
  the slowest location's own local ``suite status`` (bar: at most 1.5x).
* submit: ``suite submit --on a -n K --hold`` on the laptop (push of the N jobs, which are
  already there, then the far side's submit) against the far side's own
  ``suite submit -n K --hold`` (bar: adds at most 1 s). SLURM's sbatch is real; --hold keeps
  the jobs from running (they are cancelled after each row), so both rows submit the same K
  scripts the same way and the difference is what ``--on`` adds. With ``--pretend``, both
  are timed again with ``--pretend`` (scripts rendered and printed, nothing submitted, no
  book written): without 1,000 sbatch calls the difference is less noisy, though it leaves
  out the book exchange.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from bench.common import add_python_option, suite_python, wall  # noqa: E402

#: the interpreter of suite's processes here and on the far sides (--python)
PYTHON = sys.executable

WORKFLOW = '''from suite.flow import Workflow


class Sweep(Workflow):
    pass


@Sweep.post.isfile("out.txt")
@Sweep.operation(cmd=True)
def simulate(job):
    return "echo done > out.txt"
'''


def _slurm(root):
    """The tests' SLURM (tests/conftest.py ``run_slurm``): started now, stopped by next()."""
    from pathlib import Path

    from tests.conftest import run_slurm

    path = Path(root) / "slurm"
    path.mkdir()
    gen = run_slurm(path)
    return gen, next(gen)


def _clusters(root, slurm_conf):
    from tests.remote.conftest import _start_sshd

    path = f"{os.path.dirname(PYTHON)}:/usr/bin:/bin"
    out = {}
    for name, extra in (("a", {"SUITE_SCHEDULER": "slurm", "SLURM_CONF": slurm_conf}),
                        ("b", {"SUITE_SCHEDULER": "direct"})):
        base = os.path.join(root, f"cluster-{name}")
        os.makedirs(os.path.join(base, "home"))
        from pathlib import Path

        proc, info = _start_sshd(Path(base), {"PATH": path, "PYTHONPATH": REPO,
                                              "HOME": os.path.join(base, "home"), **extra})
        out[name] = {**info, "proc": proc, "proj": os.path.join(base, "home", "proj")}
    return out


def _laptop(root, clusters, n):
    import suite
    import sync

    home = os.path.join(root, "laptop-home")
    os.makedirs(os.path.join(home, ".ssh"))
    config, known = [], []
    for name, info in clusters.items():
        config.append(f"Host {name}\n  HostName 127.0.0.1\n  Port {info['port']}\n"
                      f"  User root\n  IdentityFile {info['client_key']}\n")
        key_type, key = open(info["host_key"]).read().split()[:2]
        known.append(f"[127.0.0.1]:{info['port']} {key_type} {key}\n")
    with open(os.path.join(home, ".ssh", "config"), "w") as f:
        f.write("".join(config))
    with open(os.path.join(home, ".ssh", "known_hosts"), "w") as f:
        f.write("".join(known))
    os.environ["HOME"] = home
    os.environ.pop("SSH_AUTH_SOCK", None)
    path = os.path.join(root, "laptop")
    project = suite.init_project(path)
    with open(os.path.join(path, "workflow.py"), "w") as f:
        f.write(WORKFLOW)
    with suite.buffered():
        for i in range(n):
            project.open_job({"i": i, "group": i % 10}).init()
    for name, info in clusters.items():  # each far side as a user makes it: a first sync
        sync.add_remote(project, name, f"{name}:{info['proj']}",
                        remote_suite=f"{PYTHON} -m suite")
        sync.sync(project, name, init=True)
        shutil.copy(os.path.join(path, "workflow.py"), info["proj"])
    return project


def _cpu_of(args, cwd, env):
    """CPU seconds (user + system) of a command and the children it waited for."""
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall(args, cwd, env=env)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def _status_cpu(project, clusters, suite_cmd, env, far_env, repeat):
    """Where the CPU of ``status --everywhere`` goes (best of ``repeat``): each location's
    own ``suite status``, and one --everywhere split into this side's process and each far
    side's server (a wrapper around the far suite adds up its CPU with the shell's
    ``times``; sshd's own share is not counted). All locations share this machine's cores,
    so the table cannot come faster than the sum over the cores."""
    out = {"status here": min(_cpu_of([*suite_cmd, "status"], project.path, env)
                              for _ in range(repeat))}
    for name, info in clusters.items():
        out[f"status on {name}, locally"] = min(
            _cpu_of([*suite_cmd, "status"], info["proj"], far_env[name]) for _ in range(repeat))
    log = os.path.join(os.path.dirname(project.path), "far-cpu.log")
    wrapper = os.path.join(os.path.dirname(project.path), "far-cpu.sh")
    with open(wrapper, "w") as f:  # times' second line: the children's user and system time
        f.write(f'#!/bin/bash\n{PYTHON} -m suite "$@"\nrc=$?\n'
                f'times > {log}.$$\ntail -1 {log}.$$ >> {log}\nrm -f {log}.$$\nexit $rc\n')
    os.chmod(wrapper, 0o755)
    best = None
    for _ in range(repeat):
        if os.path.exists(log):
            os.remove(log)
        here = _cpu_of([*suite_cmd, "status", "--everywhere", "--remote-suite", wrapper],
                       project.path, env)
        time.sleep(0.5)  # the far sides end after the client has gone
        with open(log) as f:
            far = [sum(_seconds(t) for t in line.split()) for line in f if line.strip()]
        if best is None or here + sum(far) < best[0] + sum(best[1]):
            best = (here, far)
    out["status --everywhere: this side's process"] = best[0]
    out["status --everywhere: far sides' servers (sum)"] = sum(best[1])
    out["status --everywhere: all processes"] = best[0] + sum(best[1])
    out["  over this machine's cores"] = (best[0] + sum(best[1])) / (os.cpu_count() or 1)
    return out


def _seconds(text):
    """``0m0.250s`` as 0.25."""
    minutes, _, rest = text.rstrip("s").partition("m")
    return int(minutes) * 60 + float(rest)


def _openssh_row(project, suite_cmd, env, repeat):
    """``status --everywhere --ssh openssh`` riding on live ControlMasters (one login each,
    as a user with ``ControlMaster auto`` has): no key exchange per command. The system ssh
    reads the login user's home, not $HOME, hence ``-F``; the masters end afterwards."""
    import sync

    home = env.get("HOME") or os.environ["HOME"]
    config = os.path.join(home, ".ssh", "openssh_config")
    control = tempfile.mkdtemp(dir="/tmp", prefix="cm")  # socket paths are short
    with open(os.path.join(home, ".ssh", "config")) as f:
        hosts = f.read()
    with open(config, "w") as f:
        f.write(hosts + f"Host *\n  UserKnownHostsFile {home}/.ssh/known_hosts\n"
                "  GlobalKnownHostsFile /dev/null\n  StrictHostKeyChecking yes\n"
                "  BatchMode yes\n  IdentitiesOnly yes\n  ControlMaster auto\n"
                f"  ControlPath {control}/%C\n  ControlPersist 600\n")
    remotes = sync.list_remotes(project)
    try:
        for name, settings in remotes.items():
            sync.add_remote(project, name, **{**settings, "ssh_command": f"ssh -F {config}"})
        argv = [*suite_cmd, "status", "--everywhere", "--ssh", "openssh"]
        wall(argv, project.path, env=env)  # starts the masters
        return min(wall(argv, project.path, env=env) for _ in range(repeat))
    finally:
        for name, settings in remotes.items():
            sync.add_remote(project, name, **settings)
            subprocess.run(["ssh", "-F", config, "-O", "exit", name], capture_output=True,
                           env=env, timeout=30)
        shutil.rmtree(control, ignore_errors=True)


def _cancel_all(env):
    subprocess.run(["scancel", "--user", "root"], env=env, capture_output=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("-n", type=int, default=10000)
    ap.add_argument("--submit", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--pretend", action="store_true",
                    help="also time both submit rows with --pretend (no sbatch)")
    ap.add_argument("--json", default="bench/results-remote.json")
    add_python_option(ap)
    args = ap.parse_args()
    global PYTHON
    PYTHON = suite_python(args.python)
    root = tempfile.mkdtemp(prefix="bench-remote-")
    gen, conf = _slurm(root)
    clusters = _clusters(root, conf)
    try:
        project = _laptop(root, clusters, args.n)
        suite_cmd = [PYTHON, "-m", "suite"]
        env = {**os.environ, "PYTHONPATH": REPO, "SLURM_CONF": conf}
        far_env = {name: {**env, "SUITE_SCHEDULER": "slurm" if name == "a" else "direct",
                          "HOME": os.path.join(os.path.dirname(info["proj"]))}
                   for name, info in clusters.items()}
        for name, info in clusters.items():  # each far side's index, built once
            wall([*suite_cmd, "status"], info["proj"], env=far_env[name])
        wall([*suite_cmd, "status"], project.path, env=env)
        rows = {}
        rows["status here"] = min(wall([*suite_cmd, "status"], project.path, env=env)
                                  for _ in range(args.repeat))
        for name, info in clusters.items():
            rows[f"status on {name}, locally"] = min(
                wall([*suite_cmd, "status"], info["proj"], env=far_env[name])
                for _ in range(args.repeat))
        for name in clusters:
            rows[f"status --on {name}"] = min(
                wall([*suite_cmd, "status", "--on", name], project.path, env=env)
                for _ in range(args.repeat))
        rows["status --everywhere"] = min(
            wall([*suite_cmd, "status", "--everywhere"], project.path, env=env)
            for _ in range(args.repeat))
        slowest = max(v for k, v in rows.items() if k.startswith("status") and "-" not in k)
        ratio = rows["status --everywhere"] / slowest
        cpu = _status_cpu(project, clusters, suite_cmd, env, far_env, args.repeat)
        rows["status --everywhere --ssh openssh (live ControlMaster)"] = _openssh_row(
            project, suite_cmd, env, args.repeat)
        book = os.path.join(clusters["a"]["proj"], ".suite", "flow", "submissions.json")
        far_rows, on_rows = [], []
        for _ in range(args.repeat if args.submit else 0):
            far_rows.append(wall([*suite_cmd, "submit", "-o", "simulate", "-n",
                                  str(args.submit), "--hold"], clusters["a"]["proj"],
                                 env=far_env["a"]))
            _cancel_all(env)
            os.remove(book)
            on_rows.append(wall([*suite_cmd, "submit", "--on", "a", "-o", "simulate", "-n",
                                 str(args.submit), "--hold"], project.path, env=env))
            _cancel_all(env)
            for path in (book, os.path.join(project.path, ".suite", "flow",
                                            "submissions.json")):
                os.remove(path)
        if args.submit:
            rows[f"submit -n {args.submit}, far side's own"] = min(far_rows)
            rows[f"submit --on a -n {args.submit}"] = min(on_rows)
        added = min(on_rows) - min(far_rows) if args.submit else None
        if args.submit and args.pretend:  # the same without sbatch: what --on adds, less noisy
            pretend = ["-o", "simulate", "-n", str(args.submit), "--pretend"]
            rows[f"submit -n {args.submit} --pretend, far side's own"] = min(
                wall([*suite_cmd, "submit", *pretend], clusters["a"]["proj"], env=far_env["a"])
                for _ in range(args.repeat))
            rows[f"submit --on a -n {args.submit} --pretend"] = min(
                wall([*suite_cmd, "submit", "--on", "a", *pretend], project.path, env=env)
                for _ in range(args.repeat))
        print(f"{'row':<56} {'seconds':>8}")
        for k, v in rows.items():
            print(f"{k:<56} {v:8.2f}")
        print(f"status --everywhere / slowest local status: {ratio:.2f}x (bar 1.5x)")
        for k, v in cpu.items():
            print(f"cpu: {k:<48} {v:6.2f} s")
        print(f"load average (1 min) at the end: {os.getloadavg()[0]:.1f}")
        if added is not None:
            print(f"submit --on adds {added:.2f} s over the far side's own (bar 1 s)")
        with open(args.json, "w") as f:
            json.dump({"n": args.n, "submit": args.submit, "rows": rows, "ratio": ratio,
                       "added": added, "cpu": cpu, "load": os.getloadavg()}, f, indent=2)
        print(f"wrote {args.json}")
    finally:
        for info in clusters.values():
            info["proc"].terminate()
        try:
            next(gen)
        except StopIteration:
            pass
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
