"""Status and local execution of a workflow over a project's jobs."""

import gc
import os
import random
import shlex
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field

from suite.cursor import unreadable_reasons
from suite.index import gc_paused
from suite.job import jobs_of, prime_document, release_document
from suite.terminal import visible

from . import provenance, scan
from .aggregates import get_aggregate_id
from .scan import Column, JobTable, count_columns, label_texts, loads_many
from .succeeded import Succeeded
from .workers import WORKERS_MAX, map_forked
from .workers import available as workers_available


@dataclass
class Status:
    """Per operation: how many jobs are eligible and how many are complete; label counts."""

    operations: dict = field(default_factory=dict)  # name -> {"eligible": n, "complete": n}
    labels: dict = field(default_factory=dict)  # label -> count
    # id -> {"eligible": [...], "labels": [...]} (+ "submitted", "running": see add_active);
    # status fills it with a scan.JobTable, a mapping that makes these entries when asked
    jobs: dict = field(default_factory=dict)
    # operation -> its latest provenance record {"id", "status", "start", "end", "jobs"}
    last: dict = field(default_factory=dict)
    #: id -> why, for jobs a filter left out because their state point cannot be read (the
    #: filter cannot tell whether they match); in the JSON only when there are some
    unreadable: dict = field(default_factory=dict)

    def to_json(self):
        out = {**self.__dict__, "jobs": dict(self.jobs.items())}
        if not self.unreadable:
            del out["unreadable"]
        return out

    def format(self, detailed=False, markdown=False):
        show = markdown_text if markdown else visible  # names come from users
        width = max([len(show(n)) for n in self.operations] + [9])
        sep = " | " if markdown else "  "
        cols = ["eligible", "submitted", "running", "complete"]
        lines = [sep.join(["operation".ljust(width)] + cols)]
        if markdown:
            lines = ["| " + lines[0] + " |", "|" + "---|" * 5]
        for name, c in self.operations.items():
            row = sep.join([show(name).ljust(width)]
                           + [f"{c.get(k, 0):{len(k)}d}" for k in cols])
            lines.append(f"| {row} |" if markdown else row)
        if self.labels:
            lines.append("")
            lines.extend(f"label {show(k)}: {v}" for k, v in sorted(self.labels.items()))
        if self.last:
            lines += ["", "last execution per operation:"]
            for name, r in self.last.items():
                when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["start"] or 0))
                jobs = r["jobs"][0][:8] + (f"+{len(r['jobs']) - 1}" if len(r["jobs"]) > 1
                                           else "") if r["jobs"] else "-"
                lines.append(f"  {show(name).ljust(width)}  {show(r['status']):<8} {when}  "
                             f"job {show(jobs)}  record {show(r['id'][:12])}")
        if detailed:
            lines.append("")
            for job_id, info in sorted(self.jobs.items()):
                lines.append(f"{job_id[:8]}  eligible: {show(', '.join(info['eligible'])) or '-'}"
                             + "".join(f"  {k}: {show(', '.join(info[k]))}"
                                       for k in ("submitted", "running") if info.get(k))
                             + f"  labels: {show(', '.join(info['labels'])) or '-'}")
        return "\n".join(lines)

    def add_active(self, active):
        """Count submissions the scheduler still holds: ``active`` maps (operation, job id) to
        (scheduler id, state), as :func:`suite.flow.submit.active_pairs` returns it. Jobs
        with any get ``submitted`` / ``running`` lists of operation names."""
        for (op, job_id), (_, state) in active.items():
            key = "running" if state == "running" else "submitted"
            counts = self.operations.get(op)
            if counts is not None:
                counts[key] = counts.get(key, 0) + 1
            info = self.jobs.get(job_id)
            if info is not None:
                info.setdefault(key, []).append(op)

    def to_html(self):
        import html

        cols = ("eligible", "submitted", "running", "complete")
        head = "".join(f"<th>{c}</th>" for c in ("operation",) + cols)
        rows = "".join(f"<tr><td>{html.escape(n)}</td>"
                       + "".join(f"<td>{c.get(k, 0)}</td>" for k in cols) + "</tr>"
                       for n, c in self.operations.items())
        labels = "".join(f"<li>{html.escape(k)}: {v}</li>" for k, v in sorted(self.labels.items()))
        return (f"<table><tr>{head}</tr>{rows}</table>"
                + (f"<ul>{labels}</ul>" if labels else ""))


def markdown_text(value):
    """``value`` as Markdown that stays in its table cell or line: ``|`` escaped, line breaks
    as spaces, ``&`` and ``<`` as entities (renderers pass raw HTML through; names and
    labels come from users)."""
    text = str(value).replace("&", "&amp;").replace("<", "&lt;").replace("|", "\\|")
    return " ".join(text.splitlines()) if "\n" in text or "\r" in text else text


#: set in the environment of a process a forked operation runs in (it must not fork again)
FORKED = "SUITE_FLOW_FORKED"

#: jobs up to which `status` shows the last record per operation unless told (reading every
#: log costs ~0.25 s per 10,000 jobs)
LAST_AUTO = 20000

#: executions after which `run` brings the index up to date before returning
REINDEX_AFTER = 1000


class Runner:
    """Evaluates conditions (documents read once per call, through the index) and runs
    operations in the job directories."""

    def __init__(self, workflow_cls, project, succeeded=None):
        self.flow = workflow_cls
        self.project = project
        self._memo = {}
        #: provenance records; `run` writes them in the background (see provenance.Log)
        self.log = provenance.Log()
        self._capture = None
        #: which operations succeeded per job, read from the logs incrementally
        #: (``.suite/flow/succeeded.sqlite``; saved after each evaluation); a FlowProject
        #: passes its own, shared by its runners
        self.succeeded = succeeded or Succeeded(project.path)

    @property
    def capture(self):
        """What every record of this runner shares, captured once (git, environment); set
        ``reason``/``tags`` on it before running (``suite run --reason/--tag``). Made when
        first asked: status records nothing, and the capture's imports (getpass, platform)
        were a tenth of its start."""
        if self._capture is None:
            from suite.provenance.capture import Capture

            self._capture = Capture(self.project.path)
        return self._capture

    def find_jobs(self, filter=None, ids=None):
        """The project's jobs matching ``filter`` (a query, None: all), and of those only the
        ones whose ids (full or abbreviated) are in ``ids`` when given, as a list."""
        jobs = list(self.project.find_jobs(filter))
        if ids:
            wanted = {self.project.open_job(id=i).id for i in ids}
            jobs = [j for j in jobs if j.id in wanted]
        return jobs

    def read_state(self, jobs):
        """``(docs, completed)`` for judging ``jobs`` (from :meth:`find_jobs`): their documents
        by id, read through the index (each job's document view primed with its own), and
        which operations succeeded per job, read from the logs when a condition asks. Starts
        a new evaluation: condition results remembered from the last one are dropped."""
        self.log.flush()  # "after" conditions read the logs
        self._memo = {}  # condition results, valid for this evaluation only
        index = self.project.index
        docs = index.documents([j.id for j in jobs] if len(jobs) < 2000 else None)
        sigs = index.document_signatures()
        for job in jobs:  # labels and callables read job.doc: one stat each, not a file read
            if job.id in docs and job.id in sigs:
                prime_document(job, docs[job.id], sigs[job.id])
        return docs, self._completed(jobs)

    def _completed(self, jobs):
        return _Completed(jobs, self.succeeded)

    def _holds(self, cond, jobs, docs, completed, memo=None):
        memo = self._memo if memo is None else memo
        kind = cond.kind
        if kind == "never":
            return False
        if kind == "succeeded":
            return all(self._ref(n).name in completed[j.id] for j in jobs for n in cond.arg)
        if kind == "after":
            return all(self._after(self._ref(n), jobs, docs, completed, memo) for n in cond.arg)
        if kind in ("copy_pre", "copy_post"):
            return all(self._holds(c, jobs, docs, completed, memo)
                       for n in cond.arg for c in getattr(self._ref(n), kind[5:]))
        if cond.raw is not None and len(jobs) > 1:
            return bool(cond.raw(*jobs))
        for j in jobs:
            # built-in conditions are shared between operations (a postcondition of one is a
            # precondition of the next): evaluate each once per job and call
            key = (kind, cond.arg, j.id) if kind != "callable" else (id(cond), j.id)
            value = memo.get(key)
            if value is None:
                value = memo[key] = cond(j, docs)
            if not value:
                return False
        return True

    def logged(self, jobs):
        """``{job id: operations that succeeded}`` for ``jobs``, read from their provenance
        logs when a condition asks (the ``completed`` argument of :meth:`eligible`)."""
        self.log.flush()
        return self._completed(jobs)

    def _after(self, op, jobs, docs, completed, memo):
        """``pre.after(op)``: op's postconditions hold; without any, op has succeeded (by the
        log), or, in a FlowProject (signac-flow's rule), always."""
        if op.post:
            return all(self._holds(c, jobs, docs, completed, memo) for c in op.post)
        return self.flow.signac_flow_rules or all(op.name in completed[j.id] for j in jobs)

    def _ref(self, ref):
        """The operation a condition names (by function or by name)."""
        if isinstance(ref, str):
            return self.operation(ref)
        for op in self.flow.operation_table.values():
            if op.func is ref:
                return op
        return self.operation(getattr(ref, "__name__", str(ref)))

    def eligible(self, op, jobs, docs, completed, done=None, memo=None, ignore=0):
        """Preconditions hold and not all postconditions hold (without postconditions: not
        yet completed successfully for every job). ``done`` is :meth:`complete` if known;
        ``ignore`` is an :class:`~suite.flow.IgnoreConditions` value (1 pre, 2 post)."""
        jobs = jobs if isinstance(jobs, tuple) else (jobs,)
        if not ignore & 1 and not all(self._holds(c, jobs, docs, completed, memo)
                                      for c in op.pre):
            return False
        if ignore & 2:
            return True
        return not (self.complete(op, jobs, docs, completed, memo) if done is None else done)

    def complete(self, op, jobs, docs, completed, memo=None):
        jobs = jobs if isinstance(jobs, tuple) else (jobs,)
        if op.post:
            return all(self._holds(c, jobs, docs, completed, memo) for c in op.post)
        if self.flow.signac_flow_rules:
            return False  # signac-flow: without postconditions, never complete
        return all(op.name in completed[j.id] for j in jobs)

    def units(self, op, jobs, docs):
        """The job tuples ``op`` (an operation or a group) runs on: one job each, or the
        aggregates."""
        if getattr(op, "aggregator", None) is None:
            return [(j,) for j in jobs]
        return op.aggregator(list(jobs), docs)

    def status(self, ops=None, filter=None, ids=None, progress=None, last=False, workers=None):
        """Counts per operation and label; ``progress(step, steps, jobs)`` is called before
        each operation's conditions are evaluated (and once for the labels; over more than
        :data:`~suite.flow.scan.CHUNK` jobs the steps follow the share of jobs judged).
        With ``last``, also each operation's latest provenance record (:attr:`Status.last`;
        from the logs' incremental read, a stat a job when they are unchanged); ``last=None``:
        only for at most :data:`LAST_AUTO` jobs.

        Jobs are made and judged a chunk at a time, so memory stays bounded; a workflow with
        aggregate operations sees all jobs at once (its aggregates need them).

        ``workers``: forked processes that judge parts of the jobs at once (None: as
        :meth:`status_workers` says), for a workflow without aggregates that reads no
        provenance log, where :func:`~suite.flow.workers.available`; the same result.
        Where a worker fails (a condition or label raising, for one) the jobs are judged
        again here, so the error raised is the one this process meets judging them alone.

        With ``filter``, jobs whose state point cannot be read are left out (the filter cannot
        judge them) and named in the result's ``unreadable`` (id -> why) for the caller to
        report."""
        names = ops or list(self.flow.operation_table)
        operations = [self.operation(n) for n in names]
        out = Status(operations={n: {"eligible": 0, "complete": 0} for n in names})
        table = JobTable()
        whole = any(getattr(op, "aggregator", None) is not None for op in operations)
        selection = None
        if not self.project.find_jobs().workspace_ok():
            selection = []  # no workspace: no jobs
        elif filter is not None or ids:
            # the jobs a filter cannot judge are named in the result (the caller reports them)
            selection = self.project.find_jobs(filter, skip_unreadable=True).ids()
            if filter is not None:
                out.unreadable = unreadable_reasons(self.project)
            if ids:
                wanted = {self.project.open_job(id=i).id for i in ids}
                selection = [i for i in selection if i in wanted]
        self.log.flush()  # "after" conditions read the logs
        index = self.project.index
        steps = len(names) + 1
        shown = {"step": 0, "total": None}

        def report(step):
            if progress is not None and step > shown["step"]:
                shown["step"] = step
                progress(step, steps, shown["total"])

        ways, count = (0, None) if whole else \
            self._fork_workers(workers, operations, selection, index)
        forked = self._status_forked(ways, count, index, selection, names, operations, report,
                                     shown) if ways else None
        if forked is not None:
            for operations_part, labels_part, table_part in forked:
                for name, counts in operations_part.items():
                    for key, value in counts.items():
                        out.operations[name][key] += value
                for text, count in labels_part.items():
                    out.labels[text] = out.labels.get(text, 0) + count
                table.extend_flags(*table_part)
        chunks = scan.job_chunks(index, selection, None if whole else scan.CHUNK) \
            if forked is None else iter(())
        while True:
            with gc_paused():  # no user code runs while rows become objects
                part = next(chunks, None)
                if part is None:
                    break
                ids = part[0]
                jobs, docs, doclist = self._load_chunk(*part)
                # what was loaded lives through the chunk: frozen, the collections that the
                # conditions and labels cause do not walk it again and again. Frozen before
                # collections resume: the first one would walk it all (0.4 s per chunk)
                gc.freeze()
            try:
                if shown["total"] is None:
                    shown["total"] = (len(jobs) if whole else len(selection)
                                      if selection is not None else index.indexed_count())
                total = shown["total"]
                self._judge_chunk(jobs, ids, docs, doclist, names, operations, out, table,
                                  report, len(table) * (steps - 1) // (total or 1),
                                  len(jobs) >= total)
            finally:
                gc.unfreeze()
            for job in jobs:  # freed now, by reference counts (a collection took 7x longer)
                release_document(job)
            del jobs, docs, doclist, part, ids
        if shown["total"] is None:
            shown["total"] = 0
        report(steps)
        if selection is None:  # every job judged: rows of removed jobs can go
            self.succeeded.forget_others(table.ids)
        out.jobs = table
        if last or (last is None and len(table) <= LAST_AUTO):
            # from the logs' incremental read (.suite/flow/succeeded.sqlite): an unchanged log
            # costs a stat, a grown one its new bytes
            found = self.succeeded.latest(self.project.workspace, table.ids)
            self.succeeded.save()
            out.last = {name: found[name] for name in names if name in found}
        return out

    #: jobs from which status forks workers (fewer: their start and answers cost more
    #: than they save; docs/benchmarks.md, session 14)
    FORK_MIN = 10000

    def status_workers(self):
        """``(workers, asked)``: how many forked workers status uses when not told, from the
        project's ``status_parallelization`` setting in ``.signac/config`` (signac-flow's
        name): ``none`` (or ``thread``: threads cannot run Python conditions at once) is one
        process; ``process``, or no setting, one worker per core (two at most:
        docs/benchmarks.md, session 14) from :data:`FORK_MIN` jobs on; a number is that many
        workers at any job count (``asked``). Raises SuiteError for another value."""
        value = str(self.project.config.get("status_parallelization", "process")).strip()
        if value.lower() in ("none", "thread"):
            return 1, True
        if value.lower() == "process":
            cores = (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
                     else os.cpu_count() or 1)
            return min(cores, 2), False
        try:
            number = int(value)
        except ValueError:
            number = 0
        if number < 1:
            from suite.errors import SuiteError

            raise SuiteError("status_parallelization in .signac/config must be none, process "
                             f"or a number of processes, not {value!r}")
        return number, True

    def _fork_workers(self, workers, operations, selection, index):
        """``(workers, jobs)``: how many workers status forks (0: none) and the number of jobs
        judged if it was counted here (else None): ``workers`` if given (else
        :meth:`status_workers`), if more than one, ``fork`` usable, an index file the
        workers can open, no operation whose conditions read provenance logs (their cache is
        this process's to update), and, unless asked for, at least :data:`FORK_MIN` jobs."""
        asked = workers is not None
        if not asked:
            workers, asked = self.status_workers()
        if workers < 2 or not workers_available() or index.in_memory:
            return 0, None
        if any(self._reads_log(op) for op in operations):
            return 0, None
        count = None
        if not asked:
            count = len(selection) if selection is not None else index.indexed_count()
            if count < self.FORK_MIN:
                return 0, count
        return min(workers, WORKERS_MAX), count

    def _status_forked(self, ways, count, index, selection, names, operations, report, shown):
        """Judge the jobs in ``ways`` forked workers: per part, ``(operation counts, label
        counts, (ids, eligible flags, label texts))``, or None when a worker did not answer
        (the caller judges them all itself then). The first worker reports progress for
        its share. ``count``: the jobs judged, if already counted (None: counted here)."""
        total = count if count is not None else \
            len(selection) if selection is not None else index.indexed_count()
        parts = scan.job_parts(index, selection, ways, scan.CHUNK, total)
        shown["total"] = total
        report(1)

        def work(k, part):
            index.own_connection()
            self.succeeded = _NoLogs()
            out = Status(operations={n: {"eligible": 0, "complete": 0} for n in names})
            table = JobTable()
            steps = len(names)
            share = max(total // len(parts), 1)
            own = report if k == 0 else (lambda step: None)
            self._judge_chunks(scan.part_chunks(index, part, scan.CHUNK), names, operations,
                               out, table, lambda: len(table) * steps // share, own)
            return out.operations, out.labels, table.compact()

        return map_forked(work, parts)

    def _judge_chunks(self, chunks, names, operations, out, table, before, report):
        """Judge the ``chunks`` (of :func:`~suite.flow.scan.part_chunks`) into ``out`` and
        ``table``; ``before()``: the progress step done before the next chunk."""
        for part in chunks:
            with gc_paused():  # no user code runs while rows become objects
                ids = part[0]
                jobs, docs, doclist = self._load_chunk(*part)
                gc.freeze()  # as in status: what the chunk holds is not walked again
            try:
                self._judge_chunk(jobs, ids, docs, doclist, names, operations, out, table,
                                  report, before(), False)
            finally:
                gc.unfreeze()
            for job in jobs:
                release_document(job)
            del jobs, docs, doclist, part, ids

    def _load_chunk(self, ids, sps, documents, sigs):
        """``(jobs, {id: document}, the documents by position: None where there is none)``
        from a chunk of :func:`~suite.flow.scan.job_chunks`;
        each job's document view gets its document (labels and callables read job.doc: one
        stat each, not a file read)."""
        # a C map of the maker (no generator frame a job); lengths checked by the zip below
        jobs = list(jobs_of(self.project, ids, sps, with_paths=True))
        texts = [d for d in documents if type(d) is str]
        parsed = iter(loads_many(texts)) if texts else None
        docs, doclist = {}, []
        for job, job_id, doc, sig in zip(jobs, ids, documents, sigs, strict=True):
            if doc is not None:
                if type(doc) is str:
                    doc = next(parsed)
                docs[job_id] = doc
                prime_document(job, doc, sig)  # the text: parsed if ever compared
            doclist.append(doc)
        return jobs, docs, doclist

    def _judge_chunk(self, jobs, ids, docs, doclist, names, operations, out, table, report,
                     before, alone):
        """Count one chunk of jobs into ``out`` and ``table``; ``ids`` and ``doclist`` are the
        jobs' ids and documents by position (a ``job.id`` each is a property call: three
        a job at a million were a second). ``before``: the progress step done before this
        chunk; ``alone``: the chunk holds every job (a step per operation)."""
        self._memo = {}  # condition results, valid for this chunk only
        completed = self._completed(jobs)
        columns = {}

        def column(c):
            key = (c.kind, c.arg)
            if key not in columns:
                columns[key] = Column(c, jobs, docs, doclist)
            return columns[key]

        eligible, positions = {}, None
        for step, (name, op) in enumerate(zip(names, operations, strict=True), 1):
            report(step if alone else before + 1)
            counts = out.operations[name]
            conds = self._column_conditions(op)
            if conds is not None:
                done, ready = count_columns([column(c) for c in conds[0]],
                                            [column(c) for c in conds[1]], len(jobs))
                counts["complete"] += len(done)
                counts["eligible"] += len(ready)
                eligible[name] = ready
                continue
            if getattr(op, "aggregator", None) is not None and positions is None:
                positions = {i: k for k, i in enumerate(ids)}
            ready = eligible[name] = []
            units = (self.units(op, jobs, docs) if positions is not None
                     else ((j,) for j in jobs))
            for k, unit in enumerate(units):
                done = self.complete(op, unit, docs, completed)
                if self.eligible(op, unit, docs, completed, done):
                    counts["eligible"] += 1
                    ready += [positions[j.id] for j in unit] if positions is not None else [k]
                elif done:
                    counts["complete"] += 1
        self.succeeded.save()
        report(len(names) + 1 if alone else before + 1)
        texts = label_texts(self.flow.label_table, jobs, out.labels)
        table.extend(ids, eligible, texts)

    #: condition kinds that only read the job's document or stat one file: no side effects,
    #: never raise for a readable job, so they may be evaluated in any order
    _PURE = ("true", "false", "isfile")

    def _column_conditions(self, op):
        """``(pre, post)`` conditions of an operation on single jobs whose conditions are all
        built-in and pure, with postconditions (what decides "complete"): judged by
        columns (:class:`~suite.flow.scan.Column`); None when the general path must judge
        (aggregates, callables, logs)."""
        if getattr(op, "aggregator", None) is not None or not op.post:
            return None
        if any(c.kind not in self._PURE or c.raw is not None for c in op.pre + op.post):
            return None
        return list(op.pre), list(op.post)

    def operation(self, name):
        """The workflow's operation called ``name``; raises SuiteError naming the known
        operations and groups when there is none."""
        try:
            return self.flow.operation_table[name]
        except KeyError:
            known = ", ".join(list(self.flow.operation_table)
                              + list(self.flow.group_table)) or "none"
            from suite.errors import SuiteError

            raise SuiteError(f"no operation {name!r} (known: {known})") from None

    def todo(self, names, jobs, docs, completed, ignore=0):
        """``[(operation or group, job tuple)]``: for each of ``names`` (operations and
        groups, in this order), the jobs or aggregates of ``jobs`` it is eligible for, given
        ``docs`` and ``completed`` from :meth:`read_state`; ``ignore`` as in
        :meth:`eligible`. Raises SuiteError for a name that is neither."""
        todo = []
        for name in names:
            if name in self.flow.group_table:
                group = self.flow.group_table[name]
                todo += [(group, unit) for unit in self.units(group, jobs, docs)
                         if self._group_eligible(group, unit, docs, completed, ignore)]
                continue
            op = self.operation(name)
            todo += [(op, unit) for unit in self.units(op, jobs, docs)
                     if self.eligible(op, unit, docs, completed, ignore=ignore)]
        self.succeeded.save()  # what the logs said, for the next pass and the next process
        return todo

    def group_status(self, names, ids=None):
        """Per group of ``names``: ``{"eligible": n, "complete": n}`` over its units (jobs,
        or its ``group_aggregator``'s aggregates), and the ids of the jobs of its eligible
        units. A group is eligible where any of its operations is, complete where all are
        (signac-flow's status of a group). Raises SuiteError for a name that is no group."""
        from suite.errors import SuiteError

        unknown = [n for n in names if n not in self.flow.group_table]
        if unknown:
            raise SuiteError(f"no group {unknown[0]!r} (known: "
                             f"{', '.join(self.flow.group_table) or 'none'})")
        jobs = self.find_jobs(None, ids)
        docs, completed = self.read_state(jobs)
        counts, eligible = {}, {}
        for name in names:
            group = self.flow.group_table[name]
            ops = [self.operation(n) for n in group.operations]
            count = counts[name] = {"eligible": 0, "complete": 0}
            ready = eligible[name] = set()
            for unit in self.units(group, jobs, docs):
                if self._group_eligible(group, unit, docs, completed):
                    count["eligible"] += 1
                    ready.update(j.id for j in unit)
                elif all(self.complete(op, unit, docs, completed) for op in ops):
                    count["complete"] += 1
        self.succeeded.save()
        return counts, eligible

    def _group_eligible(self, group, unit, docs, completed, ignore=0):
        return any(self.eligible(self.operation(n), unit, docs, completed, ignore=ignore)
                   for n in group.operations)

    def run(self, ops=None, filter=None, ids=None, num=None, order="none", timeout=None,
            num_passes=1, pretend=False, echo=print, parallel=1, progress=None):
        """Run eligible operations (or groups); return a list of (name, job ids, status).

        ``progress(done, total, failed)`` is called after each execution of a pass."""
        names = ops or list(self.flow.operation_table)
        for name in names:
            if name not in self.flow.group_table:
                self.operation(name)
        executed = []
        if not pretend:
            self.capture.start()  # git runs while conditions are evaluated
        with self.log.background():
            for _ in range(num_passes):
                jobs = self.find_jobs(filter, ids)
                docs, completed = self.read_state(jobs)
                todo = self.todo(names, jobs, docs, completed)
                if order == "random":
                    random.shuffle(todo)
                elif order == "cyclic":
                    todo.sort(key=lambda t: names.index(t[0].name))
                elif order == "by-job":
                    todo.sort(key=lambda t: t[1][0].id)
                if num is not None:
                    todo = todo[: max(0, num - len(executed))]
                if not todo:
                    break
                if pretend:
                    for op, unit in todo:
                        echo(self.describe(op, unit))
                        executed.append((op.name, ",".join(j.id for j in unit), "pretend"))
                    break

                executed.extend(self.execute_all(todo, timeout, parallel, progress))
                if pretend or (num is not None and len(executed) >= num):
                    break
        if len(executed) >= REINDEX_AFTER and not pretend:
            # many operations changed documents: index them now, while they are in the page
            # cache, rather than in the user's next status call (for a few operations the
            # extra stat of every document would cost more than it saves)
            try:
                self.project.index.refresh(documents=True)
            except Exception:  # a cache: the next query refreshes it anyway
                pass
        return executed

    def execute_all(self, todo, timeout, parallel, progress):
        """Execute (operation or group, job tuple) items (:meth:`todo`), ``parallel`` at a
        time; return ``[(name, job ids joined by commas, "success" or "failure")]``.
        ``progress(done, total, failed)`` (or None) is called after each."""
        tally = {"done": 0, "failed": 0}
        lock = threading.Lock()

        def one(item):
            op, unit = item
            if op.name in self.flow.group_table:
                status = self.execute_group(op, unit, timeout)
            else:
                status = self.execute(op, unit, timeout)
            if progress is not None:
                with lock:
                    tally["done"] += 1
                    tally["failed"] += status == "failure"
                    progress(tally["done"], len(todo), tally["failed"])
            return op.name, ",".join(j.id for j in unit), status

        if parallel > 1:
            # threads: commands run as processes; Python operations overlap their I/O
            from concurrent.futures import ThreadPoolExecutor

            with ThreadPoolExecutor(parallel) as pool:
                return list(pool.map(one, todo))
        return [one(item) for item in todo]

    def describe(self, op, unit):
        """What running ``op`` on ``unit`` (a job tuple) does, as ``run --pretend`` prints it:
        a command operation's shell command (with its ``cd``), else ``name(job ids)``."""
        if getattr(op, "cmd", False):
            cwd = self._cmd_cwd(op, unit)
            return f"cd {cwd} && {op.func(*unit)}" if cwd else op.func(*unit)
        return f"{visible(op.name)}({', '.join(j.id for j in unit)})"

    def _cmd_cwd(self, op, jobs):
        """Where a command runs: the job directory (suite's workflows; a FlowProject's
        ``with_job``), else the project directory, or, in a FlowProject, here."""
        if len(jobs) == 1 and op.with_job:
            return jobs[0].path
        return None if self.flow.signac_flow_rules else self.project.path

    def execute_group(self, group, jobs, timeout=None):
        """Run a group's operations on ``jobs`` (one job, or the group's aggregate) in order,
        re-checking their conditions between them; stop at the first failure.

        The re-check reads only these jobs' documents and logs: the rest of the project
        cannot have changed because of them."""
        jobs = jobs if isinstance(jobs, tuple) else (jobs,)
        for name in group.operations:
            op = self.operation(name)
            if self._reads_log(op):
                self.log.flush()  # the records of the step before must be on disk
            completed = self._completed(jobs)
            if not self.eligible(op, jobs, None, completed, memo={}):
                continue
            if self.execute(op, jobs, timeout) != "success":
                return "failure"
        return "success"

    def _reads_log(self, op):
        """Whether deciding if ``op`` is eligible may read provenance logs."""
        kinds = {c.kind for c in op.pre + op.post}
        if "succeeded" in kinds:
            return True
        if self.flow.signac_flow_rules:
            return False
        return not op.post or bool(kinds & {"after", "copy_pre", "copy_post"})

    def _fork_command(self, op, jobs):
        """The command running a Python operation in a new process (its ``fork`` or
        ``executable`` directive), or None to run it in this one."""
        d = op.directives
        executable = d.get("executable")
        executable = executable(*jobs) if callable(executable) else executable
        fork = d.get("fork")
        fork = fork(*jobs) if callable(fork) else fork
        if (not fork and executable in (None, sys.executable)) or os.environ.get(FORKED):
            return None  # not asked for, or this is the new process
        # a FlowProject's file: where its main() runs, its entrypoint, or its class's file
        module = self.flow.workflow_file or getattr(self.project, "entry_file", None)
        if module is None:
            from suite.errors import SuiteError

            raise SuiteError(f"operation {visible(op.name)}: the fork/executable directive needs the "
                             "workflow's file, and its class has none (define it in a file)")
        return " ".join(shlex.quote(a) for a in [executable or sys.executable, "-m", "suite",
                                                 "exec", op.name, *[j.id for j in jobs],
                                                 "--workflow", module])

    def _has_hooks(self, op):
        project_hooks = getattr(self.project, "project_hooks", None)
        return any(op.hooks.values()) or any(
            getattr(project_hooks, t, None) for t in ("on_start", "on_success",
                                                      "on_exception", "on_exit"))

    def _call_hooks(self, trigger, op, jobs, error=None):
        """signac-flow's hooks: the operation's, then the project's (``project_hooks``)."""
        for hooks in (op.hooks, getattr(self.project, "project_hooks", None) or {}):
            for hook in (hooks.get(trigger, []) if isinstance(hooks, dict)
                         else getattr(hooks, trigger, [])):
                if trigger == "on_exception":
                    hook(op.name, error, *jobs)
                else:
                    hook(op.name, *jobs)

    def execute(self, op, jobs, timeout=None):
        """Run one operation on one job (or an aggregate), with hooks and provenance. A
        failure is printed (with the traceback of a Python operation) on stderr and kept in
        the provenance record."""
        jobs = jobs if isinstance(jobs, tuple) else (jobs,)
        first = jobs[0]
        before = self.capture.scan(jobs)
        start = time.time()
        status, error, exc, trace = "success", None, None, None
        for hook in getattr(self.flow, "on_start", []):
            hook(op.name, first)
        self._call_hooks("on_start", op, jobs)
        try:
            command = op.func(*jobs) if op.cmd else self._fork_command(op, jobs)
            if command is not None:
                cwd = self._cmd_cwd(op, jobs) if op.cmd else self.project.path
                proc = subprocess.run(command, shell=True, cwd=cwd, timeout=timeout,
                                      env=None if op.cmd else {**os.environ, FORKED: "1"})
                if proc.returncode != 0:
                    status, error = "failure", f"exit status {proc.returncode}"
                    exc = subprocess.CalledProcessError(proc.returncode, command)
            elif op.with_job:
                with first:
                    op.func(first)
            else:
                op.func(*jobs)
        except subprocess.TimeoutExpired as caught:
            status, error, exc = "failure", f"timed out after {timeout} s", caught
        except Exception as caught:  # the record says what failed; the run goes on
            status, error, exc = "failure", f"{type(caught).__name__}: {caught}", caught
            # from the operation's own frame on: this function's frame says nothing
            tb = caught.__traceback__
            trace = "".join(traceback.format_exception(type(caught), caught, tb.tb_next or tb))
        end = time.time()
        if before is not None and not trace:  # records on: the scan after and the line
            line = self.capture.record_line(op.name, jobs, start, end, status, error, before)
        else:
            files = self.capture.changes_text(jobs, before)
            line = self.capture.line(op.name, [j.id for j in jobs], start, end, status, error,
                                     trace or None, files)
        blobs = self.capture.blobs()
        for job in jobs:
            self.log.record(job, line, blobs, job.id in self.capture.fresh)
        if status != "success":
            where = f"job {first.id}" if len(jobs) == 1 else f"aggregate {get_aggregate_id(jobs)}"
            sys.stderr.write(f"operation {visible(op.name)} failed on {where}: {error}\n"
                             + (trace or ""))
            sys.stderr.flush()
        hooks = getattr(self.flow, "on_success" if status == "success" else "on_failure", [])
        if hooks or self._has_hooks(op):
            self.log.flush()  # a hook may read the record
        for hook in hooks:
            hook(op.name, first) if status == "success" else hook(op.name, first, error)
        self._call_hooks("on_success" if status == "success" else "on_exception", op, jobs, exc)
        self._call_hooks("on_exit", op, jobs)
        return status


class _NoLogs:
    """What a forked worker has instead of the provenance logs' cache: status forks only for
    workflows that read no log (:meth:`Runner._fork_workers`); were one read all the same, the
    worker fails and the parent judges the jobs itself."""

    def save(self):
        pass

    def __getattr__(self, name):
        raise RuntimeError("a forked status worker does not read provenance logs")


class _Completed(dict):
    """``{job id: completed operation names}``, read from a job's provenance log (only what
    is new since the cache last read it: :class:`~.succeeded.Succeeded`) only when a
    condition needs it (operations with postconditions and no ``after`` never do)."""

    def __init__(self, jobs, succeeded):
        super().__init__()
        self._jobs = list(jobs)  # by id when first asked (status judges a million jobs
        self._by_id = None  # whose conditions mostly never ask)
        self._succeeded = succeeded

    def __missing__(self, job_id):
        if self._by_id is None:  # the cached rows of all these jobs, in one query
            self._by_id = {j.id: j for j in self._jobs}
            self._succeeded.prefetch(self._by_id)
        value = self._succeeded.of(self._by_id[job_id])
        self[job_id] = value
        return value


def load_workflow(project, module=None):
    """The Workflow (or FlowProject) subclass defined in ``module`` (a file path or module
    name; default: ``workflow.py`` in the project directory, else its ``project.py``).

    Raises SuiteError if there is none or it cannot be loaded."""
    import importlib
    import importlib.util

    from suite.errors import SuiteError

    from .model import Workflow

    if module is None:
        module = os.path.join(project.path, "workflow.py")
        if not os.path.exists(module) and os.path.exists(project.fn("project.py")):
            module = project.fn("project.py")  # signac-flow's name
        if not os.path.exists(module):
            raise SuiteError(f"no workflow: {module} does not exist, nor does project.py "
                             "(or give --workflow)")
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
               and not v.__module__.startswith("suite.flow")]
    if not classes:
        hint = " (it uses signac-flow: import FlowProject from suite.flow)" if any(
            getattr(v, "__module__", "").startswith("flow.") for v in vars(mod).values()) else ""
        raise SuiteError(f"{module} defines no Workflow or FlowProject subclass{hint}")
    cls = classes[-1]
    if module.endswith(".py"):
        cls.workflow_file = os.path.abspath(module)  # a forked operation loads it again
    return cls
