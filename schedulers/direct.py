"""``direct``: runs submitted scripts in the background on this machine (a workstation),
with the same tracking: the job id is the process id, and a status file holds the exit status
when the script ends."""

import os
import signal
import subprocess
import tempfile

from suite.process import pid_alive

from .base import Scheduler, SchedulerError

STATUS_DIR = os.path.join(tempfile.gettempdir(), f"suite-direct-{os.getuid()}")


class Direct(Scheduler):
    name = "direct"

    @staticmethod
    def present():
        return True

    def submit_command(self, script_path, submission):
        return ["bash", script_path]

    def submit(self, script, submission, directory):
        if submission.hold:
            raise SchedulerError("the direct scheduler cannot hold jobs")
        os.makedirs(directory, exist_ok=True)
        os.makedirs(STATUS_DIR, exist_ok=True)
        path = os.path.join(directory, f"{submission.name}.sh")
        with open(path, "w") as f:
            f.write(script)
        waits = "".join(
            f'while kill -0 {p} 2>/dev/null; do sleep 0.2; done; '
            f'[ "$(cat {STATUS_DIR}/{p} 2>/dev/null)" = 0 ] || exit 1; '
            for p in submission.after)
        wrapper = (f'{waits}bash "$0" > "$0.out" 2>&1; echo $? > {STATUS_DIR}/$$.tmp; '
                   f'mv {STATUS_DIR}/$$.tmp {STATUS_DIR}/$$')
        proc = subprocess.Popen(["bash", "-c", wrapper, path], start_new_session=True,
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        return str(proc.pid)

    def query(self, ids):
        out = {}
        for i in ids:
            try:
                with open(os.path.join(STATUS_DIR, i)) as f:
                    out[i] = "completed" if f.read().strip() == "0" else "failed"
                continue
            except FileNotFoundError:
                pass
            out[i] = "running" if pid_alive(int(i)) else "unknown"
        return out

    def cancel(self, ids):
        for i in ids:
            try:
                os.killpg(int(i), signal.SIGTERM)
            except ProcessLookupError:
                pass
