"""Work on another copy of the project (a cluster) from here: :class:`Remote` pushes what
the operations need, then asks the far side's own workflow and scheduler to report, submit
or run, over one connection (the sync protocol, :mod:`sync.flowops`). What is submitted
there is recorded here too (:mod:`suite.flow.book`), so no location submits it again.

The sync engine is loaded only when a Remote connects: the core does not import it.
"""

import os
import socket
from dataclasses import dataclass, field

from . import layout
from .flow import book as books


@dataclass
class SubmitResult:
    """What ``Remote.submit`` did: the scheduler ``ids``, the book ``records`` written there
    (scheduler id -> entry), operations ``skipped`` as active elsewhere (operation, job ids,
    where, scheduler id), the ``output`` (scripts, with pretend), the ``push`` (a
    :class:`sync.SyncResult`) and the jobs ``held`` back by sync conflicts."""

    remote: str
    ids: list = field(default_factory=list)
    records: dict = field(default_factory=dict)
    skipped: list = field(default_factory=list)
    output: list = field(default_factory=list)
    push: object = None
    held: list = field(default_factory=list)
    scheduler: str = ""
    error: str | None = None  # with several remotes: why this one submitted nothing

    def to_json(self):
        return {"remote": self.remote, "ids": self.ids, "records": self.records,
                "error": self.error,
                "skipped": self.skipped, "held": self.held, "scheduler": self.scheduler,
                "push": self.push.to_json() if self.push is not None else None}


class Remote:
    """The copy of ``project`` at ``name_or_url`` (a remote name, ``[user@]host:path``,
    ``ssh://...`` or a local directory), used as a context manager over one connection::

        with Remote(project, "cluster") as far:
            print(far.submit(ops=["simulate"]).ids)

    ``ssh`` and ``remote_suite`` are as for :func:`sync.sync` (default: the remote's
    settings). Every method raises :class:`sync.SyncError` when the far side cannot be
    reached, runs another protocol version, has no suite, or the connection is lost (naming
    the host), and :class:`suite.errors.SuiteError` for what the far side refused (no
    workflow, no scheduler: its message, one line)."""

    def __init__(self, project, name_or_url, ssh=None, remote_suite=None, timeout=None,
                 accept_new_host_key=False, ssh_command=None):
        self.project, self.dest = project, name_or_url
        self._options = {"ssh": ssh, "remote_suite": remote_suite, "timeout": timeout,
                         "accept_new_host_key": accept_new_host_key,
                         "ssh_command": ssh_command}
        self.client, self.name = None, name_or_url
        self._asked = None  # (status request, its answer) sent with the connection

    def __enter__(self):
        return self.connect()

    def connect(self, status=None):
        """Open the connection (as ``with`` does) and return this Remote. ``status``: the
        keyword arguments of :meth:`status`, asked at once, before the far side has said
        hello, so that its answer costs no round trip of its own; :meth:`status` with the
        same arguments then takes it. Raises as the class says."""
        import sync

        request = None if status is None else _status_request(**status)
        ahead = [("flow_status", (request,))] if request is not None else []
        self.client, self.name = sync.connect(self.project, self.dest, **self._options,
                                              ahead=ahead)
        self._asked = (request, self.client.ahead[0]) if ahead else None
        return self

    def __exit__(self, *exc):
        if self.client is not None:
            self.client.close()
            self.client = None

    def _far(self):
        if self.client is None:
            from .errors import SuiteError

            raise SuiteError(f"Remote {self.dest} is not connected: use it in a with block")
        return self.client

    def _learn(self, answer):
        """Merge the far side's book (its own entries and what it knows of others)."""
        books.merge(self.project, answer["location"], answer.get("book") or {}, self.name,
                    answer.get("seen") or {})

    def status(self, ops=None, filter=None, ids=None, scheduler=None, module=None, last=False,
               detailed=False):
        """The far side's ``suite status`` as a dict ``{status, warning, where}`` (status is
        :meth:`suite.flow.Status.to_json` with its scheduler's states; its ``jobs`` only with
        ``detailed``); what its book says is merged into this copy's book."""
        request = _status_request(ops, filter, ids, scheduler, module, last, detailed)
        far = self._far()
        if self._asked is not None and self._asked[0] == request:
            answer = self._asked[1]()  # asked with the connection (see connect)
        else:
            answer = far.flow_status(request)
        self._asked = None
        self._learn(answer)
        return {"status": answer["status"], "warning": answer.get("warning"),
                "where": answer.get("where")}

    def push(self, jobs, module=None, dry_run=False):
        """Push ``jobs`` (ids) by the sync engine, push-only, and the workflow file and
        ``templates/``; return the :class:`sync.SyncResult` (conflicts are left, listed)."""
        from sync import Replica, Sync

        far = self._far()
        result = Sync(Replica(self.project.path), far, mode="push", ids=set(jobs),
                      dry_run=dry_run).run()
        for rel, path in self._project_files(module):
            if dry_run:
                result.actions.append({"action": "send file", "job": "(project)",
                                       "path": rel, "direction": "push"})
            else:
                with open(path, "rb") as f:
                    far.put_project_file(rel, f.read(), os.stat(path).st_mtime_ns)
        return result

    def _project_files(self, module):
        root = self.project.path
        wanted = []
        if module is None:
            for name in ("workflow.py", "project.py"):
                if os.path.isfile(os.path.join(root, name)):
                    wanted.append(name)
                    break
        elif module.endswith(".py"):
            rel = os.path.relpath(os.path.abspath(module), root)
            if not rel.startswith("..") and os.sep not in rel:
                wanted.append(rel)
        templates = os.path.join(root, "templates")
        for dirpath, dirnames, filenames in os.walk(templates):
            dirnames[:] = [d for d in dirnames if not d.startswith(".")]
            wanted += [os.path.relpath(os.path.join(dirpath, f), root) for f in filenames
                       if not f.startswith(".")]
        return [(rel, os.path.join(root, rel)) for rel in wanted]

    def submit(self, ops=None, filter=None, ids=None, num=None, bundle=1, parallel=False,
               pretend=False, hold=False, after=(), flags=(), scheduler=None, template=None,
               array=False, module=None, reason=None, tags=(), force=False, only=None,
               push=True, eligible=False):
        """Submit on the far side with its scheduler (``scheduler`` passes through) what is
        eligible here among ``ids`` (else the jobs matching ``filter``, else all), the first
        ``num`` of it: only the jobs those operations run on are pushed (with the workflow),
        and the far side checks each again after the push; when it drops some (complete or
        queued there: work done there and not synced back yet), the next ones eligible here
        make up ``num``. ``only`` (``[(operation, job ids)]``) names the operations instead;
        ``eligible``, what :func:`eligible_here` returned for these arguments, saves
        working it out again. When the workflow does not load here, all the jobs concerned
        are pushed and the far side chooses. Jobs the push left in conflict, or holding the
        copies of ``sync --keep-both``, are not submitted (:attr:`SubmitResult.held`).
        Operations queued or running on the far side (asked there) are not submitted, and
        those this copy's book knows queued or running at another location are skipped
        (:attr:`SubmitResult.skipped`) unless ``force``. With ``pretend``, nothing changes on
        either side: the push plan and the scripts are returned. The far side's new records
        are kept here. Returns a :class:`SubmitResult`; raises SuiteError for a workflow
        that fails here (a condition raising), and as the class says."""
        self._far()
        ids = [self.project.open_job(id=i).id for i in ids] if ids else None
        result = SubmitResult(self.name)
        spare = []  # eligible here beyond num: offered when the far side drops some
        if only is None:
            if eligible is False:
                eligible = eligible_here(self.project, ops, filter, ids, module)
            only = self._plan(eligible, force, result.skipped)
            if only is not None and num is not None:
                only, spare = only[:num], only[num:]
        sub = {"ops": list(ops or []), "num": num, "bundle": bundle, "parallel": parallel,
               "pretend": pretend, "hold": hold, "after": list(after), "flags": list(flags),
               "scheduler": scheduler, "template": template, "array": array,
               "module": _far_module(self.project, module), "reason": reason,
               "tags": list(tags), "force": force,
               "workflow_source": self._workflow_source(module) if pretend else None}
        if only is None:  # the far side chooses among all the jobs concerned
            jobs = list(ids) if ids else (
                self.project.find_jobs(filter).ids() if filter is not None
                else [job.id for job in self.project])
            self._round(result, jobs, None, ids, filter, push, module, sub)
            return result
        wanted, done, first = len(only), 0, True
        while only:
            answer, sent = self._round(result, None, [(op, tuple(u)) for op, u in only],
                                       None, None, push, module, sub, first)
            first = False
            if answer is None or pretend:
                break
            # the far side drops what it finds complete or queued there (work that ran there
            # and is not synced back yet): the next eligible ones here make up -n
            taken = {(op, job) for e in answer["records"].values() for op, job in e["pairs"]}
            done += sum(1 for op, unit in sent if (op, unit[0]) in taken)
            only, spare = spare[:wanted - done], spare[wanted - done:]
        return result

    def _round(self, result, jobs, units, ids, filter, push, module, sub, merge=True):
        """Push ``jobs`` (or those of ``units``) and the workflow, then submit there (with
        ``sub``, the options of ``flow_submit``); what happened goes into ``result``.
        Returns (the far side's answer, the units sent); no answer when every job was held
        back by sync conflicts."""
        far = self._far()
        if units is not None:
            jobs = sorted({job for _, unit in units for job in unit})
        if push:
            pushed = self.push(jobs, module, dry_run=sub["pretend"])
            if result.push is None:
                result.push = pushed
            else:
                result.push.actions += pushed.actions
                result.push.conflicts += pushed.conflicts
            held = {c["job"] for c in pushed.conflicts if c.get("job")} \
                | set(self._kept_both(jobs))
            if held:
                result.held = sorted(set(result.held) | held)
                jobs = [j for j in jobs if j not in held]
                if units is not None:
                    units = [(op, unit) for op, unit in units if not held.intersection(unit)]
                if not jobs or units == []:
                    return None, []
                ids = jobs
        if units is not None:  # the far side looks at these jobs only (the filter was applied)
            ids, filter = jobs, None
        if merge and not sub["pretend"]:  # this copy's word on other locations, for its check
            location, book, seen = books.word(self.project)
            far.merge_book(location, book, socket.gethostname(), seen)
        answer = far.flow_submit({
            **sub, "filter": filter, "ids": list(ids or []),
            "only": None if units is None else [[op, list(unit)] for op, unit in units]})
        result.ids += answer["ids"]
        result.records.update(answer["records"])
        result.skipped += answer["skipped"]
        result.output += answer["output"]
        result.scheduler = answer.get("scheduler", "")
        if answer["records"]:
            self._learn(answer)
        return answer, units or []

    def _plan(self, eligible, force, skipped):
        """Of ``eligible`` (see :func:`eligible_here`; None: the far side chooses), those not
        queued or running on the far side (asked there: this book may not know yet that work
        there has finished) nor known so at another location unless ``force`` (those go to
        ``skipped``)."""
        if eligible is None:
            return None
        far = self._far()
        busy = {(op, job) for op, job, _, _ in far.active_work()["active"]}
        other = {} if force else books.elsewhere(self.project, but=far.identity())
        units = []
        for op, unit in eligible:
            if any((op, job) in busy for job in unit):
                continue
            where = next((other[(op, job)] for job in unit if (op, job) in other), None)
            if where is None:
                units.append((op, tuple(unit)))
            else:
                skipped.append((op, list(unit), *where))
        return units

    def _kept_both(self, jobs):
        """Jobs holding a file ``NAME.conflict-REMOTE`` (``suite sync --keep-both``): a
        conflict the user has not resolved yet."""
        from .jobfiles import walk

        workspace = self.project.workspace
        return [job for job in jobs
                if any(layout.CONFLICT_COPY in rel.rpartition("/")[2]
                       for rel, _, _ in walk(os.path.join(workspace, job), {}))]

    def _workflow_source(self, module):
        """The workflow file's text, for a pretend submission (the far side is not changed)."""
        files = [path for rel, path in self._project_files(module) if rel.endswith(".py")]
        if not files:
            return None
        with open(files[0]) as f:
            return f.read()

    def run(self, argv=(), output=None, stop=None, jobs=None, module=None, push=True):
        """Push ``jobs`` (ids; default all) and the workflow file as :meth:`push` does, then
        run ``suite run ARGV`` on the far side (its options as on the command line), its
        output passed to ``output(stream, bytes)`` as it comes (``stream``: out/err); Ctrl-C
        here stops the far side's run. Returns its exit status."""
        def default(stream, data):
            import sys

            target = sys.stdout if stream == "out" else sys.stderr
            target.buffer.write(data)
            target.flush()

        if push:
            self.push(jobs if jobs is not None else [job.id for job in self.project], module)
        return self._far().flow_run(list(argv), output or default, stop)["exit"]


def _status_request(ops=None, filter=None, ids=None, scheduler=None, module=None, last=False,
                    detailed=False):
    """What ``flow_status`` sends for :meth:`Remote.status`'s arguments."""
    return {"ops": list(ops or []), "filter": filter, "ids": list(ids or []),
            "scheduler": scheduler, "module": module, "last": last, "detailed": detailed}


def eligible_here(project, ops=None, filter=None, ids=None, module=None):
    """``[(operation, job ids)]`` eligible on this copy's data (the books not consulted);
    None when the workflow does not load here (it may live on the cluster only). Raises
    SuiteError for a workflow that fails on the data (a condition raising)."""
    from .errors import SuiteError
    from .flow.submit import pending, runner_for

    try:
        runner = runner_for(project, module)
    except SuiteError:
        return None
    return pending(runner, ops, filter, ids, force=True)


def _far_module(project, module):
    """``--workflow`` as the far side reads it: a file in the project by its name there."""
    if module is None or not module.endswith(".py"):
        return module
    rel = os.path.relpath(os.path.abspath(module), project.path)
    return rel if not rel.startswith("..") else module


def parse_share(text, names):
    """``"a=2,b=1"`` as ``{name: weight}`` over ``names`` (missing ones weigh 1).

    Raises SuiteError for a name not among ``names`` or a weight that is not a positive
    integer."""
    from .errors import SuiteError

    weights = dict.fromkeys(names, 1)
    for part in filter(None, (text or "").split(",")):
        name, _, value = part.partition("=")
        if name.strip() not in weights or not value.strip().isdigit() or int(value) < 1:
            raise SuiteError(f"--share {part!r}: give NAME=WEIGHT for the remotes of --on "
                             f"({', '.join(names)}), WEIGHT a positive integer")
        weights[name.strip()] = int(value)
    return weights


def share_out(units, weights):
    """Each unit to exactly one name, in the ratio of ``weights`` (in order, each to the
    name furthest below its share)."""
    given = {name: [] for name in weights}
    for unit in units:
        name = min(weights, key=lambda n: ((len(given[n]) + 1) / weights[n], n))
        given[name].append(unit)
    return given


def submit_on(project, names, share=None, options=None, connect=None):
    """Submit over the remotes ``names``: with one, as :meth:`Remote.submit`; with several,
    the operations pending here (:func:`suite.flow.submit.pending`) are shared out by
    ``share`` (``"a=2,b=1"``) so each goes to exactly one. Returns a list of
    :class:`SubmitResult`. ``connect`` (keyword arguments of :class:`Remote`). Raises as
    :class:`Remote` does with one remote; with several, a remote's failure is its result's
    ``error``. SuiteError for a bad ``share``."""
    from .errors import SuiteError
    from .flow.submit import pending, runner_for

    options, connect = dict(options or {}), dict(connect or {})
    # one submit --on at a time from this copy: it reads the book to decide, and records
    # what came back
    with books.locked(project, "submit-on"):
        if len(names) == 1:
            return [_submit_one(project, names[0], options, connect)]
        weights = parse_share(share, names)
        runner = runner_for(project, options.get("module"))
        units = pending(runner, options.get("ops"), options.get("filter"), options.get("ids"),
                        options.get("force", False))
        results = []
        for name, given in share_out(units, weights).items():
            ids = sorted({job for _, unit in given for job in unit})
            if not ids:
                results.append(SubmitResult(name))
                continue
            try:  # one remote failing does not hide what the others did
                with Remote(project, name, **connect) as far:
                    results.append(far.submit(**{**options, "ids": ids, "only": given}))
            except SuiteError as exc:
                results.append(SubmitResult(name, error=str(exc)))
        return results


def _submit_one(project, name, options, connect):
    """:meth:`Remote.submit` over ``name``, what is eligible here worked out while the
    connection is made (the handshake and the far side's start are mostly waiting)."""
    from concurrent.futures import ThreadPoolExecutor

    far = Remote(project, name, **connect)
    with ThreadPoolExecutor(1) as pool:
        connecting = pool.submit(far.__enter__)
        try:
            try:
                eligible = False if options.get("only") is not None else eligible_here(
                    project, options.get("ops"), options.get("filter"), options.get("ids"),
                    options.get("module"))
            finally:
                connecting.result()  # the connection's error, if any, comes first
            return far.submit(**options, eligible=eligible)
        finally:
            far.__exit__(None, None, None)


#: exit status of ``suite status --everywhere/--on`` when a remote could not be reached
EXIT_UNREACHABLE = 6


def status_everywhere(project, names, here=True, options=None, connect=None):
    """``{location: {"status", "warning", "where"} or {"error", "unreachable"}}`` for this
    copy (``"here"``, with ``here``) and each remote of ``names``, asked at once (threads);
    a remote that cannot be reached (``unreachable``) or cannot answer gets its error and the
    others are still answered."""
    from concurrent.futures import ThreadPoolExecutor

    from .errors import SuiteError

    options, connect = dict(options or {}), dict(connect or {})
    if names:
        # the threads' CPU-bound start (paramiko's import) first, at full speed: the far
        # sides then start as soon as can be, while this copy's status is computed
        import sync

        for name in names:
            try:
                sync.preload(project, name, ssh=connect.get("ssh"),
                             ssh_command=connect.get("ssh_command"))
            except SuiteError:  # the thread meets it again, and reports it
                pass

    def remote(name):
        far = Remote(project, name, **connect)
        try:
            far.connect(status=options)
        except SuiteError as exc:
            return {"error": str(exc), "unreachable": True}
        try:
            return far.status(**options)
        except SuiteError as exc:  # reached, but it could not answer (no workflow, ...)
            return {"error": str(exc), "unreachable": False}
        finally:
            far.__exit__(None, None, None)

    out = {}
    with ThreadPoolExecutor(max(1, len(names))) as pool:
        futures = {name: pool.submit(remote, name) for name in names}
        if here:
            out["here"] = _status_here(project, options)
        for name, future in futures.items():
            out[name] = future.result()
    return out


def _status_here(project, options):
    from .flow.submit import runner_for, scheduler_states

    runner = runner_for(project, options.get("module"))
    result = runner.status(options.get("ops") or None, options.get("filter"),
                           options.get("ids") or None, last=options.get("last", False))
    warning = scheduler_states(runner, result, options.get("scheduler"))
    return {"status": result.to_json(), "warning": warning, "where": socket.gethostname()}


_EVERYWHERE_COLS = ["eligible", "submitted", "running", "complete"]


def format_everywhere(table, fmt="text"):
    """One table: a row per (operation, location); unreachable locations as such. ``fmt``:
    ``"text"`` (aligned columns), ``"markdown"`` or ``"html"`` (values escaped: operation
    and remote names come from users). Raises ValueError for another ``fmt``."""
    render = {"text": _as_text, "markdown": _as_markdown, "html": _as_html}.get(fmt)
    if render is None:
        raise ValueError(f"unknown table format {fmt!r}: text, markdown or html")
    ops = list(dict.fromkeys(op for v in table.values() if "status" in v
                             for op in v["status"]["operations"]))
    rows = [[op, name, *(v["status"]["operations"].get(op, {}).get(k, 0)
                         for k in _EVERYWHERE_COLS)]
            for op in ops for name, v in table.items() if "status" in v]
    return render(["operation", "location", *_EVERYWHERE_COLS], rows, _notes(table))


def _notes(table):
    """A line per location that could not answer or warned."""
    notes = []
    for name, v in table.items():
        if "error" in v:
            notes.append(f"{name}: {'unreachable' if v.get('unreachable') else 'error'}: "
                         f"{v['error']}")
        elif v.get("warning"):
            notes.append(f"{name}: warning: {v['warning']}")
    return notes


def _as_text(head, rows, notes):
    from .terminal import visible  # names and errors come from users and far sides

    rows = [[visible(row[0]), visible(row[1]), *row[2:]] for row in rows]
    notes = [visible(note) for note in notes]
    widths = [max([len(str(row[i])) for row in rows] + [len(k)]) for i, k in enumerate(head)]
    lines = ["  ".join(k.ljust(w) for k, w in zip(head, widths, strict=True))]
    lines += ["  ".join([str(row[0]).ljust(widths[0]), str(row[1]).ljust(widths[1])]
                        + [f"{c:{w}d}" for c, w in zip(row[2:], widths[2:], strict=True)])
              for row in rows]
    return "\n".join(lines + notes)


def _as_markdown(head, rows, notes):
    from .flow.engine import markdown_text as cell

    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in rows]
    return "\n".join(lines + ([""] + [f"- {cell(n)}" for n in notes] if notes else []))


def _as_html(head, rows, notes):
    import html

    cells = "".join(f"<th>{k}</th>" for k in head)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                   for row in rows)
    items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return (f"<table><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>"
            + (f"<ul>{items}</ul>" if items else ""))
