"""A process that keeps writing to jobs while syncs run (a running cluster job, a notebook).

``python -m tests.sync.writer CONFIG_JSON``; the config holds ``sides``: a list of
``{"path": project, "key": document key, "files": [names]}``, ``stop`` (a path: stop when it
exists), ``out`` (where the last value written per side and job goes, as JSON), optional
``go`` (a path: start when it exists) and ``ready`` (a path made after the first pass).

Each step writes one number to a job's document key (through ``job.doc``, as users do) and
the same number into each of its files (written whole under a new name and renamed, as editors
and most programs save). Jobs are visited in reverse id order, so the writer meets a sync
(which goes in id order) half-way.
"""

import json
import os
import subprocess
import sys
import time

import suite
from suite.jsonio import write_atomic


def main(config):
    cfg = json.loads(config)
    sides = [(suite.get_project(s["path"]), s) for s in cfg["sides"]]
    ids = sorted((j.id for j in sides[0][0]), reverse=True)
    if cfg.get("go"):
        open(cfg["go"] + ".armed", "w").close()  # imported and listed: waiting for go
        deadline = time.monotonic() + 120
        while not os.path.exists(cfg["go"]) and time.monotonic() < deadline:
            time.sleep(0.002)
    last = {s["path"]: {} for _, s in sides}
    n, passes = 0, 0
    while not os.path.exists(cfg["stop"]):
        for job_id in ids:
            for project, side in sides:
                n += 1
                job = project.open_job(id=job_id)
                job.doc[side["key"]] = n
                for name in side["files"]:
                    write_atomic(job.fn(name), content(side["key"], n).encode())
                last[side["path"]][job_id] = n
            if os.path.exists(cfg["stop"]):
                break
        passes += 1
        if passes == 1 and cfg.get("ready"):
            open(cfg["ready"], "w").close()
    with open(cfg["out"], "w") as f:
        json.dump({"last": last, "writes": n}, f)


def content(key, n):
    """What the writer puts into its files at step ``n``."""
    return f"{key} wrote {n:09d}\n"


class Writer:
    """The writer as a real process: ``Writer(tmp_dir, sides, go=None)``; :meth:`stop`
    returns ``{"last": {project path: {job id: n}}, "writes": count}``."""

    def __init__(self, tmp, sides, go=None):
        from tests.conftest import REPO

        tmp = str(tmp)
        self.stop_file, self.out, self.ready = (os.path.join(tmp, n) for n in
                                                ("writer-stop", "writer-out", "writer-ready"))
        for path in (self.stop_file, self.out, self.ready):
            if os.path.exists(path):
                os.unlink(path)
        self.go = go
        cfg = {"sides": sides, "stop": self.stop_file, "out": self.out, "go": go,
               "ready": self.ready}
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.sync.writer", json.dumps(cfg)],
                                     cwd=REPO)

    def wait_armed(self, timeout=120):
        """Wait until the writer waits for its ``go`` file (a loaded machine may take a
        while to start it)."""
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.go + ".armed"):
            assert self.proc.poll() is None, "the writer stopped"
            assert time.monotonic() < deadline, "the writer did not start"
            time.sleep(0.01)

    def wait_ready(self, timeout=60):
        deadline = time.monotonic() + timeout
        while not os.path.exists(self.ready):
            assert self.proc.poll() is None, "the writer stopped"
            assert time.monotonic() < deadline, "the writer made no pass"
            time.sleep(0.01)

    def stop(self):
        open(self.stop_file, "w").close()
        assert self.proc.wait(timeout=120) == 0
        with open(self.out) as f:
            return json.load(f)


if __name__ == "__main__":
    main(sys.argv[1])
