"""The Flask application: routes, access checks and response headers.

Every request needs the access token (``?token=`` once, then the cookie); every POST needs the
CSRF token and is refused in read-only mode; files are served only from inside their job."""

import json
import os
import time
from urllib.parse import urlencode

from flask import Flask, abort, redirect, render_template, request, send_file

from suite.errors import AmbiguousIdError, FilterError, JobNotFoundError, SuiteError
from suite.jsonio import literal_or_text

from . import edit, files, h5view, plot, security
from .data import ProjectData

PER_PAGE = 50
#: up to this many jobs the overview evaluates the workflow's status itself; beyond, on
#: request (it costs what `suite status` costs: about 3 s at 100,000 jobs)
STATUS_INLINE_MAX = 20_000
#: jobs shown side by side on the compare page
MAX_COMPARE = 200
CSP = ("default-src 'self'; script-src 'none'; object-src 'none'; style-src 'self'; "
       "img-src 'self' data:; media-src 'self'; frame-ancestors 'none'; form-action 'self'; "
       "base-uri 'none'")


def create_app(path=".", token=None, read_only=False):
    """The dashboard of the project at (or above) ``path`` as a Flask application.

    ``token`` is the access token (a new random one if None; ``app.config["SUITE_TOKEN"]``).

    Raises
    ------
    ProjectNotFoundError
        No project at or above ``path``.
    """
    from suite.project import get_project

    root = get_project(path).path
    token = token or security.new_token()
    app = Flask(__name__)
    # `/file//etc/passwd` must reach the path check and be refused, not be redirected
    app.url_map.merge_slashes = False
    app.config.update(SUITE_TOKEN=token, SUITE_READ_ONLY=read_only, SUITE_PATH=root)
    data = ProjectData(root)
    app.extensions["suite_dashboard"] = data
    cookie = security.cookie_name(token)
    csrf = security.csrf_token(token)

    @app.before_request
    def check_access():
        given = request.args.get("token")
        if given is not None:
            if not security.same(given, token):
                abort(403)
            rest = [(k, v) for k, v in request.args.items(multi=True) if k != "token"]
            resp = redirect(request.path + ("?" + urlencode(rest) if rest else ""), code=303)
            resp.set_cookie(cookie, token, httponly=True, samesite="Strict", path="/")
            return resp
        if not security.same(request.cookies.get(cookie), token):
            abort(403)
        if request.method not in ("GET", "HEAD"):
            if read_only:
                abort(403, "the dashboard is read-only (started with --read-only)")
            if not security.same(request.form.get("csrf"), csrf):
                abort(403, "missing or wrong CSRF token: reload the page")
        return None

    @app.after_request
    def headers(resp):
        resp.headers.setdefault("Content-Security-Policy", CSP)
        resp.headers["X-Content-Type-Options"] = "nosniff"
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Referrer-Policy"] = "no-referrer"
        resp.headers.setdefault("Cache-Control", "no-store")
        return resp

    @app.errorhandler(403)
    @app.errorhandler(404)
    @app.errorhandler(400)
    def refused(err):
        return render_template("error.html", code=err.code, message=err.description), err.code

    @app.errorhandler(SuiteError)
    def suite_error(exc):
        # a file suite cannot read (a corrupt state point, say): the message says what to do
        return render_template("error.html", code=500, message=str(exc)), 500

    @app.context_processor
    def common():
        return {"csrf": csrf, "read_only": read_only, "project_path": root,
                "human_size": files.human_size, "as_json": _compact}

    def open_job(job_id):
        try:
            return data.project.open_job(id=job_id)
        except (JobNotFoundError, AmbiguousIdError):
            abort(404, f"no job {job_id} in this project")

    @app.get("/")
    def overview():
        info = data.overview()
        inline = info["count"] <= STATUS_INLINE_MAX or request.args.get("status") == "1"
        status, status_error = data.call(_workflow_status) if inline else (None, None)
        return render_template("overview.html", info=info, status=status,
                               status_error=status_error, status_deferred=not inline,
                               last=_last_executions(status))

    @app.get("/jobs")
    def jobs():
        args = request.args
        query = args.get("q", "").strip()
        columns = [c.strip() for c in args.get("cols", "").split(",") if c.strip()]
        sort, group = args.get("sort") or None, args.get("group") or None
        descending = args.get("order") == "desc"
        error, table = None, None
        try:
            parsed = _parse_filter(query) if query else None
            table = data.jobs_page(parsed, page=_int(args.get("page"), 1), per_page=PER_PAGE,
                                   sort=sort, descending=descending, columns=columns,
                                   group=group)
            if parsed:
                error = data.call(unreadable_note)
        except (FilterError, ValueError) as exc:
            error = str(exc).splitlines()[0]
        state = {"q": query, "cols": args.get("cols", ""), "sort": sort or "",
                 "order": "desc" if descending else "asc", "group": group or ""}
        return render_template("jobs.html", table=table, error=error, state=state,
                               keys=table["keys"] if table else [],
                               link=lambda **kw: "/jobs?" + urlencode(
                                   {k: v for k, v in {**state, **kw}.items() if v}))

    @app.get("/job/<job_id>")
    def job_page(job_id):
        job = open_job(job_id)
        return _render_job(job, request.args.get("h5"), request.args.get("ds"))

    @app.post("/job/<job_id>/doc")
    def edit_document(job_id):
        job = open_job(job_id)
        form = request.form
        key = form.get("key", "").strip()
        if not key:
            abort(400, "give the key to set or delete")
        delete = form.get("action") == "delete"
        value = literal_or_text(form.get("value", ""))
        try:
            current = edit.apply(job, form.get("digest", ""), key, value, delete=delete)
        except (SuiteError, KeyError) as exc:
            abort(400, str(exc.args[0] if isinstance(exc, KeyError) and exc.args else exc))
        if current is not None:
            try:
                loaded = json.loads(form.get("loaded", "{}"))
            except ValueError:
                loaded = None
            return render_template(
                "conflict.html", job=job, key=key, value=form.get("value", ""), delete=delete,
                loaded=loaded, current=current, digest=edit.digest(current),
                pretty=_pretty), 409
        return redirect(f"/job/{job.id}#document", code=303)

    @app.get("/job/<job_id>/file/<path:rel>")
    def job_file(job_id, rel):
        job = open_job(job_id)
        path = security.confined(job.path, rel)
        if path is None:
            abort(403, "refused: the path leaves the job directory")
        if not os.path.isfile(path):
            abort(404, f"no file {rel} in job {job.id}")
        media = files.media_type(path)
        inline = media is not None and request.args.get("download") is None
        resp = send_file(path, mimetype=media if inline else None, as_attachment=not inline,
                         download_name=os.path.basename(rel), conditional=True)
        # an SVG (or anything served inline) from a job must not run script on this origin
        resp.headers["Content-Security-Policy"] = "sandbox; default-src 'none'; " \
            "style-src 'unsafe-inline'; img-src data:"
        return resp

    @app.get("/compare")
    def compare():
        return _render_compare(data, request.args, open_job)

    @app.get("/sync")
    def sync_page():
        # a sync plan reads the index: in the index thread (it may wait on SSH meanwhile)
        remote = request.args.get("remote", "")
        remotes, plan, error = data.call(_sync_plan, remote)
        return render_template("sync.html", remotes=remotes, remote=remote, plan=plan,
                               error=error)

    def _render_job(job, h5_file, dataset):
        try:
            doc, doc_error = job.doc(), None
        except SuiteError as exc:
            doc, doc_error = None, str(exc)
        listing, left_out = files.list_files(job.path)
        previews = {}
        h5 = {}
        for f in listing:
            full = os.path.join(job.path, f["path"])
            if f["link"] and security.confined(job.path, f["path"]) is None:
                f["kind"] = "outside"
                continue
            if f["kind"] == "file" and f["size"] <= files.PREVIEW_BYTES * 4 and \
                    len(previews) < 10:
                text, cut = files.preview(full)
                if text is not None:
                    previews[f["path"]] = (text, cut)
            elif f["kind"] == "hdf5" and len(h5) < 10:
                try:
                    h5[f["path"]] = (h5view.tree(full), None)
                except OSError as exc:
                    h5[f["path"]] = ([], f"cannot read: {exc}")
        figure = None
        if h5_file and dataset:
            full = security.confined(job.path, h5_file)
            if full is None:
                abort(403, "refused: the path leaves the job directory")
            try:
                got = h5view.values(full, dataset)
            except OSError as exc:
                abort(404, f"cannot read {h5_file}: {exc}")
            if got is None:
                abort(404, f"{dataset} in {h5_file} is not a numeric 1-D or 2-D dataset")
            ndim, arr, step = got
            title = f"{h5_file}:{dataset}"
            figure = plot.line(arr, step, title) if ndim == 1 else \
                plot.heatmap(arr, title, step)
        log = _provenance(job)
        return render_template(
            "job.html", job=job, sp=job.sp(), doc=doc, doc_error=doc_error,
            digest=edit.digest(doc) if doc is not None else "", loaded=json.dumps(doc),
            files=listing, left_out=left_out, previews=previews, h5=h5, figure=figure,
            figure_name=(h5_file, dataset), log=log, pretty=_pretty)

    return app


def warm(app):
    """Read the state points and count the schema now (the overview of 100,000 jobs needs a
    second or so for that), so the first page opened does not wait for it; rank the jobs by
    each state point key (the first sorted or grouped page then sorts integers); watch the job
    directories and check every document once, after which pages that use documents check
    only those the watches report changed (docs/dashboard.md, "Large projects"); then rank
    the jobs by the commonest document keys."""
    data = app.extensions["suite_dashboard"]
    data.overview()
    data.start_watching()  # in its own thread, meanwhile:
    data.warm_orders()
    data.watcher.wait_ready()
    data.call(lambda proj: proj.index.refresh(documents=True))
    data.warm_document_orders()


def _parse_filter(text):
    """What ``suite find`` takes, typed into one box: words split like a shell line, or one
    JSON object."""
    from suite.cli.common import filter_from_options

    return filter_from_options([text])


def _int(text, default):
    try:
        return int(text)
    except (TypeError, ValueError):
        return default


def _compact(value):
    """One-line JSON as plain text (escaped by the template like any text, unlike the
    ``tojson`` filter, whose quotes would end an HTML attribute)."""
    return json.dumps(value, sort_keys=True, allow_nan=True)


def _pretty(value):
    return json.dumps(value, indent=2, sort_keys=True, allow_nan=True)


def _workflow_status(project):
    """``(Status or None, error text or None)`` of the project's ``workflow.py``, if any."""
    if not os.path.exists(os.path.join(project.path, "workflow.py")):
        return None, None
    try:
        from suite.flow import Runner, load_workflow

        # last=None: each operation's latest record too, as `suite status` shows it
        status = Runner(load_workflow(project), project).status(last=None)
    except SuiteError as exc:
        return None, str(exc)
    return status, _add_scheduler_states(project, status)


def _last_executions(status):
    """``{operation: {"status", "when", "job", "more", "id"}}`` of the status's latest
    records (:attr:`suite.flow.engine.Status.last`), ready for the overview's table."""
    out = {}
    for name, r in (getattr(status, "last", None) or {}).items():
        jobs = r.get("jobs") or []
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r["start"])) \
            if r.get("start") else ""
        out[name] = {"status": r.get("status") or "", "when": when,
                     "job": jobs[0] if jobs else None, "more": max(len(jobs) - 1, 0),
                     "id": (r.get("id") or "")[:12]}
    return out


def _add_scheduler_states(project, status):
    """Submitted and running counts from one scheduler query, as ``suite status`` shows them
    (only when something was submitted); returns a warning when the scheduler cannot say."""
    from suite.errors import CorruptFileError
    from suite.flow.book import damage_warning
    from suite.flow.submit import active_pairs, load

    try:
        if not load(project):
            return None
        from schedulers import get_scheduler

        status.add_active(active_pairs(project, get_scheduler()))
    except CorruptFileError as exc:  # a damaged book too is a warning, not a failed page
        return damage_warning(exc)
    except Exception as exc:  # the conditions still answer
        return f"cannot ask the scheduler ({exc}); showing conditions only"
    return None


def _provenance(job):
    try:
        from suite.flow.provenance import read
    except ImportError:  # a build without workflows
        return []
    return read(job)


def unreadable_note(project):
    """What a filtered page says of the jobs it left out because their state point cannot
    be read (a filter cannot judge them), as of the query just made; None when there are
    none."""
    bad = project.index.unreadable()
    if not bad:
        return None
    shown = ", ".join(bad[:10]) + (", ..." if len(bad) > 10 else "")
    return (f"left out: {len(bad)} job(s) whose state point cannot be read ({shown}); "
            "'suite check' says why")


def _render_compare(data, args, open_job):
    ids = args.getlist("id")
    query = args.get("q", "").strip()
    error = None
    if query and not ids:
        try:
            parsed = _parse_filter(query)
            ids = data.call(lambda proj: proj.find_jobs(parsed, skip_unreadable=True).ids())
            ids = ids[:MAX_COMPARE]
            error = data.call(unreadable_note)
        except (FilterError, ValueError) as exc:
            error = str(exc).splitlines()[0]
    jobs = [open_job(i) for i in ids[:MAX_COMPARE]]
    sp_diff = doc_diff = None
    if len(jobs) >= 2:
        from suite.diff import compare_jobs

        sp_diff = compare_jobs(*jobs).to_json()
        doc_diff = compare_jobs(*jobs, document=True).to_json()
    xkey, ykey = args.get("x", ""), args.get("y", "")
    figure = None
    if jobs and xkey and ykey:
        from suite.query import MISSING, resolve

        points = []
        for j in jobs:
            x = resolve(j.sp(), tuple(xkey.split(".")))
            try:
                y = resolve(j.doc(), tuple(ykey.split(".")))
            except SuiteError:
                continue
            if x is not MISSING and y is not MISSING:
                points.append((x, y, j.id[:8]))
        figure = plot.scatter(points, f"doc.{ykey} against {xkey}", xkey, f"doc.{ykey}")
    return render_template("compare.html", jobs=jobs, sp_diff=sp_diff, doc_diff=doc_diff,
                           figure=figure, x=xkey, y=ykey, q=query, error=error,
                           more=len(ids) > MAX_COMPARE, pretty=_pretty)


def _sync_plan(project, remote):
    """``(remotes, plan text or None, error or None)`` for the sync page."""
    remotes, plan, error = {}, None, None
    try:
        from sync.remotes import list_remotes

        remotes = list_remotes(project)
    except ImportError:
        error = "this build of suite has no sync"
    except SuiteError as exc:
        error = str(exc)
    if remote and error is None:
        if remote not in remotes:
            error = f"no remote named {remote!r} (add one with 'suite remote add')"
        else:
            import sync as sync_pkg

            try:
                plan = sync_pkg.sync(project, remote, dry_run=True).format()
            except (SuiteError, OSError) as exc:
                error = f"cannot compare with {remote}: {exc}"
    return remotes, plan, error
