"""The far side's workflow operations (``suite status/submit/run --on``), served next to the
sync operations (:mod:`sync.ops` names them ``serve=``). Each loads this side's own workflow
file and asks this side's own scheduler, as ``suite status``/``submit``/``run`` typed here
would. Anything they or the scheduler print goes to stderr: the server moved stdout off the
wire (:func:`sync.server.serve`)."""

import os
import re
import signal
import sys
import threading
import time

from suite import layout
from suite.jsonio import write_atomic

from . import protocol
from .replica import SyncError

#: what ``put_project_file`` may write: the workflow file, and files under templates/
_PROJECT_FILE = re.compile(r"(?:[A-Za-z0-9_][A-Za-z0-9_.-]*\.py"
                           r"|templates/(?:[A-Za-z0-9_][A-Za-z0-9_.-]*/)*"
                           r"[A-Za-z0-9_][A-Za-z0-9_.-]*)\Z")

#: seconds a stopped run has to end after SIGTERM before its process group is killed
STOP_GRACE = 5.0


def _options(value):
    if not isinstance(value, dict):
        raise SyncError("workflow options must be a JSON object")
    return value


def _runner(session, options):
    """The runner of this side's workflow; with ``workflow_source`` (a pretend submission,
    which must change nothing here), the client's workflow file, from a temporary copy."""
    from suite.flow.submit import runner_for

    source = options.get("workflow_source")
    if isinstance(source, str):
        import tempfile

        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "workflow.py")
            with open(path, "w") as f:
                f.write(source)
            runner = runner_for(session.replica.project, path)
    else:
        runner = runner_for(session.replica.project, options.get("module"))
    runner.capture.reason = options.get("reason")
    runner.capture.tags = list(options.get("tags") or [])
    return runner


def _filter(options):
    """The filter, sent as its JSON object (the client parsed the command line)."""
    value = options.get("filter")
    if value is not None and not isinstance(value, dict):
        raise SyncError("a filter must be a JSON object")
    return value


def flow_status(session, options):
    """``{status, warning, location, where, book, seen}``: :meth:`Runner.status` here with
    this side's scheduler states (its per-job part only with ``detailed``), and this side's
    book (for the client to merge)."""
    from suite.flow.submit import scheduler_states

    options = _options(options)
    runner = _runner(session, options)
    result = runner.status(options.get("ops") or None, _filter(options),
                           options.get("ids") or None, last=options.get("last", False))
    warning = scheduler_states(runner, result, options.get("scheduler"))
    project = session.replica.project
    if not options.get("detailed"):  # a line per job is asked for only with --detailed
        result.jobs = {}
    return {"status": result.to_json(), "warning": warning, **_book_answer(project)}


def flow_submit(session, options):
    """Submit here as ``suite submit`` would, the book locked for the check and the
    submission; ``{ids, records, skipped, output, location, where, scheduler}``."""
    from schedulers import get_scheduler
    from suite.flow.submit import submit

    options = _options(options)
    runner = _runner(session, options)
    scheduler = get_scheduler(options.get("scheduler"), options.get("template"))
    only = options.get("only")
    if only is not None:
        only = {(op, tuple(ids)) for op, ids in only}
    output, skipped, recorded = [], [], {}
    ids = submit(runner, scheduler, options.get("ops") or None, _filter(options),
                 options.get("ids") or None, options.get("num"), options.get("bundle", 1),
                 bool(options.get("parallel")), bool(options.get("pretend")),
                 bool(options.get("hold")), list(options.get("after") or ()),
                 list(options.get("flags") or ()), options.get("module"), output.append,
                 bool(options.get("array")), only=only, force=bool(options.get("force")),
                 skipped=skipped, recorded=recorded)
    project = session.replica.project
    return {"ids": ids, "records": recorded, "skipped": skipped, "output": output,
            "scheduler": scheduler.name, **_book_answer(project)}


def _book_answer(project):
    """This side's book in an answer, so the client learns it without another round trip."""
    import socket

    location, book, seen = _books().word(project)
    return {"location": location, "where": socket.gethostname(), "book": book, "seen": seen}


def load_book(session):
    """``[location, book, seen]`` of this side (see :func:`suite.flow.book.merge`)."""
    project = session.replica.project
    if not layout.has_submissions(project.path):  # most never submit: answered, no write
        return [None, {}, {}]
    return list(_books().word(project))


def merge_book(session, location, entries, where=None, seen=None):
    """Merge another copy's book into this side's (:func:`suite.flow.book.merge`)."""
    _books().merge(session.replica.project, location, entries, where, seen)


def _books():
    # imported when a book is there: suite.flow takes longer to import (60-75 ms) than a
    # sync with nothing to do takes on the far side, and most copies never submit
    from suite.flow import book

    return book


def put_project_file(session, rel, data, mtime_ns):
    """Write the workflow file or a file under templates/ (nothing else) atomically."""
    if not isinstance(rel, str) or not _PROJECT_FILE.match(rel) or "/." in rel:
        raise SyncError(f"refused to write {rel!r}: only the workflow file (NAME.py) and "
                        "files under templates/ are sent")
    root = session.replica.project.path
    path = os.path.join(root, rel)
    parent = os.path.dirname(path)
    os.makedirs(parent, exist_ok=True)
    if os.path.realpath(parent) != os.path.join(os.path.realpath(root), os.path.dirname(rel)
                                                ).rstrip("/"):
        raise SyncError(f"refused to write {rel!r}: a link is in the way")
    write_atomic(path, data, mtime_ns=int(mtime_ns))


def flow_run(session, argv):
    """Run ``suite run ARGV`` here in a process group of its own, its output streamed back
    frame by frame (``stream``: out or err); then an ``exit`` frame, after which the client
    sends one frame back. A ``stop`` frame before that, or the client going away, stops the
    run (SIGTERM to its group, SIGKILL after :data:`STOP_GRACE` s)."""
    if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
        raise SyncError("run arguments must be a list of strings")
    import subprocess

    proc = subprocess.Popen([sys.executable, "-m", "suite", "run", *argv],
                            cwd=session.replica.project.path, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True)
    stopped = threading.Event()

    def watch():  # the client's one frame: a stop, or the acknowledgement of the exit
        try:
            header, _ = protocol.read_frame(session.stdin)
        except (OSError, protocol.ProtocolError):
            header = None
        if proc.poll() is None:
            stopped.set()
            _stop(proc)
        return header

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    pumps = [threading.Thread(target=_pump, args=(session, stream, name), daemon=True)
             for stream, name in ((proc.stdout, "out"), (proc.stderr, "err"))]
    for pump in pumps:
        pump.start()
    status = proc.wait()
    for pump in pumps:
        pump.join()
    try:
        session.out.send({"ok": True, "more": True, "exit": status})
        session.out.flush()
    except OSError:  # the client has gone: nothing to answer
        pass
    watcher.join()
    return {"exit": status, "stopped": stopped.is_set()}


def _pump(session, stream, name):
    try:
        while True:
            chunk = stream.read1(65536)
            if not chunk:
                return
            session.out.send({"ok": True, "more": True, "stream": name}, chunk)
            session.out.flush()  # output is for people watching: out now, not in a batch
    except OSError:  # the client has gone; the watcher stops the run
        pass


def _stop(proc):
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + STOP_GRACE
    while proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
