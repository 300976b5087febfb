"""PBS/Torque: qsub / qstat -f / qdel, template ``pbs.sh.j2`` (Torque resource syntax).

Dependencies use ``-W depend=afterok:ID`` (qsub returns at once).
"""

import re
import shutil

from .base import Scheduler, SchedulerError, run_command


class PBS(Scheduler):
    name = "pbs"
    # job_state letters of `qstat -f` (Torque and PBS Pro)
    states = {"Q": "queued", "W": "queued", "T": "queued", "H": "held", "S": "held",
              "U": "held", "R": "running", "E": "running", "B": "running", "C": "completed",
              "F": "completed", "X": "completed", "M": "unknown"}

    @staticmethod
    def present():
        return shutil.which("qsub") is not None and shutil.which("pbsnodes") is not None

    def submit_command(self, script_path, submission):
        cmd = ["qsub"]
        if submission.hold:
            cmd.append("-h")
        if submission.after:
            cmd += ["-W", "depend=afterok:" + ":".join(submission.after)]
        return cmd + list(submission.extra_flags) + [script_path]

    def parse_submit(self, output):
        text = output.strip()
        if not re.match(r"\d+(\.\S+)?\Z", text):
            raise SchedulerError(f"qsub answered {text!r}, not a job id")
        return text

    def query(self, ids):
        ids = list(ids)
        if not ids:
            return {}
        # unknown (purged) ids make qstat complain and exit non-zero; the rest is still printed
        out = run_command(["qstat", "-f", *ids], "Unknown Job Id")
        return parse_qstat_f(out, ids, self.states)

    def cancel(self, ids):
        if ids:
            run_command(["qdel", *ids], "Unknown Job Id")


def parse_qstat_f(text, ids, states):
    """Parse ``qstat -f``: blocks starting ``Job Id: ID`` with a ``job_state = X`` line; a
    completed job with a non-zero ``exit_status`` is "failed"."""
    found, current = {}, None
    exit_status = {}
    for line in text.splitlines():
        m = re.match(r"Job Id:\s*(\S+)", line)
        if m:
            current = m.group(1)
            continue
        m = re.match(r"\s+job_state = (\S)", line)
        if m and current:
            found[current] = states.get(m.group(1), "unknown")
        m = re.match(r"\s+exit_status = (-?\d+)", line, re.I)
        if m and current:
            exit_status[current] = int(m.group(1))
    out = {}
    for i in ids:
        key = i if i in found else next((k for k in found if k.split(".")[0] == i.split(".")[0]),
                                        None)
        state = found.get(key, "unknown")
        if state == "completed" and exit_status.get(key, 0) != 0:
            state = "failed"
        out[i] = state
    return out
