"""SLURM: sbatch / squeue / scancel, template ``slurm.sh.j2``.

Dependencies use ``--dependency=afterok:ID`` (never ``-W``: the shell must not block).
"""

import shutil

from .base import Scheduler, SchedulerError, note_array_state, run_command


class Slurm(Scheduler):
    name = "slurm"
    # squeue %T states (long form)
    states = {"PENDING": "queued", "CONFIGURING": "queued", "REQUEUED": "queued",
              "RUNNING": "running", "COMPLETING": "running", "SUSPENDED": "held",
              "COMPLETED": "completed", "FAILED": "failed", "TIMEOUT": "failed",
              "NODE_FAIL": "failed", "OUT_OF_MEMORY": "failed", "CANCELLED": "cancelled",
              "PREEMPTED": "cancelled"}

    array_variable = "SLURM_ARRAY_TASK_ID"

    @staticmethod
    def present():
        return shutil.which("sbatch") is not None and shutil.which("squeue") is not None

    def submit_command(self, script_path, submission):
        cmd = ["sbatch", "--parsable"]
        if submission.hold:
            cmd.append("--hold")
        if submission.after:
            cmd.append("--dependency=afterok:" + ":".join(submission.after))
        return cmd + list(submission.extra_flags) + [script_path]

    def parse_submit(self, output):
        text = output.strip().split(";")[0]
        if not text.isdigit():
            raise SchedulerError(f"sbatch answered {output.strip()!r}, not a job id")
        return text

    def query(self, ids):
        ids = list(ids)
        if not ids:
            return {}
        # --array: one line per array task ("12_3"), pending ones included
        jobs = sorted({i.split("_")[0] for i in ids})
        out = run_command(["squeue", "--noheader", "--array", "--states=all", "--format=%i|%T|%r",
                    "--jobs=" + ",".join(jobs)])
        return parse_squeue(out, ids, self.states)

    def cancel(self, ids):
        if ids:
            run_command(["scancel", *ids])


def parse_squeue(text, ids, states):
    """Parse ``squeue --format=%i|%T|%r`` output; held jobs (reason *Held*) are "held"."""
    found = {}
    for line in text.splitlines():
        parts = line.strip().split("|")
        if len(parts) < 2:
            continue
        job_id, state = parts[0], parts[1]
        reason = parts[2] if len(parts) > 2 else ""
        norm = states.get(state, "unknown")
        if norm == "queued" and "Held" in reason:
            norm = "held"
        found[job_id] = norm
        base = job_id.split("_")[0]
        if base != job_id:
            note_array_state(found, base, norm)
    return {i: found.get(i, "unknown") for i in ids}
