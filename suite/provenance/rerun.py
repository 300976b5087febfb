"""Running a recorded execution again on a copy of its jobs and comparing what it writes with
what the record lists.

The copy is a new project in a temporary directory holding copies of the record's jobs as
they are now; the operation runs there (its own records go to the copies' logs), so the
project itself is never written. Outputs are compared by hash; JSON files (documents
included) and HDF5 files whose bytes differ are compared value by value within ``rtol``.
The copy starts from the jobs' current files, outputs of the recorded execution included: an
operation that reads what it wrote before (appends, say) will not reproduce.
"""

import os
import shutil
import tempfile
from dataclasses import dataclass, field

from suite.errors import SuiteError

from .capture import file_sha256
from .compare import compare_files
from .logs import find, records


@dataclass
class RepeatResult:
    """What :func:`repeat` found: ``differences`` maps ``<job>/<path>`` (job ids shortened
    to 8 characters) to what differs: keys of a JSON file, names of HDF5 datasets,
    ``"content"``, ``"missing"`` (not written again) or ``"not in the record"`` (written
    only now)."""

    record: str
    operation: str
    status: str  # of the repeated execution
    compared: list = field(default_factory=list)
    differences: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    copy: str = None  # the temporary project, when kept
    error: str = None

    @property
    def reproduced(self):
        return self.status == "success" and not self.differences

    def to_json(self):
        return {**self.__dict__, "reproduced": self.reproduced}

    def format(self):
        head = f"record {self.record} ({self.operation}): "
        if self.status != "success":
            lines = [head + f"the repeated execution failed: {self.error}"]
        elif self.reproduced:
            lines = [head + f"reproduced ({len(self.compared)} file(s) compared)"]
        else:
            lines = [head + f"differs in {len(self.differences)} of "
                     f"{len(self.compared)} file(s)"]
        for path, what in self.differences.items():
            lines.append(f"  {path}: {', '.join(what)}")
        lines.extend(f"  note: {n}" for n in self.notes)
        if self.copy:
            lines.append(f"  copy kept in {self.copy}")
        return "\n".join(lines)


def repeat(project, rec_id, module=None, rtol=0.0, keep=False, workflow=None):
    """Run the operation of record ``rec_id`` (an id or unique prefix) again on a copy of its
    jobs and compare the outputs; return a :class:`RepeatResult`.

    ``workflow`` is the Workflow class, else it is loaded from ``module`` (as ``suite run``
    does). ``keep`` leaves the copy on disk. Raises SuiteError if the record is not found, its
    jobs are no longer in the project, or the workflow has no such operation."""
    import suite
    from suite.flow import FlowProject, Runner, load_workflow

    record = find(project, rec_id)
    if not record.operation:
        raise SuiteError(f"record {record.id} names no operation: nothing to repeat")
    jobs = []
    for job_id in record.jobs:
        job = project.open_job(id=job_id)
        if not os.path.isdir(job.path):
            raise SuiteError(f"job {job_id} of record {record.id} is no longer in the project")
        jobs.append(job)
    cls = workflow or load_workflow(project, module)
    root = tempfile.mkdtemp(prefix="suite-repeat-")
    try:
        copy = suite.init_project(os.path.join(root, "project"))
        for job in jobs:
            shutil.copytree(job.path, os.path.join(copy.workspace, job.id), symlinks=True)
        if issubclass(cls, FlowProject):
            copy = cls(copy.path)
        runner = Runner(cls, copy)
        runner.capture.reason = f"repeat of {record.id}"
        op = runner.operation(record.operation) if record.operation in cls.operation_table else None
        if op is None:
            raise SuiteError(f"record {record.id}: the workflow has no operation "
                             f"{record.operation!r} now")
        copies = tuple(copy.open_job(id=j.id) for j in jobs)
        status = runner.execute(op, copies)
        runner.log.flush()
        again = [r for r in records(copy) if r.reason == runner.capture.reason]
        result = RepeatResult(record.id, record.operation, status,
                              error=again[-1].error if again else None)
        if status == "success":
            _compare(project, copy, record, again[-1] if again else None, rtol, result)
        if keep:
            result.copy = copy.path
        return result
    finally:
        if not keep:
            shutil.rmtree(root, ignore_errors=True)


def _compare(project, copy, record, again, rtol, result):
    def name(job_id, path):
        return f"{job_id[:8]}/{path}"

    recorded = {(f["job"], f["path"]): f for f in record.files}
    for (job_id, path), f in recorded.items():
        key = name(job_id, path)
        result.compared.append(key)
        actual = os.path.join(copy.workspace, job_id, path)
        if f.get("removed"):
            if os.path.lexists(actual):
                result.differences[key] = ["not removed"]
            continue
        if not os.path.lexists(actual):
            result.differences[key] = ["missing"]
            continue
        expected = os.path.join(project.workspace, job_id, path)
        if file_sha256(actual) == f.get("sha256"):
            continue
        if file_sha256(expected) != f.get("sha256"):
            # the project's file changed since the record: only its hash is left to compare
            result.differences[key] = ["content"]
            result.notes.append(f"{key} changed in the project since the record: compared by "
                                "hash only")
            continue
        found = compare_files(expected, actual, rtol)
        if found:
            result.differences[key] = found
    if again is not None:
        for f in again.files:
            if (f["job"], f["path"]) not in recorded:
                result.differences[name(f["job"], f["path"])] = ["not in the record"]
    if not record.files:
        result.notes.append("the record lists no files (written before suite recorded them, "
                            "or the operation wrote none)")
