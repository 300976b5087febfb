"""Work queued or running on either side of a sync: its jobs are left alone (a running job
still writes its files), or the sync waits until that work has finished.

Each side answers from its submission book (``.suite/flow/submissions.json``, see
:mod:`suite.flow.submit`) and one query per scheduler named there; a side that never
submitted anything answers at once, without looking for a scheduler."""

import os
import time

from suite import layout

from .replica import SyncError

#: seconds between two questions to both sides while a sync waits (``--poll``)
POLL = 30.0


def active_work(project):
    """``{"active": [[operation, job id, scheduler id, state]], "error": None or a message}``:
    the work ``project`` has queued, held or running. A scheduler that cannot be asked has
    its submissions listed with the state ``"unknown"`` and ``error`` says why: the sync
    cannot tell whether those jobs still write, so it leaves them alone too. An unreadable
    book raises :class:`suite.errors.CorruptFileError`, one of another shape
    :class:`SyncError` (both name the file)."""
    # one stat when nothing was ever submitted: importing suite.flow alone takes 60-75 ms
    if not layout.has_submissions(project.path):
        return {"active": [], "error": None}
    from suite.flow import submit

    book = submit.load(project)
    if not book:
        return {"active": [], "error": None}
    if not isinstance(book, dict) or not all(
            isinstance(e, dict) and isinstance(e.get("scheduler"), str)
            and isinstance(e.get("pairs"), list) for e in book.values()):
        raise SyncError(f"{os.path.join(project.path, layout.SUBMISSIONS)} is not a record of "
                        "submissions; nothing was synced: fix or remove it (without it, work "
                        "still running there is not known)")
    from schedulers import SchedulerError, get_scheduler
    from suite.flow import book as books

    # only this copy's own submissions: entries learnt from other copies (submit --on, books
    # exchanged by sync) name schedulers of other machines, asked there
    me = books.identity(project.path)
    book = {k: e for k, e in book.items() if books.is_mine(e, me)}
    active, errors = [], []
    for name in sorted({entry["scheduler"] for entry in book.values()}):
        try:
            pairs = submit.active_pairs(project, get_scheduler(name))
        except SchedulerError as exc:
            # one line: the CLI prints it as one (squeue's own message has several)
            errors.append(f"{name}: " + " / ".join(filter(None, map(str.strip,
                                                                  str(exc).splitlines()))))
            pairs = {(op, job_id): (sched_id, "unknown") for sched_id, entry in book.items()
                     if entry["scheduler"] == name for op, job_id in entry["pairs"]}
        active += [[op, job_id, sched_id, state]
                   for (op, job_id), (sched_id, state) in sorted(pairs.items())]
    return {"active": active, "error": "; ".join(errors) or None}


def gather(local, remote, wanted=None, remote_answer=None):
    """The work on both replicas' sides, one question each, for the jobs in ``wanted``
    (None: all): items ``{"job", "operation", "side", "scheduler_id", "state"}`` (and
    ``"error"`` when the state is unknown because the scheduler could not be asked).
    ``remote_answer``: a function that returns the far side's answer, asked for already
    (None: it is asked here). Raises what :func:`active_work` raises on either side."""
    items = []
    for side, replica in (("local", local), ("remote", remote)):
        answer = remote_answer() if side == "remote" and remote_answer is not None \
            else replica.active_work()
        for op, job_id, sched_id, state in answer["active"]:
            if wanted is None or job_id in wanted:
                item = {"job": job_id, "operation": op, "side": side,
                        "scheduler_id": sched_id, "state": state}
                if state == "unknown" and answer["error"]:
                    item["error"] = answer["error"]
                items.append(item)
    return items


def wait_until_done(local, remote, wanted=None, poll=POLL, notify=None):
    """Ask both sides every ``poll`` seconds until no work of the jobs in ``wanted`` is
    queued or running; ``notify(line)`` hears how much is left whenever that changes.
    Returns the last (empty) answer of :func:`gather`. Raises :class:`SyncError` when a
    scheduler cannot be asked (waiting would not end); Ctrl-C (KeyboardInterrupt) stops it."""
    last = None
    while True:
        items = gather(local, remote, wanted)
        unknown = [i for i in items if i["state"] == "unknown"]
        if unknown:
            raise SyncError(
                f"cannot tell whether work still runs on the {unknown[0]['side']} side "
                f"({unknown[0].get('error', 'unknown state')}); nothing was synced: fix the "
                "scheduler there, or sync with --include-active")
        if not items:
            return items
        line = _progress(items, poll)
        if notify is not None and line != last:
            notify(line)
        last = line
        time.sleep(poll)


def _progress(items, poll):
    def count(side):
        mine = [i for i in items if i["side"] == side]
        running = sum(i["state"] == "running" for i in mine)
        return f"{side}: {len(mine) - running} queued, {running} running"

    jobs = len({i["job"] for i in items})
    return (f"waiting for {len(items)} operation(s) on {jobs} job(s) ({count('remote')}; "
            f"{count('local')}); asking again every {poll:g} s; Ctrl-C stops without syncing")
