"""Sun/Son of/Univa Grid Engine: qsub -terse / qstat -xml / qdel, template ``sge.sh.j2``.

Dependencies use ``-hold_jid ID,ID``; ``-h`` holds. The parallel environment for ``np`` is the
directive ``pe`` (default ``smp``), since its name is site-specific.
"""

import re
import shutil
import xml.etree.ElementTree as ET

from .base import Scheduler, SchedulerError, _run


class SGE(Scheduler):
    name = "sge"
    states = {}

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
        return parse_qstat_xml(_run(["qstat", "-xml", "-u", "*"]), ids)

    def cancel(self, ids):
        if ids:
            _run(["qdel", *ids])


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
        number = job.findtext("JB_job_number")
        state = job.findtext("state") or ""
        if number:
            found[number.strip()] = normalise(state.strip())
    return {i: found.get(i, "unknown") for i in ids}
