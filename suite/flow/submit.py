"""Submitting eligible operations to a batch scheduler, and tracking the submissions.

Every submission is recorded at submit time by the scheduler's job id in the book
(``.suite/flow/submissions.json`` and its journal, :mod:`suite.flow.book`); status asks the
scheduler about all of them in one call. An (operation, job) pair that is queued, held or running is never submitted again.
"""

import hashlib
import json
import os
import re
import shlex
import sys
import time

from suite import layout

from . import book as books
from .aggregates import get_aggregate_id
from .book import ACTIVE, load, save  # noqa: F401  (their old home; callers import them here)


def active_pairs(project, scheduler):
    """``{(operation, job id): (scheduler id, state)}`` of this copy's submissions still
    queued or running; finished ones are dropped from the book (entries of other copies are
    left to their own location, see :mod:`suite.flow.book`). Raises SchedulerError if the
    query fails."""
    me = books.identity(project.path)
    mine = {i: e for i, e in load(project).items()
            if e["scheduler"] == scheduler.name and books.is_mine(e, me)}
    states = scheduler.query(list(mine)) if mine else {}
    active, finished = {}, []
    for sched_id, entry in mine.items():
        state = states.get(sched_id, "unknown")
        if state in ACTIVE:
            for op, job_id in entry["pairs"]:
                active[(op, job_id)] = (sched_id, state)
        else:
            finished.append(sched_id)
    if finished:
        # the book is read again under its lock: another process may have recorded a
        # submission while the scheduler was asked, and writing back the old book would
        # lose it (and let that operation be submitted twice)
        with books.locked(project):
            book = load(project)
            # only the entry asked about: a new one may have taken its id (the direct
            # scheduler's ids are process ids, which come round again)
            gone = [i for i in finished if book.get(i) == mine[i] and book.pop(i)]
            if gone:
                save(project, book)
    return active


def runner_for(project, module=None):
    """A :class:`suite.flow.Runner` of ``project`` with its workflow (``module``, default
    ``workflow.py``, else signac-flow's ``project.py``). Raises SuiteError if none loads."""
    from . import FlowProject, Runner, load_workflow

    cls = load_workflow(project, module)
    if issubclass(cls, FlowProject):  # signac-flow's project.py: the project is the workflow
        project = cls(project.path)
    return Runner(cls, project)


def scheduler_states(runner, result, scheduler_name=None):
    """Count submitted/running operations into ``result`` (a Status) from one query to the
    scheduler; return None, or a warning when it cannot be asked (the conditions answer).
    Raises CorruptFileError when this copy's book cannot be read (a warning for people:
    :func:`suite.flow.book.damage_warning`)."""
    if not load(runner.project):
        return None
    try:
        from schedulers import get_scheduler

        active = active_pairs(runner.project, get_scheduler(scheduler_name))
    except Exception as exc:  # status still answers from the conditions
        return f"cannot ask the scheduler ({exc}); showing conditions only"
    result.add_active(active)
    return None


def pending(runner, ops=None, filter=None, ids=None, force=False):
    """``[(operation, job ids tuple)]`` eligible here and not known queued or running at
    another location (unless ``force``): what ``submit --on a,b`` shares out."""
    names = ops or list(runner.flow.operation_table)
    jobs = runner.find_jobs(filter, ids)
    docs, completed = runner.read_state(jobs)
    other = {} if force else books.elsewhere(runner.project)
    return [(op.name, tuple(j.id for j in unit))
            for op, unit in runner.todo(names, jobs, docs, completed)
            if not any((op.name, j.id) in other for j in unit)]


def submit(runner, scheduler, ops=None, filter=None, ids=None, num=None, bundle=1,
           parallel=False, pretend=False, hold=False, after=(), extra_flags=(), module=None,
           echo=print, array=False, flow_template=None, only=None, force=False,
           skipped=None, recorded=None):
    """Submit eligible, not yet submitted operations; return the scheduler ids (with
    ``pretend``: the names of the scripts that would be submitted).

    The book is locked (:func:`suite.flow.book.locked`) from the check to the last record,
    so two submissions on this copy never both submit one operation. Operations queued or
    running here are never submitted again; those the book knows queued or running at
    another location are skipped too unless ``force``, each listed in ``skipped`` (a list,
    if given) as ``(operation, job ids, where, scheduler id)``. ``only``: a set of
    ``(operation, job ids tuple)`` to restrict to (how ``submit --on a,b`` shares work out).
    ``recorded`` (a dict, if given) receives the book entries written.

    With ``array``, scripts (single operations or bundles) that ask for the same resources
    go as one job array each: one submission, one task per script. ``flow_template`` names a
    signac-flow template in the project's ``templates/`` (``{% extends base_script %}``)
    that renders the scripts instead (see :mod:`suite.flow.templates`)."""
    with books.locked(runner.project):
        return _submit_locked(runner, scheduler, ops, filter, ids, num, bundle, parallel,
                              pretend, hold, after, extra_flags, module, echo, array,
                              flow_template, only, force, skipped, recorded)


def _eligible(runner, scheduler, ops, filter, ids, only, force, skipped):
    """The (operation, jobs) pairs to submit: eligible, not active here, not known active
    elsewhere (unless ``force``), within ``only``."""
    project = runner.project
    names = ops or list(runner.flow.operation_table)
    jobs = runner.find_jobs(filter, ids)
    docs, completed = runner.read_state(jobs)
    active = active_pairs(project, scheduler)
    other = {} if force else books.elsewhere(project)
    todo = []
    for op, unit in runner.todo(names, jobs, docs, completed):
        if only is not None and (op.name, tuple(j.id for j in unit)) not in only:
            continue
        if any((op.name, j.id) in active for j in unit):
            continue
        where = next((other[(op.name, j.id)] for j in unit if (op.name, j.id) in other), None)
        if where is not None:
            if skipped is not None:
                skipped.append((op.name, [j.id for j in unit], *where))
            continue
        todo.append((op, unit))
    return todo


def _submit_locked(runner, scheduler, ops, filter, ids, num, bundle, parallel, pretend, hold,
                   after, extra_flags, module, echo, array, flow_template, only, force,
                   skipped, recorded):
    from schedulers import Submission, combine

    project = runner.project
    todo = _eligible(runner, scheduler, ops, filter, ids, only, force, skipped)
    if num is not None:
        todo = todo[:num]
    # commands are shell lines: every value in them is quoted (paths may hold spaces, quotes,
    # even "$(...)")
    python = f"{shlex.quote(sys.executable)} -m suite"
    workflow = f" --workflow {shlex.quote(module)}" if module else ""
    workflow += _record_args(runner.capture)
    subs, listed = [], {}  # listed: script name -> its operations, for signac-flow templates
    for start in range(0, len(todo), max(1, bundle)):
        part = todo[start:start + max(1, bundle)]
        directives = combine([_directives(op, unit, runner) for op, unit in part], parallel)
        commands = [f"cd {shlex.quote(project.path)} && {python} exec {shlex.quote(op.name)} "
                    f"{' '.join(j.id for j in unit)}{workflow}"
                    + (" &" if parallel and len(part) > 1 else "") for op, unit in part]
        if parallel and len(part) > 1:
            commands.append("wait")
        name = f"suite-{_file_word(part[0][0].name)}-{part[0][1][0].id[:8]}" + (
            f"-bundle{len(part)}" if len(part) > 1 else "")
        listed[name] = [{"name": op.name, "id": get_aggregate_id(unit),
                         "cmd": cmd.removesuffix(" &"), "directives": _directives(op, unit, runner)}
                        for (op, unit), cmd in zip(part, commands, strict=False)]
        subs.append(Submission(name, commands, directives, hold, list(after),
                               list(extra_flags),
                               [(op.name, j.id) for op, unit in part for j in unit]))
    if array:
        subs = _arrays(subs)
    scripts_dir = os.path.join(project.path, layout.SUITE_DIR, "flow", "scripts")
    submitted = []
    # the book is read once (we hold its lock: no one else writes it), each submission
    # appended to its journal as soon as it is made, and the whole written once at the end:
    # rewriting it after every submission made N submissions cost N squared
    book = None if pretend else load(project)
    try:
        _submit_each(runner, scheduler, subs, listed, flow_template, parallel, pretend,
                     scripts_dir, book, echo, recorded, submitted)
    finally:
        if book is not None and submitted:
            save(project, book)
    return submitted


def _submit_each(runner, scheduler, subs, listed, flow_template, parallel, pretend,
                 scripts_dir, book, echo, recorded, submitted):
    """Render and submit each of ``subs``, recording each in ``book`` and its journal."""
    project = runner.project
    for sub in subs:
        if flow_template:
            from .templates import render_flow_template

            script = render_flow_template(scheduler, sub, project, flow_template, parallel,
                                          listed.get(sub.name, []))
        else:
            script = scheduler.render(sub, project.path)
        if pretend:
            path = os.path.join(scripts_dir, sub.name + ".sh")
            echo(f"# {shlex.join(scheduler.submit_command(path, sub))}")
            echo(script)
            submitted.append(sub.name)
            continue
        sched_id = scheduler.submit(script, sub, scripts_dir)
        now = time.time()
        parts = ([(scheduler.task_id(sched_id, k), pairs)
                  for k, pairs in enumerate(sub.task_pairs)] if sub.tasks
                 else [(sched_id, sub.pairs)])
        entries = {key: books.record(project, book, key, scheduler.name, pairs, now)
                   for key, pairs in parts}
        books.append(project, entries)
        if recorded is not None:
            recorded.update(entries)
        submitted.append(sched_id)


def _file_word(name):
    """``name`` as a word safe in a file name and a scheduler's job name: signac-flow lets an
    operation's name be any text, ``/`` and shell words included. A changed name gets a
    short hash of the original, so two names that map to the same word stay apart."""
    word = re.sub(r"[^A-Za-z0-9._-]", "_", name)[:80]
    if word == name:
        return word
    # surrogatepass: a name may hold undecodable bytes (surrogates), e.g. from a file name
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{word}-{digest[:6]}"


def _record_args(capture):
    """``exec`` options carrying the run's --reason and --tag into the submitted scripts."""
    args = ["--reason", capture.reason] if capture.reason else []
    for tag in capture.tags:
        args += ["--tag", tag]
    return "".join(" " + shlex.quote(a) for a in args)


def _arrays(subs):
    """Submissions with equal resources merged into job arrays (a lone one stays as it is)."""
    from schedulers import Submission

    groups = {}
    for sub in subs:
        groups.setdefault(json.dumps(sub.directives, sort_keys=True, default=str), []).append(sub)
    out = []
    for group in groups.values():
        if len(group) == 1:
            out.extend(group)
            continue
        first = group[0]
        out.append(Submission(f"{first.name}-array{len(group)}", [], first.directives,
                              first.hold, first.after, first.extra_flags,
                              [p for sub in group for p in sub.pairs],
                              tasks=[sub.commands for sub in group],
                              task_pairs=[sub.pairs for sub in group]))
    return out


def _directives(op, jobs, runner):
    """The directives of ``op`` (an operation or a group) on ``jobs``, evaluated and
    normalised (see :mod:`suite.flow.directives`)."""
    from .directives import evaluate

    if not hasattr(op, "func"):  # a group: its own directives, else its operations' (serial)
        from schedulers import combine

        if op.directives:
            return evaluate(op.directives, jobs, f"group {op.name}")
        return combine([evaluate({**runner.operation(n).directives,
                                  **op.operation_directives.get(n, {})}, jobs,
                                 f"operation {n}") for n in op.operations], False)
    return evaluate(op.directives, jobs, f"operation {op.name}")
