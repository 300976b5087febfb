"""FlowProject: a project that is also a workflow, as signac-flow's ``FlowProject`` is.

A signac-flow ``project.py`` runs unchanged once ``from flow import FlowProject`` reads
``from suite.flow import FlowProject`` (and ``import signac`` reads ``import suite as
signac``): the decorators, ``run``, ``submit``, ``print_status``, ``get_job_status``,
``labels`` and ``main()`` follow signac-flow 0.29's meaning. It differs from suite's
``Workflow`` in three of signac-flow's rules (``signac_flow_rules``): an operation without
postconditions is never complete (always eligible), a command runs in the caller's
directory unless ``with_job=True``, and definitions are checked as signac-flow checks them.
The differences that remain are listed in docs/coming-from-signac-flow.md.
"""

import enum
import os
import re
import sys
import weakref

from suite.errors import FlowDefinitionError, OperationFailedError, SuiteError
from suite.project import Project
from suite.project import get_project as _find_project
from suite.terminal import visible

from . import directives as D
from .aggregates import get_aggregate_id
from .engine import Runner
from .model import Workflow, registered
from .succeeded import Succeeded


class IgnoreConditions(enum.IntFlag):
    """Which conditions decide eligibility: NONE, PRE, POST or ALL ignored."""

    NONE = 0
    PRE = 1
    POST = 2
    ALL = 3

    def __str__(self):
        return {0: "none", 1: "pre", 2: "post", 3: "all"}[int(self)]


#: jobs a FlowProject's per-job calls learn about before their cache is stored (see
#: ``succeeded_cache``)
SAVE_EVERY = 1000
HOOK_TRIGGERS = ("on_start", "on_success", "on_exception", "on_exit")


class Hooks:
    """Lists of hook functions per trigger: ``project.project_hooks.on_start.append(f)``."""

    def __init__(self):
        for trigger in HOOK_TRIGGERS:
            setattr(self, trigger, [])


class _HookRegister:
    """``@Project.operation_hooks.on_start(f)`` above or below ``@Project.operation``."""

    def __init__(self, owner=None):
        self.owner = owner

    def __get__(self, instance, owner):
        return _HookRegister(owner)

    def _decorator(self, trigger, hook):
        owner = self.owner

        def decorate(func):
            op = registered(owner, func)
            if op is not None:
                op.hooks.setdefault(trigger, []).append(hook)
            else:
                func.__dict__.setdefault("_suite_flow_hooks", []).append((trigger, hook))
            return func

        return decorate

    def on_start(self, hook):
        return self._decorator("on_start", hook)

    def on_success(self, hook):
        return self._decorator("on_success", hook)

    def on_exception(self, hook):
        return self._decorator("on_exception", hook)

    def on_exit(self, hook):
        return self._decorator("on_exit", hook)


#: signac-flow names suite does not have, and what to use instead
UNSUPPORTED = {
    "detect_operation_graph": "the operations' pre.after conditions describe the graph",
    "scheduler_jobs": "suite's 'suite status' asks the scheduler for submitted operations",
    "environment": "suite detects the scheduler itself; choose one with SUITE_SCHEDULER",
    "submit_options": "directives on the operations",
    "run_options": "directives (fork, executable) on the operations",
}


def unsupported(name):
    """SuiteError for a signac-flow name suite does not provide."""
    return SuiteError(f"{name} (signac-flow) is not supported by suite.flow: "
                      f"{UNSUPPORTED.get(name, 'see docs/coming-from-signac-flow.md')}")


class FlowProject(Project, Workflow):
    """A project whose class holds a workflow: signac-flow's FlowProject.

    Parameters
    ----------
    path : str, optional
        The project directory (default: the current directory).
    environment, entrypoint
        signac-flow's; suite detects the scheduler itself, so ``environment`` must be None.

    Raises
    ------
    ProjectNotFoundError
        There is no project at ``path``.
    """

    signac_flow_rules = True
    operation_hooks = _HookRegister()
    #: ``print_status(parameters=...)`` value for "every state point key that varies"
    PRINT_STATUS_ALL_VARYING_PARAMETERS = True

    def __init__(self, path=None, environment=None, entrypoint=None):
        if environment is not None:
            raise unsupported("environment")
        error = type(self).definition_error()
        if error is not None:
            raise FlowDefinitionError(error)
        super().__init__(path or ".")
        self.project_hooks = Hooks()
        self._entrypoint = dict(entrypoint or {})
        self._succeeded = None

    @property
    def entry_file(self):
        """The file a forked or submitted operation loads again: the one whose ``main()``
        runs (the class's ``workflow_file``), else the entrypoint's ``path``, else (as
        signac-flow) the file defining this class; None for a class with no file (typed
        into ``python -c``)."""
        module = type(self).workflow_file or self._entrypoint.get("path")
        if module is None:
            import inspect

            try:
                module = inspect.getsourcefile(type(self))
            except TypeError:  # defined in __main__ without a file
                return None
            module = os.path.realpath(module) if module and os.path.isfile(module) else None
        return module

    def detect_operation_graph(self):
        """Not supported (raises SuiteError): the pre.after conditions are the graph."""
        raise unsupported("detect_operation_graph")

    def scheduler_jobs(self, scheduler):
        """Not supported (raises SuiteError): ``suite status`` asks the scheduler."""
        raise unsupported("scheduler_jobs")

    @classmethod
    def get_project(cls, path=None, search=True, **kwargs):
        """The project at ``path`` (default: here) or, with ``search``, the nearest one
        above it. Raises ProjectNotFoundError."""
        path = path or "."
        root = _find_project(path).path if search else path
        return cls(root, **kwargs)

    # -- definitions ------------------------------------------------------------------------
    @classmethod
    def operation(cls, func=None, name=None, *, cmd=False, with_job=False, directives=None,
                  aggregator=None):
        """Register an operation (signac-flow's ``@Project.operation``, with or without
        arguments). Directive values are checked here (see :mod:`suite.flow.directives`);
        raises FlowDefinitionError or SuiteError."""
        if isinstance(func, str):
            func, name = None, func
        if func is None:
            return lambda f: cls.operation(f, name, cmd=cmd, with_job=with_job,
                                           directives=directives, aggregator=aggregator)
        where = f"operation {visible(name or func.__name__)}"
        for key, value in (directives or {}).items():
            if not callable(value):
                D.normalise(key, value, where)
        Workflow.operation.__func__(cls, func, name=name, cmd=cmd, with_job=with_job,
                                    directives=directives, aggregator=aggregator)
        op = registered(cls, func)
        for trigger, hook in func.__dict__.pop("_suite_flow_hooks", []):
            op.hooks.setdefault(trigger, []).append(hook)
        return func

    @classmethod
    def make_group(cls, name, submit_options="", run_options="", group_aggregator=None):
        """A group (signac-flow's ``make_group``). suite cannot apply ``submit_options`` or
        ``run_options``: they are kept, and submitting (``submit_options``) or running
        (``run_options``) this group raises SuiteError naming them; the definition itself,
        and the rest of the project, work."""
        group = Workflow.make_group.__func__(cls, name, group_aggregator=group_aggregator)
        group.unapplied = {k: v for k, v in (("submit_options", submit_options),
                                             ("run_options", run_options)) if v}
        return group

    @property
    def operations(self):
        """Operation name -> operation."""
        return dict(self.operation_table)

    @property
    def groups(self):
        """Group name -> group."""
        return dict(self.group_table)

    # signac-flow's FlowProject has these two private attributes (name -> operation, group)
    # and users' code reads them: the class's own tables under those names
    _operations = property(lambda self: self.operation_table)
    _groups = property(lambda self: self.group_table)

    # -- status ----------------------------------------------------------------------------
    @property
    def succeeded_cache(self):
        """This project object's :class:`~suite.flow.succeeded.Succeeded`: which operations
        succeeded per job, read from the logs incrementally and shared by every call, so a
        loop of :meth:`get_job_status` reads each log's new lines only; stored every
        ``SAVE_EVERY`` jobs learnt and when the object is collected or the process exits."""
        if self._succeeded is None:
            self._succeeded = Succeeded(self.path)
            # a SQLite write per call would cost more than the reads it saves (a 10,000-job
            # loop): save in batches, and what is left at the end
            weakref.finalize(self, self._succeeded.save)
        return self._succeeded

    def make_runner(self):
        """A new :class:`~suite.flow.engine.Runner` of this project's workflow, sharing
        :attr:`succeeded_cache`."""
        return Runner(type(self), self, self.succeeded_cache)

    def _logged(self, runner, job):
        completed = runner.logged([job])
        if runner.succeeded.pending >= SAVE_EVERY:
            runner.succeeded.save()
        return completed

    def labels(self, job):
        """The job's labels, as signac-flow yields them: a label's name when its function
        returns True, the string when it returns one."""
        for label, fn in self.label_table.items():
            value = fn(job)
            if isinstance(value, str):
                yield value
            elif value:
                yield label

    def completed_operations(self, job):
        """Names of the operations whose postconditions all hold for ``job``."""
        runner = self.make_runner()
        completed = self._logged(runner, job)
        for name, op in self.operation_table.items():  # aggregate ones too, on the job alone
            if runner.complete(op, (job,), None, completed, {}):
                yield name

    def get_job_status(self, job, ignore_errors=False, cached_status=None):
        """``{"job_id", "operations": {name: {"eligible", "completed", "scheduler_status"}},
        "labels", "_labels_error", "_operations_error"}`` for one job."""
        runner = self.make_runner()
        completed = self._logged(runner, job)
        ops = {}
        for name, op in self.operation_table.items():
            if op.aggregator is not None:
                continue
            memo = {}
            done = runner.complete(op, (job,), None, completed, memo)
            ops[name] = {"eligible": runner.eligible(op, (job,), None, completed, done, memo),
                         "completed": done, "scheduler_status": 1}
        return {"job_id": job.id, "operations": ops, "labels": sorted(self.labels(job)),
                "_labels_error": None, "_operations_error": None}

    def print_status(self, jobs=None, overview=True, overview_max_lines=None, parameters=None,
                     detailed=False, all_ops=False, only_incomplete=False,
                     output_format="terminal", unroll=True, compact=False, pretty=False,
                     file=None, err=None, ignore_errors=False, template=None,
                     profile=False, eligible_jobs_max_lines=None, hide_progress=False,
                     operation=None, **kwargs):
        """Print the status: per operation, eligible and complete counts, the labels, and
        with ``detailed`` a line per job (``parameters``: state point keys, or ``doc.`` keys,
        shown on it). Raises SuiteError for signac-flow options suite does not have
        (``template``, ``profile``)."""
        if template is not None:
            raise SuiteError("print_status(template=...) (signac-flow) is not supported by "
                             "suite.flow: use output_format='markdown' or 'html', or --json")
        if profile:
            raise SuiteError("status --profile (signac-flow) is not supported by suite.flow")
        file = sys.stdout if file is None else file  # the current one, as signac-flow
        runner = self.make_runner()
        ids = None if jobs is None else [j.id for unit in jobs
                                         for j in (unit if isinstance(unit, tuple) else (unit,))]
        names = _match(self, operation) if operation else None
        groups = [n for n in names or () if n in self.group_table]
        ops = [n for n in names or () if n not in self.group_table]
        # a group is shown as one row, as in signac-flow: its operations are judged, shown
        # only where asked for themselves
        judged = list(dict.fromkeys(ops + [o for g in groups for o in self.group_table[g].operations]))
        result = runner.status(judged or None, None, ids)
        if groups:
            counts, eligible = runner.group_status(groups, ids)
            result.operations = {n: counts[n] if n in counts else result.operations[n]
                                 for n in names}
            result.jobs.keep(names, eligible)
        if output_format == "html":
            print(result.to_html(), file=file)
            return
        markdown = output_format == "markdown"
        if overview:
            eligible = sum(1 for info in result.jobs.values() if info["eligible"])
            print(f"Overview: {len(result.jobs)} jobs, {eligible} jobs with eligible "
                  "operations.\n", file=file)
            ops = result.operations
            if not all_ops:  # as signac-flow: only operations with something to do
                result.operations = {k: v for k, v in ops.items() if v["eligible"]} or ops
            print(result.format(markdown=markdown), file=file)
            result.operations = ops
        if detailed:
            print("\nDetailed View:\n", file=file)
            for line in _detailed(self, result, parameters, only_incomplete):
                print(line, file=file)

    # -- running ---------------------------------------------------------------------------
    def run(self, jobs=None, names=None, pretend=False, np=None, timeout=None, num=None,
            num_passes=1, progress=False, order=None, ignore_conditions=IgnoreConditions.NONE):
        """Run eligible operations until none is left, each (operation, job) at most
        ``num_passes`` times (None or negative: no limit), as signac-flow's ``run``.

        ``names`` are regular expressions matched against operation and group names. Stops
        at the first failing operation, which is printed with its traceback: raises
        OperationFailedError (and SuiteError for a name that matches nothing)."""
        if isinstance(names, str):
            raise ValueError("names must be a sequence of strings, not a string")
        if not isinstance(ignore_conditions, IgnoreConditions):
            raise ValueError("ignore_conditions must be an IgnoreConditions value")
        if order not in (None, "none", "by-job", "cyclic", "random") and not callable(order):
            raise ValueError(f"invalid order {order!r}: none, by-job, cyclic, random or a "
                             "function")
        num_passes = None if num_passes is None or num_passes < 0 else num_passes
        num = None if num is None or num < 0 else num
        parallel = (os.cpu_count() or 1) if np is not None and int(np) < 0 else int(np or 1)
        runner = self.make_runner()
        selected = _match(self, names) if names else list(self.operation_table)
        refuse_unapplied(self, selected, "run_options")
        wanted = _selection(self, jobs)
        counts, total, ran = {}, 0, []
        with runner.log.background():
            while num is None or total < num:
                alljobs = runner.find_jobs()
                docs, completed = runner.read_state(alljobs)
                todo = []
                for op, unit in runner.todo(selected, alljobs, docs, completed,
                                            int(ignore_conditions)):
                    key = (op.name, tuple(j.id for j in unit))
                    if wanted is not None and key[1] not in wanted:
                        continue
                    if num_passes is not None and counts.get(key, 0) >= num_passes:
                        continue
                    if num is not None and total + len(todo) >= num:
                        break
                    counts[key] = counts.get(key, 0) + 1
                    todo.append((op, unit))
                if not todo:
                    break
                total += len(todo)
                todo = _ordered(todo, order)
                if pretend:  # one pass: nothing changes, so later passes would repeat it
                    for op, unit in todo:
                        print(runner.describe(op, unit))
                    break
                ran += self._execute(runner, todo, timeout, parallel, progress)
        return ran

    def _execute(self, runner, todo, timeout, parallel, progress):
        show = _progress(len(todo)) if progress else None
        if parallel > 1:
            done = runner.execute_all(todo, timeout, parallel, show)
        else:
            done = []
            for k, (op, unit) in enumerate(todo, 1):
                done += runner.execute_all([(op, unit)], timeout, 1, None)
                if show:
                    show(k, len(todo), 0)
                if done[-1][2] != "success":
                    break  # signac-flow stops at the first failure
        for name, ids, status in done:
            if status != "success":
                raise OperationFailedError(
                    f"operation {visible(name)} failed on {ids} (see the traceback above and its "
                    "suite_flow_log.jsonl)")
        return done

    def eligible_ids(self, name):
        """Yield the ids (:func:`~suite.flow.aggregates.get_aggregate_id`) of the jobs or
        aggregates operation or group ``name`` is eligible for now. Raises SuiteError (when
        iterated) for an unknown name."""
        runner = self.make_runner()
        jobs = runner.find_jobs()
        docs, completed = runner.read_state(jobs)
        for _, unit in runner.todo([name], jobs, docs, completed):
            yield get_aggregate_id(unit)

    def submit(self, jobs=None, bundle_size=1, names=None, num=None, parallel=False,
               force=False, ignore_conditions=IgnoreConditions.NONE,
               ignore_conditions_on_execution=IgnoreConditions.NONE, pretend=False,
               template="script.sh", show_template_help=False, flags=None, hold=False,
               after=(), scheduler=None, **kwargs):
        """Submit eligible operations to the scheduler (see :func:`suite.flow.submit.submit`):
        one script per ``bundle_size`` operations (0: all in one); ``templates/script.sh``
        in the project, if there, renders them (signac-flow's blocks, see
        docs/coming-from-signac-flow.md). Returns the scheduler ids (with ``pretend``, the
        script names). Raises SuiteError for options suite does not support."""
        from schedulers import get_scheduler

        from .submit import submit as do_submit

        for option, value in (("ignore_conditions", ignore_conditions),
                              ("ignore_conditions_on_execution",
                               ignore_conditions_on_execution), ("show_template_help",
                                                                 show_template_help)):
            if value:
                raise SuiteError(f"submit {option.replace('_', '-')} (signac-flow) is not "
                                 "supported by suite.flow")
        for key, value in kwargs.items():
            if value not in (None, False, 0, "", [], ()):
                raise SuiteError(f"submit option {key!r} (signac-flow) is not supported by "
                                 "suite.flow")
        runner = self.make_runner()
        ops = _match(self, names) if names else None
        refuse_unapplied(self, ops or (), "submit_options")
        ids = None if jobs is None else [j.id for unit in jobs
                                         for j in (unit if isinstance(unit, tuple) else (unit,))]
        sched = scheduler if scheduler is not None else get_scheduler(None, None)
        flow_template = template if os.path.isfile(os.path.join(self.path, "templates",
                                                                template)) else None
        if flow_template is None and template != "script.sh":
            raise SuiteError(f"no template {template!r} in {os.path.join(self.path, 'templates')}"
                             " (without --template, templates/script.sh is used if present)")
        module = self.entry_file
        bundle = bundle_size if bundle_size else sys.maxsize  # 0: everything in one script
        return do_submit(runner, sched, ops, None, ids, num, bundle, parallel, pretend, hold,
                         list(after), list(flags or ()), module, print,
                         flow_template=flow_template)

    # -- command line ----------------------------------------------------------------------
    def main(self, parser=None):
        """signac-flow's command line: ``python project.py status|run|submit|exec|next``
        with its options (see :mod:`suite.flow.main`). Errors print as one line and exit 1."""
        from .main import main

        main(self, parser)


def refuse_unapplied(project, names, option):
    """Raise SuiteError when one of the groups ``names`` was made with signac-flow's
    ``option`` (``run_options`` or ``submit_options``), which suite cannot apply."""
    for name in names:
        group = project.group_table.get(name)
        if group is not None and option in group.unapplied:
            raise SuiteError(f"{option} (signac-flow) is not supported by suite.flow: group "
                             f"{name!r} has {option}={group.unapplied[option]!r}; "
                             f"{UNSUPPORTED[option]}")


def _match(project, names, groups=True):
    """Operation (and group) names matching any of the regular expressions ``names``."""
    known = list(project.operation_table) + (list(project.group_table) if groups else [])
    out = [n for n in known if any(re.fullmatch(p, n) for p in names)]
    # each name must match something: a typo beside a good name is not dropped silently
    unmatched = [p for p in names if not any(re.fullmatch(p, n) for n in known)]
    if unmatched:
        raise SuiteError(f"no operation or group matches {' '.join(unmatched)} (known: "
                         f"{', '.join(known) or 'none'})")
    return out


def _selection(project, jobs):
    """The id tuples of the selected jobs or aggregates (None: all)."""
    if jobs is None:
        return None
    out = set()
    for unit in jobs:
        unit = unit if isinstance(unit, tuple) else (unit,)
        out.add(tuple(j.id for j in unit))
    return out


def _ordered(todo, order):
    import random

    if callable(order):
        return sorted(todo, key=lambda t: order(t))
    if order == "random":
        random.shuffle(todo)
    elif order == "cyclic":
        by_job = {}
        for item in sorted(todo, key=lambda t: get_aggregate_id(t[1])):
            by_job.setdefault(get_aggregate_id(item[1]), []).append(item)
        lists = list(by_job.values())
        todo = [lst[k] for k in range(max(map(len, lists))) for lst in lists if k < len(lst)]
    return todo


def _progress(total):
    def show(done, total_, failed):
        sys.stderr.write(f"\r{done}/{total_} operations" + ("\n" if done == total_ else ""))
        sys.stderr.flush()

    return show


def _detailed(project, result, parameters, only_incomplete):
    from suite.query import MISSING, resolve

    # as signac-flow: -p without keys shows every state point key whose value varies
    # (signac-flow's Python API says so with parameters=True)
    keys = list(project.detect_schema(exclude_const=True)) if parameters == [] or \
        parameters is True else list(parameters or [])
    header = ["job id", "labels", "eligible operations"] + keys
    rows = []
    for job_id, info in sorted(result.jobs.items()):
        if only_incomplete and not info["eligible"]:
            continue
        row = [job_id, visible(", ".join(info["labels"])) or "-",
               visible(", ".join(info["eligible"])) or "-"]
        if keys:
            job = project.open_job(id=job_id)
            sp, doc = job.sp(), job.doc()
            for key in keys:
                source, path = (doc, key[4:]) if key.startswith("doc.") else \
                    (sp, key.removeprefix("sp."))
                value = resolve(source, tuple(path.split(".")))
                row.append("-" if value is MISSING else visible(value))
        rows.append(row)
    widths = [max(len(str(r[k])) for r in rows + [header]) for k in range(len(header))]
    yield "  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))
    for row in rows:
        yield "  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True))
