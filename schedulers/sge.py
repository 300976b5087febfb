"""Sun/Son of/Univa Grid Engine: qsub -terse / qstat -xml / qdel, template ``sge.sh.j2``.

Dependencies use ``-hold_jid ID,ID``; ``-h`` holds. The parallel environment for ``np`` is the
directive ``pe`` (default ``smp``), since its name is site-specific.
"""

import re
import shutil
import xml.etree.ElementTree as ET

from .base import Scheduler, SchedulerError, note_array_state, run_command


class SGE(Scheduler):
    name = "sge"
    states = {}
    array_variable = "SGE_TASK_ID"
    array_base, array_separator = 1, "."

    @staticmethod
    def present():
        return shutil.which("qsub") is not None and shutil.which("qconf") is not None

    def submit_command(self, script_path, submission):
        cmd = ["qsub", "-terse"]
        if submission.hold:
            cmd.append("-h")
        if submission.after:
            cmd += ["-hold_jid", ",".join(submission.after)]
        return cmd + list(submission.extra_flags) + [script_path]

    def parse_submit(self, output):
        text = output.strip().split(".")[0]  # array jobs print ID.range
        if not re.match(r"\d+\Z", text):
            raise SchedulerError(f"qsub answered {output.strip()!r}, not a job id")
        return text

    def query(self, ids):
        ids = list(ids)
        if not ids:
            return {}
        return parse_qstat_xml(run_command(["qstat", "-xml", "-u", "*"]), ids)

    def cancel(self, ids):
        if ids:
            run_command(["qdel", *ids])


def normalise(state):
    """An SGE state code (qw, hqw, r, t, Eqw, dr, s, ...) as a suite state."""
    if "E" in state:
        return "failed"
    if "d" in state:
        return "cancelled"
    if "h" in state or "s" in state.lower() and "r" not in state:
        return "held"
    if "r" in state or "t" in state:
        return "running"
    if "q" in state or "w" in state:
        return "queued"
    return "unknown"


def parse_qstat_xml(text, ids):
    """Parse ``qstat -xml``: ``job_list`` elements with ``JB_job_number`` and ``state``;
    jobs absent from the list have left the queue ("unknown")."""
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise SchedulerError(f"qstat -xml answered something that is not XML: {exc}") from None
    found = {}
    for job in root.iter("job_list"):
        number = (job.findtext("JB_job_number") or "").strip()
        state = normalise((job.findtext("state") or "").strip())
        if not number:
            continue
        # an array lists its pending tasks as ranges ("1-3:1", "1,3") and each running task
        # on its own; tasks are "JOB.TASK", the array as a whole is active while any task is
        for task in _task_numbers((job.findtext("tasks") or "").strip()):
            found[f"{number}.{task}"] = state
        note_array_state(found, number, state)
    return {i: found.get(i, "unknown") for i in ids}


def _task_numbers(text):
    """Task numbers of Grid Engine's task list syntax: ``"1-5:2,8"`` -> 1, 3, 5, 8."""
    out = []
    for part in filter(None, text.split(",")):
        m = re.fullmatch(r"(\d+)(?:-(\d+)(?::(\d+))?)?", part)
        if m:
            first = int(m.group(1))
            last = int(m.group(2) or first)
            out.extend(range(first, last + 1, int(m.group(3) or 1)))
    return out
