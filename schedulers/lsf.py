"""LSF: bsub (script on stdin) / bjobs / bkill, template ``lsf.sh.j2``.

Dependencies use ``-w "done(ID)"``; ``-H`` holds.
"""

import re
import shutil
import subprocess

from .base import Scheduler, SchedulerError, run_command


class LSF(Scheduler):
    name = "lsf"
    states = {"PEND": "queued", "WAIT": "queued", "PSUSP": "held", "USUSP": "held",
              "SSUSP": "held", "RUN": "running", "PROV": "running", "DONE": "completed",
              "EXIT": "failed", "ZOMBI": "failed", "UNKWN": "unknown"}

    @staticmethod
    def present():
        return shutil.which("bsub") is not None and shutil.which("bjobs") is not None

    def submit_command(self, script_path, submission):
        cmd = ["bsub"]
        if submission.hold:
            cmd.append("-H")
        if submission.after:
            cmd += ["-w", " && ".join(f"done({i})" for i in submission.after)]
        return cmd + list(submission.extra_flags)  # the script goes on stdin

    def parse_submit(self, output):
        m = re.search(r"Job <(\d+)> is submitted", output)
        if not m:
            raise SchedulerError(f"bsub answered {output.strip()!r}, not a job id")
        return m.group(1)

    def submit(self, script, submission, directory):
        import os

        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f"{submission.name}.sh")
        with open(path, "w") as f:
            f.write(script)
        with open(path) as stdin:  # bsub reads #BSUB lines only from a script on stdin
            proc = subprocess.run(self.submit_command(path, submission), stdin=stdin,
                                  capture_output=True, text=True, timeout=60)
        if proc.returncode != 0:
            raise SchedulerError(f"bsub failed: {proc.stderr.strip()[-300:]}")
        return self.parse_submit(proc.stdout)

    def query(self, ids):
        ids = list(ids)
        if not ids:
            return {}
        out = run_command(["bjobs", "-a", "-noheader", "-o", "jobid stat delimiter='|'", *ids],
                         "is not found")
        return parse_bjobs(out, ids, self.states)

    def cancel(self, ids):
        if ids:
            run_command(["bkill", *ids], "is not found")


def parse_bjobs(text, ids, states):
    """Parse ``bjobs -noheader -o "jobid stat delimiter='|'"`` lines ``ID|STAT``."""
    found = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) >= 2 and parts[0].isdigit():
            found[parts[0]] = states.get(parts[1].strip(), "unknown")
    return {i: found.get(i, "unknown") for i in ids}
