"""Plan and carry out a sync between two replicas, from the record of the last sync.

Per job and per file, as Unison does: a change on one side is propagated; the same change on
both sides is no conflict; a deletion is propagated only if the other side did not change the
item since the last sync; anything else is a conflict, left untouched and reported. Documents
are merged key by key (:mod:`sync.merge`). Without a record (first sync), content that differs
is a conflict, never a silent overwrite.

The record (``.suite/sync/<peer id>.json`` on both sides) holds, per job, each file's size and
its mtime on each side, and the merged document. A job's entry changes only after all of that
job's actions succeeded; the record is saved every few hundred jobs and at the end, so a sync
that is killed resumes where it stopped. A write whose target changed after the listing (a
running job wrote to it) is refused by the side that writes; the item is reported as changed
during the sync and keeps its old record state, so the next sync takes it up.
"""

import collections
import time
from dataclasses import dataclass, field

from suite import layout
from suite.process import gc_paused

from . import record as _record
from . import replica as _replica
from .held import held_paths, is_link, link_target
from .merge import MISSING, merge, resolve, same, unsent
from .replica import NOT_PLAIN, BadStatepoint, Replica, SyncError, doc_digest
from .steady import steady_jobs as _steady_jobs

#: files at least this large on both sides travel as deltas (smaller ones whole)
DELTA_MIN = 64 * 1024
#: largest delta held in memory for a large file; past it (or half the file) it goes whole
DELTA_MAX = 256 << 20
#: the local record is saved after this many seconds of work with changes (at least; 20 times
#: the last save's cost) and at the end
SAVE_SECONDS = 5.0
#: how long a sync waits for another sync of the same pair to finish before it gives up
LOCK_WAIT = 600.0

#: exit statuses (``suite sync``, ``suite import --sync``; 1 is an error, 2 a usage error):
#: conflicts were left; some items changed while the sync ran and were left for the next
#: sync; some jobs were left alone because they are unreadable or refused. When several
#: apply, the one that needs the user most wins: conflicts, then jobs left alone, then changes
EXIT_CONFLICTS, EXIT_CHANGED, EXIT_LEFT_ALONE = 3, 4, 5


@dataclass
class SyncResult:
    """What a sync did (or, with ``dry_run``, would do)."""

    actions: list = field(default_factory=list)  # {"action", "job", "path", "direction"}
    conflicts: list = field(default_factory=list)  # {"job", "path" or "key", "local", "remote"}
    #: writes left undone because their target changed while the sync ran (the next sync
    #: takes them up): {"job" (None: the project), "path" (None: the whole job), "side"}
    changed: list = field(default_factory=list)
    #: jobs left alone on both sides (their records kept) because one side cannot take what
    #: the other holds, e.g. a far side's document with NaN: {"job", "path" (None: the whole
    #: job), "side" (where the job is as it cannot be taken), "reason"}
    refused: list = field(default_factory=list)
    dry_run: bool = False
    #: left alone by the link policy: {"job", "path", "side", "reason"}
    skipped: list = field(default_factory=list)
    #: jobs (path None) and files that could not be read: {"job", "path", "side", "reason"}
    unreadable: list = field(default_factory=list)
    #: operations queued or running whose jobs were left alone on both sides (see
    #: :mod:`sync.active`): {"job", "operation", "side", "scheduler_id", "state"(, "error")}
    active: list = field(default_factory=list)

    @property
    def exit_status(self):
        """0 when everything was propagated; else :data:`EXIT_CONFLICTS` (3) when conflicts
        were left, then :data:`EXIT_LEFT_ALONE` (5) when jobs or files were left alone
        (unreadable, refused, or with work queued or running), then :data:`EXIT_CHANGED` (4)
        when items changed during the sync. Skipped items (the link policy) do not count."""
        if self.conflicts:
            return EXIT_CONFLICTS
        if self.refused or self.unreadable or self.active:
            return EXIT_LEFT_ALONE
        return EXIT_CHANGED if self.changed else 0

    def to_json(self):
        return {"dry_run": self.dry_run, "actions": self.actions, "conflicts": self.conflicts,
                "changed": self.changed, "refused": self.refused, "skipped": self.skipped,
                "unreadable": self.unreadable, "active": self.active}

    def format(self):
        lines = []
        for a in self.actions:
            where = f"{a['job']}/{a['path']}" if a.get("path") else a["job"]
            lines.append(f"{a['direction']:>4} {a['action']:<12} {where}")
        for c in self.conflicts:
            what = f"doc.{c['key']}" if c.get("key") else c.get("path", "")
            lines.append(f"CONFLICT {c['job']} {what}: local {_short(c.get('local'))} / "
                         f"remote {_short(c.get('remote'))}")
        for c in self.changed:
            where = "/".join(p for p in (c["job"] or "(project)", c["path"]) if p)
            lines.append(f"CHANGED during sync ({c['side']}) {where}: left for the next sync")
        for r in self.refused:
            where = "/".join(p for p in (r["job"], r["path"]) if p)
            lines.append(f"REFUSED ({r['side']}) {where}: {r['reason']}; left alone on both "
                         "sides")
        lines += _active_lines(self.active)
        verb = "would change" if self.dry_run else "changed"
        tail = f"; {len(self.changed)} changed during sync" if self.changed else ""
        tail += f"; {len(self.refused)} job(s) left alone" if self.refused else ""
        tail += f"; {len(self.skipped)} skipped" if self.skipped else ""
        tail += f"; {len(self.unreadable)} unreadable" if self.unreadable else ""
        busy = len({a["job"] for a in self.active})
        tail += f"; {busy} job(s) with work queued or running left alone" if busy else ""
        lines.append(f"{verb} {len(self.actions)} item(s); {len(self.conflicts)} conflict(s)"
                     + tail)
        return "\n".join(lines)


def _active_lines(active):
    """One line per job with work queued or running, naming it (where, which scheduler id)."""
    by_job, unknown = {}, {a["job"] for a in active if a["state"] == "unknown"}
    for a in active:
        by_job.setdefault(a["job"], []).append(
            f"{a['operation']} {a['state']} on the {a['side']} side ({a['scheduler_id']})")
    return [f"ACTIVE {job}: {', '.join(work)}; left alone on both sides ("
            + ("its scheduler cannot be asked; " if job in unknown else "--wait waits for it, ")
            + "--include-active syncs it anyway)" for job, work in sorted(by_job.items())]


def _short(value):
    import json

    if value is MISSING:
        return "(deleted)"
    text = json.dumps(value, default=str)
    return text if len(text) < 60 else text[:57] + "..."


#: files that only ever grow by whole lines (the workflow provenance log): changed on both
#: sides, they are merged as the union of their lines instead of being a conflict
APPEND_ONLY = {layout.FLOW_LOG}


class Sync:
    """One sync run between ``local`` and ``remote`` replicas."""

    def __init__(self, local, remote, *, mode="both", prefer=None, keep_both=False,
                 no_delete=False, ids=None, exclude=(), checksum=False, dry_run=False,
                 keep_record=True, progress=None, notify=None, lock_wait=LOCK_WAIT, active=(),
                 remote_identity=None, remote_lock=None):
        self.L, self.R = local, remote
        # functions returning the far side's identity and its try_lock of this side's
        # identity, asked for with the connection
        self._remote_identity, self._remote_lock = remote_identity, remote_lock
        # the far side holds the record this side loaded (its listing named it): its bytes
        self._far_holds_ours, self._far_record = False, None
        self._locked = []  # (replica, peer) of the locks this run holds, in the order taken
        self._far_stale = False  # the far side holds another record than this side's
        self.keep_record = keep_record
        self.mode, self.prefer, self.keep_both = mode, prefer, keep_both
        self.no_delete, self.ids, self.exclude = no_delete, ids, tuple(exclude)
        self.checksum, self.dry_run = checksum, dry_run
        self.progress = progress  # progress(jobs done, jobs in all)
        self.notify, self.lock_wait = notify, lock_wait  # notify(message) while waiting
        self.result = SyncResult(dry_run=dry_run, active=list(active))
        self._old = {}  # job id -> its record entry before this run, until the next save
        self._doc_merges = {}  # job id -> (base, local, remote) of a document sent there
        self._bad_sent = set()  # new jobs the far side refused for their state points
        # job id -> the files planned to travel with it (_stage_ahead, _batch)
        self._small = {}

    # -- the run ----------------------------------------------------------------------------
    def run(self):
        """Carry out the sync; return the :class:`SyncResult`. Raises SyncError when another
        sync of the same pair holds the lock for longer than ``lock_wait`` seconds."""
        lid = self.L.identity()
        rid = self.R.identity() if self._remote_identity is None else self._remote_identity()
        if not self.keep_record or self.dry_run:
            return self._run(lid, rid)
        # both sides' records of this pair: locked in one order (the smaller id's side first)
        # so that syncs started from either side cannot wait for each other
        sides = [(self.L, rid), (self.R, lid)]
        order = sides if lid < rid else sides[::-1]
        locked = self._locked = []
        try:
            if self._remote_lock is not None:
                self._lock_ahead(order, locked)
            for replica, peer in order:
                if (replica, peer) not in locked:
                    self._lock(replica, peer)
                    locked.append((replica, peer))
            return self._run(lid, rid)
        finally:
            try:  # nothing lands here after the lock is given back
                self.L.land_wait()
            except Exception:  # raised already, or by the run's own error
                pass
            for replica, peer in reversed(locked):
                try:
                    replica.unlock(peer)
                except Exception:  # the connection is gone: the far side released it
                    pass

    def _lock_ahead(self, order, locked):
        """The far lock asked for with the connection: kept if it was taken and comes first
        in the pair's ``order``, or if it comes second and this side's is free now; else
        given back, so that no sync waits for a lock while it holds one out of order (two
        syncs started from both ends would wait for each other)."""
        far = order[1] if order[0][0] is self.L else order[0]
        if self._remote_lock() is not None:  # another sync holds it: taken in order below
            return
        locked.append(far)
        if far is order[0]:
            return
        here = order[0]
        if here[0].try_lock(here[1]) is None:
            locked.insert(0, here)
            return
        locked.remove(far)
        far[0].unlock(far[1])

    def _lock(self, replica, peer):
        holder = replica.try_lock(peer)
        if holder is None:
            return
        if self.notify is not None:
            self.notify(f"waiting for another sync of this pair to finish ({holder})")
        replica.lock(peer, self.lock_wait)

    def _run(self, lid, rid):
        try:
            # no cyclic collection: the snapshots and the record are many objects without
            # cycles, which each full collection walked (a tenth of a local no-op's
            # instructions, a twentieth of a first sync's)
            with gc_paused():
                return self._sync(lid, rid)
        finally:  # what was staged ahead and not landed is removed (a sync ended early)
            for replica in (self.L, self.R):
                if isinstance(replica, Replica):
                    replica.end_ahead()

    def _sync(self, lid, rid):
        # the far side lists its jobs while this side lists its own; each leaves out the jobs
        # steady against its record of the other (a sync with nothing to do holds no listing).
        # A project on this machine does so in a child process when both sides keep a record
        # (Replica.lists_apart: the listings on two cores, little handed back); else it
        # lists whole here: parsing its record too would cost CPU to save only memory
        since = lid if self.keep_record and not self.checksum and not self.exclude and (
            not isinstance(self.R, Replica)
            or (isinstance(self.L, Replica) and self.L.has_record(rid)
                and self.R.lists_apart(lid))) else None
        record = None
        if isinstance(self.L, Replica) and (since is None or not self.L.has_record(rid)
                                            or self.L.record_unsent(rid)):
            # this side lists whole (a first sync, --checksum, --exclude), or its record is
            # not the far side's (a sync stopped before saving there: asked what moved since,
            # the far side would list whole): both sides a range of ids at a time where
            # there are many jobs
            record = self.L.load_record(rid) if self.keep_record else {"jobs": {}}
            if self._sync_in_ranges(lid, rid, record):
                return self.result
        remote_snapshot = self.R.snapshot_later(self.ids, self.exclude, since)
        if record is None:
            record = self.L.load_record(rid) if self.keep_record else {"jobs": {}}
        base, digest = record.get("jobs") or {}, None
        if since is not None and isinstance(self.L, Replica):
            ls, lsteady = self.L.snapshot_steady(self.ids, self.exclude, base)
            digest = self.L.record_digest(rid)
        else:
            ls, lsteady = self.L.snapshot(self.ids, self.exclude), None
        if not self.dry_run and self.mode != "pull" and self.R.second_stream:
            self._second_stream(_new_bytes(ls["jobs"], base, self.SECOND_FILE_MIN))
        rs, steady = self._steady(ls, lsteady, remote_snapshot(), base, digest)
        if isinstance(self.R, Replica):  # a child listing it has answered all it is asked:
            self.R.end_child(wait=False)  # it leaves meanwhile, reaped at the end (_run)
        if self._far_holds_ours:  # the bytes it holds: the final save sends what changed
            self._far_record = _record.loaded_bytes(record)
        # a record written in one line (before session 11) is rewritten one job a line
        self._moved = "jobs" not in record or getattr(record["jobs"], "upgrade", False) or \
            self._far_stale
        base_jobs = record.setdefault("jobs", {})
        self._start_decisions()
        ids = self._prepare(ls, rs, base_jobs, steady)
        self._decide(sorted(ids), steady, base_jobs, record, lid, rid, 0, len(ids))
        self._finish(record, lid, rid, ls["project_doc"], rs["project_doc"])
        return self.result

    #: jobs about which a sync listing both sides whole (a first sync, --checksum,
    #: --exclude) goes a range of ids at a time (sync.ranges); at most this many on either
    #: side: one range, the whole listing, as before
    RANGE_JOBS = 10000

    def _sync_in_ranges(self, lid, rid, record):
        """Sync a range of ids at a time (:mod:`sync.ranges`, about :data:`RANGE_JOBS` jobs
        each): both sides list the range, its files are compared and hashed, its jobs decided
        and their record entries held as bytes (:meth:`sync.record.RecordJobs.hold_as_bytes`),
        its listings dropped; then the next. A million jobs held both whole listings and the
        record's entries as objects (2.9 GB). Returns False (nothing done) for few jobs, or
        a far side of before session 16 (no ``snapshot_range``: it answers an error), which
        are listed whole as before."""
        from . import ranges as _ranges

        asked = self.R.snapshot_range_later(self.ids, self.exclude, "", "")
        here = self.L.snapshot_range(self.ids, self.exclude, "", "")
        try:
            there = asked()
        except SyncError:  # a far side without the operation (a real error is raised again
            return False  # by the whole listing that follows)
        counts = [here["count"], there["count"]]
        parts = _ranges.bounds(max(counts), self.RANGE_JOBS)
        if len(parts) < 2:
            return False
        jobs = record.get("jobs")
        # a record the far side may not hold is saved there even if nothing moved (else
        # every next sync would list in ranges again)
        self._moved = not isinstance(jobs, _record.RecordJobs) or jobs.upgrade or \
            self.L.record_unsent(rid)
        if not isinstance(jobs, _record.RecordJobs):
            jobs = record["jobs"] = _record.RecordJobs.from_dict(jobs or {})
        self._start_decisions()
        second = not self.dry_run and self.mode != "pull" and self.R.second_stream
        wanted = None if self.ids is None else set(self.ids)
        pushed, seen, done, project = 0, [0, 0], 0, None
        asked = self.R.snapshot_range_later(self.ids, self.exclude, *parts[0])
        for k, (lo, hi) in enumerate(parts):
            rs = asked()
            if k + 1 < len(parts):  # the far side lists the next range while this one is done
                asked = self.R.snapshot_range_later(self.ids, self.exclude, *parts[k + 1])
            ls = self.L.snapshot_range(self.ids, self.exclude, lo, hi)
            rs.pop("count", None)
            if project is None:
                project = (ls["project_doc"], rs["project_doc"])
            for side, snap in enumerate((ls, rs)):
                seen[side] += len(snap["jobs"]) + len(snap["unreadable"])
            base = jobs.between(lo, hi)
            if wanted is not None:
                base = {job_id: entry for job_id, entry in base.items() if job_id in wanted}
            if second and pushed < self.SECOND_STREAM_MIN:
                # the bytes pushed into jobs the far side has, counted as the ranges come:
                # the second stream opens once they are enough (their first went on the first)
                pushed += _new_bytes(ls["jobs"], base, self.SECOND_FILE_MIN)
                if pushed >= self.SECOND_STREAM_MIN:
                    self._second_stream(pushed)
            steady = set() if self.checksum else _steady_jobs(ls["jobs"], rs["jobs"], base)
            ids = self._prepare(ls, rs, base, steady)
            # in all: those done, this range's, and the most either side has left to list
            total = done + len(ids) + max(counts[0] - seen[0], counts[1] - seen[1], 0)
            done = self._decide(sorted(ids), steady, base, record, lid, rid, done, total)
            del ls, rs, base, steady, ids
            # the range's writes answered, its entries complete: held as bytes from here
            self._flush_deltas()
            self._flush_pulls()
            self._land_fetched()
            if not self.dry_run:
                jobs.hold_as_bytes(lo, hi)
        self._finish(record, lid, rid, *project)
        return True

    def _start_decisions(self):
        """The state the per-job decisions keep across the jobs (and ranges) of a run."""
        self._landing = []  # fetched far jobs not landed yet (see _land_fetched)
        self._pulls, self._pull_bytes = [], 0
        self._deltas, self._delta_bytes = [], 0
        self._last_save, self._saved_actions, self._save_cost = time.monotonic(), 0, 0.0

    def _prepare(self, ls, rs, base_jobs, steady):
        """Report what either listing skipped, refused or found unreadable, and take those
        jobs (and those with work queued or running) out of both; hash what the listings
        cannot settle; plan the fetches of the far side's new jobs and the local staging;
        return the ids of the jobs to decide (``base_jobs``: the record's entries, of the
        listings' jobs at least)."""
        bad = self._note_skipped(ls, rs)
        for job_id in {a["job"] for a in self.result.active}:  # work runs there: left alone
            ls["jobs"].pop(job_id, None)
            rs["jobs"].pop(job_id, None)
            bad.add(job_id)
        self._ls, self._rs = ls["jobs"], rs["jobs"]
        # jobs whose documents from the far side cannot be stored here: reported, left alone
        refused = rs.pop("refused", {})
        for job_id, why in sorted(refused.items()):
            self.result.refused.append({"job": job_id, "path": None, "side": "remote",
                                        "reason": why})
        # jobs new on the far side are copied here whole: fetched many per round trip
        self._remote_new = [j for j in sorted(rs["jobs"]) if j not in ls["jobs"]
                            and j not in base_jobs]
        self._remote_pos = {j: k for k, j in enumerate(self._remote_new)}
        self._remote_sizes = rs["jobs"]
        self._fetched, self._ahead, self._next_fetch = {}, collections.deque(), 0
        self._digests = {}
        self._compare_contents(ls, rs, base_jobs, steady)
        ids = set(ls["jobs"]) | set(rs["jobs"]) | (
            set(base_jobs) if self.ids is None else set(base_jobs) & set(self.ids))
        ids -= bad  # an unreadable job keeps its record and is left alone on both sides
        ids -= set(refused)
        self._stage_ahead(ids, base_jobs)
        return ids

    def _decide(self, ids, steady, base_jobs, record, lid, rid, start, total):
        """Decide and carry out the jobs ``ids`` (in order; ``steady`` keep their entries),
        their entries set in the record; saved every few seconds of work. Returns ``done``
        plus the jobs gone through (progress: ``done`` of ``total``)."""
        jobs, done = record["jobs"], start
        for done, job_id in enumerate(ids, start + 1):
            if self.progress is not None:
                self.progress(done, total)
            if job_id in steady:
                continue
            old = base_jobs.get(job_id)
            entry = self._job(job_id, self._ls.get(job_id), self._rs.get(job_id), old)
            if self.dry_run:
                continue
            # entries are rebuilt, never changed in place: comparing tells if the record moved
            self._moved = self._moved or (entry is not old and _entry_changed(entry, old))
            if entry is not old:
                self._old.setdefault(job_id, old)
            if entry is None:
                jobs.pop(job_id, None)
            else:
                jobs[job_id] = entry
            if len(self.result.actions) > self._saved_actions and \
                    time.monotonic() - self._last_save > max(SAVE_SECONDS, 20 * self._save_cost):
                # each save writes the whole record: spaced by its cost, saving stays a
                # twentieth of the work however large the project (it grows as jobs sync)
                started = time.monotonic()
                self._save(record, lid, rid)
                self._last_save = time.monotonic()
                self._saved_actions = len(self.result.actions)
                self._save_cost = self._last_save - started
        return done

    def _finish(self, record, lid, rid, local_doc, remote_doc):
        """The writes still queued, the project document, the final save."""
        self._flush_deltas()
        self._flush_pulls()
        old = record.get("project_doc", MISSING)
        record["project_doc"] = self._project_doc(local_doc, remote_doc,
                                                  record.get("project_doc"))
        moved = self._moved or old is MISSING or not same(record["project_doc"], old)
        if not self.dry_run and (self.result.actions or moved):
            self._save(record, lid, rid, final=True)

    #: a push of at least this many bytes of files into jobs the far side has also goes
    #: over a second data stream (sync.datastream) where the link makes it pay
    #: (datastream.pays); below it, no second far process starts
    SECOND_STREAM_MIN = 16 << 20
    #: files smaller than this always go over the first stream (their bytes pace nothing;
    #: _new_bytes counts only larger ones)
    SECOND_FILE_MIN = 64 << 10

    def _second_stream(self, nbytes):
        """Open the second data stream for ``nbytes`` of writes if they are enough and the
        link is slow enough for it to pay (:func:`sync.datastream.pays`); opened while the
        far listing is waited for."""
        from . import datastream

        if nbytes >= self.SECOND_STREAM_MIN and datastream.pays(nbytes, self.R.round_trip()):
            self.R.start_second()

    def _stage_ahead(self, ids, base_jobs):
        """Both projects on this machine: the jobs a first copy lands whole, file to file,
        are handed to the receiving side in the order the loop reaches them, which may stage
        them in a second thread meanwhile (:meth:`Replica.stage_ahead`)."""
        self._small = {}
        if self.dry_run or not (isinstance(self.L, Replica) and isinstance(self.R, Replica)):
            return
        for src, dst, here, there, direction in ((self.L, self.R, self._ls, self._rs, "push"),
                                                 (self.R, self.L, self._rs, self._ls, "pull")):
            if self.mode not in ("both", direction):
                continue
            jobs = []
            # as _one_side decides a copy: on one side only, not in the record; in loop order
            for job_id in sorted(j for j in here.keys() - there.keys()
                                 if j in ids and j not in base_jobs):
                present = here[job_id]
                small = self._small[job_id] = _with_job(present["files"])
                if all("/" not in rel for rel in small):
                    jobs.append((job_id, present["doc"], small))
            if jobs:
                dst.stage_ahead(src, jobs)

    def _steady(self, ls, lsteady, rs, base_jobs, digest):
        """``(rs, steady)``: the far side's snapshot completed and the jobs steady on both
        sides (they keep their record entry without being looked at). ``lsteady``: the jobs
        this side left out as steady (None: it listed all, and so did the far side: steady
        jobs stay in both listings, as before). The far side's left out (its ``"since"``)
        count only if its record is this side's (``digest``), else it is asked again for
        all. A job steady on one side only is listed there after all."""
        r_jobs, since = rs["jobs"], rs.pop("since", None)
        if since is not None and (digest is None or since["record"] != digest):
            # its record is another (a sync stopped before saving there): a whole snapshot,
            # and the record saved there at the end even if nothing moved (else every next
            # sync would list whole again)
            self._far_stale = True
            rs = self.R.snapshot(self.ids, self.exclude)
            r_jobs, since = rs["jobs"], None
        elif since is not None:  # it holds this side's record: the final save patches it
            self._far_holds_ours = True
        if since is None and lsteady is None:  # both listed whole, as before
            return rs, set() if self.checksum else _steady_jobs(ls["jobs"], r_jobs, base_jobs)
        if since is None:
            far = set() if self.checksum else _steady_jobs(r_jobs, r_jobs, base_jobs)
            steady = far & lsteady
            for job_id in steady:
                del r_jobs[job_id]
        else:
            keys = base_jobs.keys() if self.ids is None else set(self.ids) & base_jobs.keys()
            far = set(keys).difference(r_jobs, since["gone"], rs["unreadable"],
                                       rs.get("refused", ()))
            steady = far & lsteady
            wanted = sorted(far - steady)
            if wanted:  # steady there, not here: its listing is needed after all
                more = self.R.snapshot(wanted, self.exclude)
                r_jobs.update(more["jobs"])
                rs["unreadable"].update(more["unreadable"])
                rs.setdefault("refused", {}).update(more.get("refused", {}))
        wanted = sorted(lsteady - steady)
        if wanted:  # steady here, not there: listed here after all
            more = self.L.snapshot(wanted, self.exclude)
            ls["jobs"].update(more["jobs"])
            ls["unreadable"].update(more["unreadable"])
        return rs, steady

    def _save(self, record, lid, rid, final=False):
        self._land_fetched()
        self._flush_deltas()
        self._flush_pulls()
        # a write still in flight may yet fail: the record must never claim it happened
        # (a job recorded as synced but missing there would be deleted here next time)
        self.R.flush()
        # the final save indexes the jobs landed here while the far side writes its record
        # (the index is a cache; the record needs them landed, not indexed)
        index_later = final and self.keep_record and isinstance(self.L, Replica)
        if index_later:
            self.L.land_wait()
        else:
            self.L.flush()
        self._settle(record)
        if not self.keep_record:
            return
        # progress is saved here often; the peer's copy (possibly over the network) at the
        # end only. A sync always starts from the local copy, so an interrupted run resumes.
        if final:  # encoded once for both sides (the far side checks it is JSON)
            record = _replica.encode_record(record)
        self.L.save_record(rid, record, sent=False)
        if final:
            saved = self._save_far(lid, record)
            if index_later:
                self.L.index_new_jobs()
            if saved():
                self.L.record_sent(rid)

    #: the far record goes as its changed lines when they are at most this part of it
    PATCH_PART = 0.5

    def _save_far(self, lid, raw):
        """Send the far side its record (``raw``, encoded); return a function that waits for
        its answer. When the far side holds the record this sync started from (its listing
        named it, :meth:`_steady`), only the lines that changed go (``patch_record``); if it
        holds another after all, or the patch is refused or not understood, the whole
        record follows. The function returns whether the far side holds ``raw`` now."""
        base = self._far_record
        patch = None
        if base is not None and self.R.patches_record:
            patch = _record.diff(base, raw)
        if patch is None or sum(map(len, patch[2])) > self.PATCH_PART * len(raw):
            whole = self.R.save_record_later(lid, raw)
            released = self._unlock_far_later(lid)

            def saved_whole():
                whole()
                released()
                return True

            return saved_whole
        answer = self.R.patch_record_later(lid, _replica.record_digest(base),
                                           _replica.record_digest(raw), *patch)
        released = self._unlock_far_later(lid)

        def saved():
            try:
                written = answer()
            except SyncError:  # a far side without the operation: the whole record
                written = False
            relock = released()
            if written:
                return True
            if relock and self.R.try_lock(lid) is not None:
                # another sync took the far lock meanwhile: the far record stays as a sync
                # stopped before saving there leaves it (the next sync lists it in ranges)
                return False
            self.R.save_record_later(lid, raw)()
            if relock:
                self.R.unlock(lid)
            return True

        return saved

    def _unlock_far_later(self, lid):
        """Give the far lock back right behind the record just sent (read there after it,
        so the record is written under the lock; issue #18: a round trip less). Returns a
        function that reads the answer and returns whether the lock was given back (then a
        record sent again must take it again first)."""
        far = (self.R, lid)
        if not self.R.unlocks_behind or far not in self._locked:
            return lambda: False
        self._locked.remove(far)
        answer = self.R.unlock_later(lid)

        def released():
            try:
                answer()
            except SyncError:  # the far side let it go with the connection, if not now
                pass
            return True

        return released

    def _refused_statepoint(self, job_id, reason, side):
        """A job copied to the far side was refused there: its state point on ``side`` is
        not its own (the index never re-reads one, so it may have changed since). Reported
        as unreadable, its copy no action."""
        self._bad_sent.add(job_id)
        self.result.unreadable.append({"job": job_id, "path": None, "side": side,
                                       "reason": reason})
        self.result.actions[:] = [a for a in self.result.actions if a["job"] != job_id]

    def _settle(self, record):
        """Writes refused because their target changed during the sync: report them, and
        give their items back their old record state, so the next sync takes them up (an
        older record is only less information)."""
        jobs = record["jobs"]
        for replica, side in ((self.L, "local"), (self.R, "remote")):
            notes, replica.changed = replica.changed, []
            for note in notes:
                job_id, rel = note.get("job"), note.get("path")
                if "unreadable" in note:  # a new job whose state point is not its own
                    self._refused_statepoint(job_id, note["unreadable"],
                                             "remote" if side == "local" else "local")
                elif job_id not in self._bad_sent:  # (its links and large files follow it)
                    self.result.changed.append({"job": job_id, "path": rel, "side": side})
                if job_id is None:
                    continue  # the project document: settled where it was written
                old = self._old.get(job_id, jobs.get(job_id))
                entry = jobs.get(job_id)
                if rel is None or entry is None:
                    if old is None:
                        jobs.pop(job_id, None)
                    else:
                        jobs[job_id] = old
                elif rel == layout.DOCUMENT:
                    if replica is self.R and job_id in self._doc_merges:
                        entry["doc"] = unsent(*self._doc_merges[job_id])
                    else:
                        entry["doc"] = (old or {}).get("doc", {})
                elif (old or {}).get("files", {}).get(rel) is not None:
                    entry["files"][rel] = old["files"][rel]
                else:
                    entry["files"].pop(rel, None)
        self._old, self._doc_merges = {}, {}

    def _note_skipped(self, ls, rs):
        """Report what either side skipped; return the ids of jobs unreadable on either
        side, taken out of both snapshots."""
        from suite.jobfiles import UNREADABLE

        bad = set()
        for side, snap in (("local", ls), ("remote", rs)):
            for job_id, reason in sorted(snap.get("unreadable", {}).items()):
                self.result.unreadable.append({"job": job_id, "path": None, "side": side,
                                               "reason": reason})
                bad.add(job_id)
            # only the few jobs with skipped items are sorted, not all of them
            for job_id in sorted(j for j, job in snap["jobs"].items() if "skipped" in job):
                for rel, reason in sorted(snap["jobs"][job_id]["skipped"].items()):
                    to = self.result.unreadable if reason == UNREADABLE else self.result.skipped
                    to.append({"job": job_id, "path": rel, "side": side, "reason": reason})
        for job_id in bad:
            ls["jobs"].pop(job_id, None)
            rs["jobs"].pop(job_id, None)
        return bad

    def _act(self, action, job, direction, path=None):
        self.result.actions.append({"action": action, "job": job, "path": path,
                                    "direction": direction})
        allowed = self.mode == "both" or (self.mode == "push") == (direction == "push")
        return allowed and not self.dry_run, allowed

    def _conflict(self, job, **info):
        self.result.conflicts.append({"job": job, **info})

    # -- jobs -------------------------------------------------------------------------------
    def _job(self, job_id, lj, rj, bj):
        """Sync one job; return its new record entry (None: the job is gone on both sides)."""
        if lj is not None and rj is None:
            return self._one_side(job_id, lj, bj, self.L, self.R, "push")
        if rj is not None and lj is None:
            return self._one_side(job_id, rj, bj, self.R, self.L, "pull")
        if lj is None and rj is None:
            return None
        files = {}
        base_files = (bj or {}).get("files", {})
        held = ()
        if "skipped" in lj or "skipped" in rj or "links" in lj or "links" in rj:
            held, found = held_paths(lj, rj)
            self.result.skipped.extend({"job": job_id, **item} for item in found)
        for rel in sorted(set(lj["files"]) | set(rj["files"]) | set(base_files)):
            if rel in held:  # left alone: the record keeps what it knew
                if rel in base_files:
                    files[rel] = base_files[rel]
                continue
            state = self._file(job_id, rel, lj["files"].get(rel), rj["files"].get(rel),
                               base_files.get(rel), bj is not None)
            if state is not None:
                files[rel] = state
        doc = self._doc(job_id, lj["doc"], rj["doc"], (bj or {}).get("doc", {}) if bj else {})
        return {"files": files, "doc": doc}

    def _one_side(self, job_id, present, b, src, dst, direction):
        """A job on one side only: new there (copy it), or deleted on the other side."""
        if b is None:
            do, allowed = self._act("copy job", job_id, direction)
            if do and not self._copy_job(job_id, present, src, dst):
                return None
            return self._entry_after_copy(job_id, present, direction) if allowed else None
        if _job_unchanged(present, b, "l" if direction == "push" else "r"):
            if self.no_delete:
                return b
            if self.exclude or "skipped" in present:
                # excluded or skipped files were never synced: deleting the job would lose them
                self._conflict(job_id, path="(whole job)", local="kept: has excluded or "
                               "skipped files", remote="deleted")
                return b
            do, allowed = self._act("delete job", job_id,
                                    "pull" if direction == "push" else "push")
            if do:
                src.delete_job(job_id, _as_listed(present))
            return None if allowed else b
        # changed on one side, deleted on the other
        winner = self._winner(job_id, src, None)
        if winner == "keep":
            self._conflict(job_id, path="(whole job)", local="changed" if direction == "push"
                           else "deleted", remote="deleted" if direction == "push" else "changed")
            return b
        if winner == ("local" if direction == "push" else "remote"):
            do, allowed = self._act("copy job", job_id, direction)
            if do and not self._copy_job(job_id, present, src, dst):
                return b
            return self._entry_after_copy(job_id, present, direction) if allowed else b
        do, allowed = self._act("delete job", job_id, "pull" if direction == "push" else "push")
        if do:
            src.delete_job(job_id, _as_listed(present))
        return None if allowed else b

    def _copy_job(self, job_id, present, src, dst):
        """Copy a whole job; False (and listed as unreadable) if its state point is not
        its own: the index never re-reads one, so it may have changed since."""
        # links are made after the job, large files follow
        small = self._small.pop(job_id, None) or _with_job(present["files"])
        # all its files travel with it (most jobs): none large, no link
        whole, with_job = len(small) == len(present["files"]), set(small)
        large = [] if whole else sorted(rel for rel, f in present["files"].items()
                                        if not is_link(f) and rel not in with_job)
        # both projects on this machine: a plain job is copied file to file in one call
        copied = NOT_PLAIN
        try:
            if isinstance(src, Replica) and isinstance(dst, Replica) and \
                    all("/" not in rel for rel in small):
                copied = dst.copy_local_job(src, job_id, present["doc"], small)
            if copied is NOT_PLAIN:
                if src is self.R and job_id in self._remote_pos and \
                        not isinstance(src, Replica):  # a local one reads as fast alone
                    if job_id not in self._fetched:
                        self._fetch_from(self._remote_pos[job_id])
                    sp, files = self._fetched.pop(job_id)
                    if not large and isinstance(dst, Replica) and \
                            not any(is_link(f) for f in present["files"].values()):
                        # landed with the rest of its batch in one call (_land_fetched);
                        # its state point checked there (a note if it is not its own)
                        self._landing.append((job_id, sp, present["doc"], files))
                        return True
                else:
                    [(_, sp, files)] = src.read_jobs([(job_id, small)])
                # checked once, where the job lands: a local replica raises BadStatepoint,
                # a far side refuses that job alone (a note, see _refused_statepoint)
                dst.create_job(job_id, sp, present["doc"], files)
        except BadStatepoint as exc:  # the index never re-reads one: it may have changed
            self.result.actions.pop()  # the copy _act announced does not happen
            self.result.unreadable.append({"job": job_id, "path": None, "side": "local" if
                                           src is self.L else "remote", "reason": str(exc)})
            return False
        for rel, f in () if whole else sorted(present["files"].items()):
            if is_link(f):
                dst.write_link(job_id, rel, link_target(f), f[1], None)
        # large files (and small ones past JOB_BYTES) follow in chunks, each landing whole by
        # rename; the record counts the job as synced only after all of them (an interrupted
        # sync sends what is missing)
        for rel in large:
            self._stream(job_id, rel, src, dst, None)
        return True

    def _stream(self, job_id, rel, src, dst, expect):
        """Copy a large file in chunks onto ``expect`` (the destination as listed, None: no
        file); return its [size, mtime]."""
        mtime, chunks = src.read_chunks(job_id, rel)
        return [dst.write_stream(job_id, rel, chunks, mtime, expect), mtime]

    #: jobs and bytes fetched from the far side per round trip, at most (one job always)
    FETCH_JOBS, FETCH_BYTES = 256, 32 << 20
    #: batches asked for beyond the one being written: the far side keeps reading ahead
    #: when it lost its core for a while (one ahead stalled this side 20-40 ms a few times
    #: a pull on a busy machine). Memory: at most FETCH_AHEAD + 1 batches' answers held
    #: (FETCH_BYTES each; a drain before another call may read those asked ahead early)
    FETCH_AHEAD = 3

    def _fetch_from(self, pos):
        """Fetch the batch of new far jobs starting at ``pos``; before waiting for it, ask for
        the next ones up to FETCH_AHEAD: the far side reads them while this side writes this
        one (the two took turns, each idle half of a first pull)."""
        # the batch before lands first (the far side reads the ones asked ahead meanwhile):
        # no more batches held here than before it was landed in one call
        self._land_fetched()
        ahead = self._ahead
        while ahead and self._remote_new[pos] not in ahead[0][0]:
            ahead.popleft()  # not needed (its answer is read in order and dropped)
        if ahead:
            _, requests, answer = ahead.popleft()
        else:
            requests = self._batch(pos)
            answer = self.R.read_jobs_later(requests)
            self._next_fetch = self._remote_pos[requests[-1][0]] + 1
        while len(ahead) < self.FETCH_AHEAD and self._next_fetch < len(self._remote_new):
            more = self._batch(self._next_fetch)
            ahead.append(({job_id for job_id, _ in more}, more, self.R.read_jobs_later(more)))
            self._next_fetch = self._remote_pos[more[-1][0]] + 1
        self._fetched = {job_id: (sp, files) for job_id, sp, files in answer()}

    def _land_fetched(self):
        """Land the fetched far jobs _copy_job queued, in one call (:meth:`Replica.create_jobs`;
        a job whose state point is not its own is left out, noted as unreadable)."""
        if self._landing:
            jobs, self._landing = self._landing, []
            # in a second thread: its system calls run while this one decodes the next
            # batch; waited for before the next batch lands and before any record is saved
            self.L.create_jobs(jobs, wait=False)

    def _batch(self, pos):
        """The requests for the new far jobs from ``pos`` on: up to FETCH_JOBS jobs and
        FETCH_BYTES bytes (one job always)."""
        requests, size = [], 0
        for job_id in self._remote_new[pos:pos + self.FETCH_JOBS]:
            files = self._remote_sizes[job_id]["files"]
            # the others (and links) come after the job; kept for _copy_job, which copies
            # this job with what was fetched for it
            rels = self._small.get(job_id) or _with_job(files)
            self._small[job_id] = rels
            job_size = sum(files[rel][0] for rel in rels)
            if requests and size + job_size > self.FETCH_BYTES:
                break
            requests.append((job_id, rels))
            size += job_size
        return requests

    def _entry_after_copy(self, job_id, present, direction):
        side = {"push": (0, 1), "pull": (1, 0)}[direction]
        files = {}
        for rel, (size, mtime, *_) in present["files"].items():
            m = [None, None]
            m[side[0]] = mtime
            m[side[1]] = mtime  # copies keep the source's mtime
            files[rel] = [size, *m]
        return {"files": files, "doc": present["doc"]}

    # -- files ------------------------------------------------------------------------------
    def _file(self, job_id, rel, lf, rf, bf, have_base):
        """Sync one file; return its record state [size, local mtime, remote mtime] or None."""
        if lf and rf:
            if self._same_file(job_id, rel, lf, rf):
                return [lf[0], lf[1], rf[1]]
            lc = not have_base or not _unchanged(lf, bf, 1)
            rc = not have_base or not _unchanged(rf, bf, 2)
            if lc and not rc:
                return self._copy(job_id, rel, self.L, self.R, "push", lf, bf, rf)
            if rc and not lc:
                return self._copy(job_id, rel, self.R, self.L, "pull", rf, bf, lf)
            if rel in APPEND_ONLY and not (is_link(lf) or is_link(rf)):
                return self._union(job_id, rel, lf, rf, bf)
            return self._file_conflict(job_id, rel, lf, rf, bf)
        if lf or rf:
            present, src, dst, direction = (lf, self.L, self.R, "push") if lf else \
                (rf, self.R, self.L, "pull")
            if bf is None:
                return self._copy(job_id, rel, src, dst, direction, present, bf)
            if _unchanged(present, bf, 1 if lf else 2):
                if self.no_delete:
                    return bf
                do, allowed = self._act("delete file", job_id,
                                        "pull" if direction == "push" else "push", rel)
                if do:
                    src.delete_file(job_id, rel, present)
                return None if allowed else bf
            return self._file_conflict(job_id, rel, lf, rf, bf)
        return None

    def _same_file(self, job_id, rel, lf, rf):
        if lf[0] != rf[0]:
            return False
        if is_link(lf) or is_link(rf):
            return link_target(lf) == link_target(rf)  # the same target, or a link and a file
        key = (job_id, rel)
        if key in self._digests:
            return self._digests.pop(key)
        if lf[1] == rf[1] and not self.checksum:
            return True
        return self.L.digest(job_id, rel) == self.R.digest(job_id, rel)

    def _compare_contents(self, ls, rs, base_jobs, steady=()):
        """Hash, in batches on each side, the files whose size and mtime do not settle
        whether they are equal: equal sizes with different mtimes, equal sizes and mtimes
        where a side changed since the record or there is none (a restored backup, ``cp -p``
        on both sides), all same-size files with --checksum."""
        wanted = []
        for job_id, lj in ls["jobs"].items():
            rj = rs["jobs"].get(job_id)
            if rj is None or job_id in steady:
                continue
            base = base_jobs.get(job_id, {}).get("files", {})
            for rel, lf in lj["files"].items():
                rf = rj["files"].get(rel)
                if not rf or lf[0] != rf[0] or is_link(lf) or is_link(rf):
                    continue
                lu, ru = _unchanged(lf, base.get(rel), 1), _unchanged(rf, base.get(rel), 2)
                if not self.checksum and lf[0] >= DELTA_MIN and lu != ru:
                    # changed on one side only: sent as a delta, which costs about what
                    # hashing both would and is all copies if only the time moved (as
                    # rsync's quick check does); hashing first read both files twice
                    self._digests[(job_id, rel)] = False
                elif self.checksum or lf[1] != rf[1] or not (lu and ru):
                    wanted.append((job_id, rel))
        for start in range(0, len(wanted), 1000):
            part = wanted[start:start + 1000]
            remote = self.R.digests_later(part)  # the far side hashes while this side does
            local = self.L.digests_later(part)()
            for key, a, b in zip(part, local, remote(), strict=True):
                self._digests[key] = a == b

    def _copy(self, job_id, rel, src, dst, direction, state, bf, basis=None):
        """Copy a file onto ``basis`` (the destination's file as listed; None: none); when it
        is an older version of at least :data:`DELTA_MIN` bytes, send only the difference
        (rsync's algorithm). The destination is written only if it is still ``basis``."""
        use_delta = basis is not None and min(basis[0], state[0]) >= DELTA_MIN and \
            not is_link(state) and not is_link(basis)
        do, allowed = self._act("delta file" if use_delta else "copy file", job_id, direction,
                                rel)
        if do and is_link(state):
            dst.write_link(job_id, rel, link_target(state), state[1], basis)
            return [state[0], state[1], state[1]]
        if do and use_delta:
            # a large file mostly rewritten is sent whole: its delta would be about as big,
            # and held in memory
            limit = min(state[0] // 2, DELTA_MAX) if _large(state) else None
            # sent later, many per round trip; the record entry is completed then
            entry = [state[0], state[1], state[1]]
            self._deltas.append((job_id, rel, src, limit, entry, basis))
            self._delta_bytes += limit or state[0]
            if len(self._deltas) >= self.DELTA_FILES or self._delta_bytes >= self.DELTA_BYTES:
                self._flush_deltas()
            return entry
        if do and dst is self.R and state[0] >= self.SECOND_FILE_MIN and dst.second_stream:
            # into a job the far side has (new jobs' files go with them on the first stream,
            # in order): over the second data stream when it is open, in turn with the first
            dst = dst.pick(state[0])
        if do and _large(state):
            state = self._stream(job_id, rel, src, dst, basis)
        elif do and src is self.R:
            # fetched later, many per round trip; the record entry is completed then
            entry = [state[0], state[1], state[1]]
            self._pulls.append((job_id, rel, entry, basis))
            self._pull_bytes += state[0]
            if len(self._pulls) >= self.FETCH_JOBS or self._pull_bytes >= self.FETCH_BYTES:
                self._flush_pulls()
            return entry
        elif do:
            data, mtime = src.read(job_id, rel)
            dst.write(job_id, rel, data, mtime, basis)
            state = [len(data), mtime]
        if not allowed:
            return bf
        return [state[0], state[1], state[1]]

    #: files whose deltas go in one batch, and the most delta bytes that batch may hold
    DELTA_FILES, DELTA_BYTES = 64, 64 << 20
    #: files per request within a batch: the far side works on one chunk while this side
    #: works on another
    DELTA_CHUNK = 8

    def _flush_deltas(self):
        """Send the queued deltas, per direction, in chunks: the receiving side's signatures,
        then the sending side's deltas, then the receiving side applies them. Every chunk's
        request to the far side goes out before the first answer is read (pushes: all the
        signatures asked for at once, deltas made here as they come; pulls: each chunk's
        deltas asked for as soon as its signatures are computed here), so a batch costs one
        round trip, not one a chunk; its answers come in order. A delta past its limit is
        replaced by the file streamed whole."""
        queued, self._deltas, self._delta_bytes = self._deltas, [], 0
        for src in (self.L, self.R):
            part = [q for q in queued if q[2] is src]
            if not part:
                continue
            dst = self.R if src is self.L else self.L
            step = self.DELTA_CHUNK
            chunks = [part[k:k + step] for k in range(0, len(part), step)]

            def sigs_of(chunk, dst=dst):
                return dst.signatures_later([(job_id, rel) for job_id, rel, *_ in chunk])

            def deltas_of(chunk, sigs, src=src):
                return src.make_deltas_later([(job_id, rel, limit)
                                              for job_id, rel, _, limit, *_ in chunk], sigs)

            if dst is self.R:  # push: each chunk's deltas made and posted as its sums come
                sigs = [sigs_of(chunk) for chunk in chunks]
                for chunk, sigs_of_chunk in zip(chunks, sigs, strict=True):
                    self._apply_deltas(chunk, deltas_of(chunk, sigs_of_chunk())(), src, dst)
            else:
                made = [deltas_of(chunk, sigs_of(chunk)()) for chunk in chunks]
                for chunk, made_of_chunk in zip(chunks, made, strict=True):
                    self._apply_deltas(chunk, made_of_chunk(), src, dst)

    def _apply_deltas(self, chunk, made, src, dst):
        for (job_id, rel, _, _, entry, basis), got in zip(chunk, made, strict=True):
            if got is None:
                size, mtime = self._stream(job_id, rel, src, dst, basis)
            else:
                data, mtime = got
                dst.apply_delta(job_id, rel, data, mtime, basis)
                size = entry[0]
            entry[:] = [size, mtime, mtime]

    def _flush_pulls(self):
        """Fetch the files waiting to come from the far side in one call and write them."""
        pulls, self._pulls, self._pull_bytes = self._pulls, [], 0
        if not pulls:
            return
        got = self.R.read_files([(job_id, rel) for job_id, rel, *_ in pulls])
        for (job_id, rel, entry, basis), (data, mtime) in zip(pulls, got, strict=True):
            self.L.write(job_id, rel, data, mtime, basis)
            entry[:] = [len(data), mtime, mtime]  # what was written, if it changed meanwhile

    def _union(self, job_id, rel, lf, rf, bf):
        """An append-only log changed on both sides: both get every line of either (this
        side's first, then the other side's new ones, in their order)."""
        do, allowed = self._act("merge log", job_id, self.mode, rel)
        if not do:
            return bf
        ldata, lm = self.L.read(job_id, rel)
        rdata, rm = self.R.read(job_id, rel)
        lines = [line.rstrip(b"\n") for line in ldata.splitlines()]
        seen = set(lines)
        for line in rdata.splitlines():
            line = line.rstrip(b"\n")
            if line not in seen:
                seen.add(line)
                lines.append(line)
        data = b"".join(line + b"\n" for line in lines if line)
        mtime = max(lm, rm)
        if self.mode != "pull":
            self.R.write(job_id, rel, data, mtime, rf)
        if self.mode != "push":
            self.L.write(job_id, rel, data, mtime, lf)
        # one-way: the other side keeps its own lines, so the next two-way sync merges again
        return [len(data), mtime, mtime] if self.mode == "both" else bf

    def _file_conflict(self, job_id, rel, lf, rf, bf):
        winner = self._winner(job_id, None, (lf, rf))
        if self.keep_both and lf and rf and not (is_link(lf) or is_link(rf)):
            # local wins; the remote version is kept beside it on both sides
            copy = f"{rel}{layout.CONFLICT_COPY}{self.R.label}"
            do, _ = self._act("keep both", job_id, "both", rel)
            if do:
                data, mtime = self.R.read(job_id, rel)
                self.L.write(job_id, copy, data, mtime, self._ls[job_id]["files"].get(copy))
                self.R.write(job_id, copy, data, mtime, self._rs[job_id]["files"].get(copy))
            winner = "local"
        if winner == "keep":
            self._conflict(job_id, path=rel, local=_describe(lf), remote=_describe(rf))
            return bf
        src, dst, direction, state, basis = (self.L, self.R, "push", lf, rf) \
            if winner == "local" else (self.R, self.L, "pull", rf, lf)
        if state is None:  # the winner deleted it
            do, allowed = self._act("delete file", job_id,
                                    "pull" if direction == "push" else "push", rel)
            if do:
                dst.delete_file(job_id, rel, basis)
            return None if allowed else bf
        return self._copy(job_id, rel, src, dst, direction, state, bf, basis)

    def _winner(self, job_id, _side, states):
        if self.prefer in ("local", "remote"):
            return self.prefer
        if self.prefer == "newer" and states is not None:
            lf, rf = states
            lm = lf[1] if lf else -1
            rm = rf[1] if rf else -1
            return "local" if lm >= rm else "remote"
        if self.prefer == "newer":
            return "local"
        return "keep"

    # -- documents --------------------------------------------------------------------------
    def _doc(self, job_id, ldoc, rdoc, bdoc):
        for_local, for_remote, for_record, conflicts = merge(bdoc, ldoc, rdoc)
        if conflicts and self.prefer:
            prefer = self.prefer
            if prefer == "newer":
                prefer = "local" if self.L.doc_mtime(job_id) >= self.R.doc_mtime(job_id) \
                    else "remote"
            merged, _ = resolve(bdoc, ldoc, rdoc, prefer)
            for_local = for_remote = for_record = merged
            conflicts = []
        for key, lv, rv in conflicts:
            self._conflict(job_id, key=key, local=lv, remote=rv)
        # each side merges what was written to it meanwhile (see Replica.write_doc)
        if not same(for_local, ldoc):
            do, allowed = self._act("merge doc", job_id, "pull", "signac_job_document.json")
            if do and self.L.write_doc(job_id, for_local, ldoc) is not None:
                # changed here in the same keys: the far side is not written either, so the
                # next sync merges both from the old record
                return bdoc
            if not allowed:
                for_record = bdoc
        if not same(for_remote, rdoc):
            do, allowed = self._act("merge doc", job_id, "push", "signac_job_document.json")
            if do:
                self.R.write_doc(job_id, for_remote, rdoc)
                # if the far side refuses it (answered later), the record gets unsent()
                self._doc_merges[job_id] = (bdoc, rdoc, ldoc)
            if not allowed:
                for_record = bdoc
        return for_record

    def _project_doc(self, ldoc, rdoc, bdoc):
        for_local, for_remote, for_record, conflicts = merge(bdoc or {}, ldoc, rdoc)
        if conflicts and self.prefer in ("local", "remote"):
            for_local = for_remote = for_record = resolve(bdoc or {}, ldoc, rdoc, self.prefer)[0]
            conflicts = []
        for key, lv, rv in conflicts:
            self._conflict("(project)", key=key, local=lv, remote=rv)
        if not same(for_local, ldoc) and self._act("merge doc", "(project)", "pull")[0]:
            if self.L.write_project_doc(for_local, ldoc) is not None:
                return bdoc  # changed here meanwhile (see _doc)
        if not same(for_remote, rdoc) and self._act("merge doc", "(project)", "push")[0]:
            if self.R.write_project_doc(for_remote, rdoc) is not None:
                return unsent(bdoc or {}, rdoc, ldoc)
        return for_record


#: the most bytes of a job's small files sent with the job itself, in one frame (well below
#: protocol.MAX_PAYLOAD); the others follow it in chunks, like large files
JOB_BYTES = 256 << 20


def _with_job(files):
    """The names of the files (``{rel: [size, ...]}``) that travel with their job: the small
    ones, in name order, up to :data:`JOB_BYTES` in all (never links: they are made after)."""
    out, total = [], 0
    for rel in sorted(files):
        size = files[rel][0]
        if not _large(files[rel]) and not is_link(files[rel]) and total + size <= JOB_BYTES:
            out.append(rel)
            total += size
    return out


def _new_bytes(jobs, base, smallest):
    """The bytes of the files of at least ``smallest`` bytes that are new here (not in the
    record) in jobs the record has (so the far side has them): what the loop will push whole
    into existing jobs. Changed files go as deltas; new jobs go with their files."""
    total = 0
    for job_id, lj in jobs.items():
        b = base.get(job_id)
        if b is None:
            continue
        known = b.get("files", {})
        for rel, lf in lj["files"].items():
            if lf[0] >= smallest and rel not in known and not is_link(lf):
                total += lf[0]
    return total


def _large(state):
    """Whether a file of this [size, ...] travels in chunks (see replica.STREAM_MIN)."""
    return state[0] >= _replica.STREAM_MIN  # read each time: tests lower it


def _entry_changed(entry, old):
    # files hold ints only, so == is exact there; documents need strict equality (1 != 1.0)
    if entry is None or old is None:
        return entry is not old
    return entry["files"] != old.get("files") or not same(entry["doc"], old.get("doc", {}))


def _as_listed(present):
    """What a job deletion expects to find: the job as the snapshot listed it."""
    return {"files": present["files"], "doc": doc_digest(present["doc"])}


def _describe(state):
    return "(deleted)" if state is None else f"{state[0]} bytes, mtime {state[1] / 1e9:.0f}"


def _unchanged(state, base, side):
    """True if ``state`` [size, mtime] matches the record [size, mtime_local, mtime_remote]."""
    return base is not None and state[0] == base[0] and state[1] == base[side]


def _job_unchanged(present, b, side):
    index = 1 if side == "l" else 2
    files = b.get("files", {})
    if set(present["files"]) != set(files):
        return False
    if not all(_unchanged(present["files"][rel], files[rel], index) for rel in files):
        return False
    return same(present["doc"], b.get("doc", {}))


