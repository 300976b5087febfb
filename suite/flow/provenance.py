"""Provenance: one JSON line per execution in the job's ``suite_flow_log.jsonl``.

Lines are appended (one ``write`` of a whole line, with ``O_APPEND``), never rewritten: two
copies of a job synced from different machines each keep their lines, and a merge of the two
files is their union.
"""

import json
import os
import socket
import subprocess

from suite import layout

LOG = layout.FLOW_LOG


def git_commit(path):
    try:
        out = subprocess.run(["git", "-C", path, "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def record(job, entry):
    """Append one provenance record to the job's log."""
    import suite

    line = json.dumps({"host": socket.gethostname(), "suite_version": suite.__version__,
                       **entry}, sort_keys=True) + "\n"
    fd = os.open(os.path.join(job.path, LOG), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


def read(job):
    """The job's provenance records (unreadable lines are skipped)."""
    try:
        with open(os.path.join(job.path, LOG), encoding="utf-8") as f:
            lines = f.readlines()
    except FileNotFoundError:
        return []
    out = []
    for line in lines:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def completed_operations(job):
    """Names of operations that completed successfully at least once for ``job``."""
    return {r["operation"] for r in read(job) if r.get("status") == "success"}
