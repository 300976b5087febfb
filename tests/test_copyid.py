"""The sync identity of a copy (``.suite/id``) is made once: processes that ask for it at the
same moment on a new copy all get the one that was written (two ids for one copy would make
its own submissions look like another copy's, active for ever)."""

import subprocess
import sys
import time

import suite

ASK = """
import os, sys, time
from suite.copyid import identity
open(sys.argv[2] + "." + str(os.getpid()), "w").close()  # ready
while not os.path.exists(sys.argv[2]):
    time.sleep(0.0005)
print(identity(sys.argv[1]))
"""


def test_processes_asking_at_once_all_get_the_one_identity(tmp_path):
    for attempt in range(6):
        project = suite.init_project(tmp_path / f"p{attempt}")
        go = tmp_path / f"go{attempt}"
        procs = [subprocess.Popen([sys.executable, "-c", ASK, project.path, str(go)],
                                  stdout=subprocess.PIPE, text=True) for _ in range(12)]
        deadline = time.monotonic() + 60
        while len(list(tmp_path.glob(f"go{attempt}.*"))) < len(procs):  # all waiting
            assert time.monotonic() < deadline
            time.sleep(0.01)
        go.touch()
        got = {p.communicate(timeout=60)[0].strip() for p in procs}
        assert all(p.returncode == 0 for p in procs)
        with open(project.fn(".suite/id")) as f:
            assert got == {f.read().strip()}, (attempt, got)
