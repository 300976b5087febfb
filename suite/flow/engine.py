"""Status and local execution of a workflow over a project's jobs."""

import os
import random
import subprocess
import time
from dataclasses import dataclass, field

from . import provenance


@dataclass
class Status:
    """Per operation: how many jobs are eligible and how many are complete; label counts."""

    operations: dict = field(default_factory=dict)  # name -> {"eligible": n, "complete": n}
    labels: dict = field(default_factory=dict)  # label -> count
    jobs: dict = field(default_factory=dict)  # id -> {"eligible": [...], "labels": [...]}

    def to_json(self):
        return dict(self.__dict__)

    def format(self, detailed=False, markdown=False):
        width = max([len(n) for n in self.operations] + [9])
        sep = " | " if markdown else "  "
        cols = ["eligible", "submitted", "running", "complete"]
        lines = [sep.join(["operation".ljust(width)] + cols)]
        if markdown:
            lines = ["| " + lines[0] + " |", "|" + "---|" * 5]
        for name, c in self.operations.items():
            row = sep.join([name.ljust(width)] + [f"{c.get(k, 0):{len(k)}d}" for k in cols])
            lines.append(f"| {row} |" if markdown else row)
        if self.labels:
            lines.append("")
            lines.extend(f"label {k}: {v}" for k, v in sorted(self.labels.items()))
        if detailed:
            lines.append("")
            for job_id, info in sorted(self.jobs.items()):
                lines.append(f"{job_id[:8]}  eligible: {', '.join(info['eligible']) or '-'}"
                             f"  labels: {', '.join(info['labels']) or '-'}")
        return "\n".join(lines)

    def to_html(self):
        import html

        rows = "".join(f"<tr><td>{html.escape(n)}</td><td>{c['eligible']}</td>"
                       f"<td>{c['complete']}</td></tr>" for n, c in self.operations.items())
        return ("<table><tr><th>operation</th><th>eligible</th><th>complete</th></tr>"
                f"{rows}</table>")


class Runner:
    """Evaluates conditions (documents read once per call, through the index) and runs
    operations in the job directories."""

    def __init__(self, workflow_cls, project):
        self.flow = workflow_cls
        self.project = project

    def _jobs(self, filter=None, ids=None):
        jobs = list(self.project.find_jobs(filter))
        if ids:
            wanted = {self.project.open_job(id=i).id for i in ids}
            jobs = [j for j in jobs if j.id in wanted]
        return jobs

    def _state(self, jobs):
        docs = self.project.index.documents([j.id for j in jobs])
        completed = {j.id: provenance.completed_operations(j) for j in jobs}
        return docs, completed

    def eligible(self, op, job, docs, completed):
        for cond in op.pre:
            if cond.kind == "after":
                if not all(n in completed[job.id] for n in cond.arg):
                    return False
            elif not cond(job, docs):
                return False
        if op.post:
            return not all(cond(job, docs) for cond in op.post)
        return op.name not in completed[job.id]

    def complete(self, op, job, docs, completed):
        if op.post:
            return all(cond(job, docs) for cond in op.post)
        return op.name in completed[job.id]

    def status(self, ops=None, filter=None, ids=None):
        jobs = self._jobs(filter, ids)
        docs, completed = self._state(jobs)
        out = Status()
        names = ops or list(self.flow._operations)
        for name in names:
            out.operations[name] = {"eligible": 0, "complete": 0}
        for job in jobs:
            info = {"eligible": [], "labels": []}
            for name in names:
                op = self._op(name)
                if self.eligible(op, job, docs, completed):
                    out.operations[name]["eligible"] += 1
                    info["eligible"].append(name)
                elif self.complete(op, job, docs, completed):
                    out.operations[name]["complete"] += 1
            for label, fn in self.flow._labels.items():
                value = fn(job)
                if value:
                    text = label if value is True else f"{label}={value}"
                    out.labels[text] = out.labels.get(text, 0) + 1
                    info["labels"].append(text)
            out.jobs[job.id] = info
        return out

    def _op(self, name):
        try:
            return self.flow._operations[name]
        except KeyError:
            known = ", ".join(self.flow._operations) or "none"
            from suite.errors import SuiteError

            raise SuiteError(f"no operation {name!r} (known: {known})") from None

    def run(self, ops=None, filter=None, ids=None, num=None, order="none", timeout=None,
            num_passes=1, pretend=False, echo=print):
        """Run eligible operations; return a list of (operation, job id, status)."""
        names = ops or list(self.flow._operations)
        for name in names:
            self._op(name)
        executed = []
        for _ in range(num_passes):
            jobs = self._jobs(filter, ids)
            docs, completed = self._state(jobs)
            todo = [(self._op(n), j) for j in jobs for n in names
                    if self.eligible(self._op(n), j, docs, completed)]
            if order == "random":
                random.shuffle(todo)
            elif order == "cyclic":
                todo.sort(key=lambda t: names.index(t[0].name))
            if num is not None:
                todo = todo[: max(0, num - len(executed))]
            if not todo:
                break
            for op, job in todo:
                if pretend:
                    echo(self._describe(op, job))
                    executed.append((op.name, job.id, "pretend"))
                    continue
                executed.append((op.name, job.id, self.execute(op, job, timeout)))
            if pretend or (num is not None and len(executed) >= num):
                break
        return executed

    def _describe(self, op, job):
        if op.cmd:
            return f"cd {job.path} && {op.func(job)}"
        return f"{op.name}({job.id})"

    def execute(self, op, job, timeout=None):
        """Run one operation on one job, with hooks and a provenance record."""
        start = time.time()
        status, error = "success", None
        for hook in getattr(self.flow, "on_start", []):
            hook(op.name, job)
        try:
            if op.cmd:
                command = op.func(job)
                proc = subprocess.run(command, shell=True, cwd=job.path, timeout=timeout)
                if proc.returncode != 0:
                    status, error = "failure", f"exit status {proc.returncode}"
            elif op.with_job:
                with job:
                    op.func(job)
            else:
                op.func(job)
        except subprocess.TimeoutExpired:
            status, error = "failure", f"timed out after {timeout} s"
        except Exception as exc:  # the record says what failed; the run goes on
            status, error = "failure", f"{type(exc).__name__}: {exc}"
        end = time.time()
        provenance.record(job, {
            "operation": op.name, "jobs": [job.id], "start": start, "end": end,
            "duration": end - start, "status": status, "error": error,
            "git_commit": provenance.git_commit(self.project.path)})
        hooks = "on_success" if status == "success" else "on_failure"
        for hook in getattr(self.flow, hooks, []):
            hook(op.name, job) if status == "success" else hook(op.name, job, error)
        return status


def load_workflow(project, module=None):
    """The Workflow subclass defined in ``module`` (a file path or module name; default:
    ``workflow.py`` in the project directory)."""
    import importlib
    import importlib.util

    from suite.errors import SuiteError

    from .model import Workflow

    if module is None:
        module = os.path.join(project.path, "workflow.py")
        if not os.path.exists(module):
            raise SuiteError(f"no workflow: {module} does not exist (or give --workflow)")
    try:
        if module.endswith(".py"):
            spec = importlib.util.spec_from_file_location("suite_workflow", module)
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
        else:
            mod = importlib.import_module(module)
    except Exception as exc:
        raise SuiteError(f"cannot load the workflow {module}: {type(exc).__name__}: {exc}") \
            from None
    classes = [v for v in vars(mod).values() if isinstance(v, type) and issubclass(v, Workflow)
               and v is not Workflow]
    if not classes:
        raise SuiteError(f"{module} defines no Workflow subclass")
    return classes[-1]
