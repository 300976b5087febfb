"""What the pages show, computed from the project's index: the overview (schema with counts)
and pages of the jobs table (search, sort, group).

State points are fixed by their job id, so the state points read once are kept for the life of
the server and only those of new jobs are read; a page of the table reads the documents of its
own rows only. A sort or grouping by a document key reads that key's values from the index's
key rows. Documents are checked for freshness by the index before each use that needs them:
told by a :class:`suite.dashboard.watch.Watcher` which changed, or by ``stat`` of each where it
cannot tell; while it can, orders that involve documents are kept like the others, until a
document changes.
"""

import json
import threading

from suite.query import MISSING, resolve

#: distinct values listed per schema key on the overview
VALUES_SHOWN = 30
#: columns chosen by default (varying state point keys, fewest distinct values first)
DEFAULT_COLUMNS = 8
#: sorted id lists kept (per filter, grouping and sort), so paging costs no new sort
ORDERS_KEPT = 8
#: document keys whose values (of every job) are kept while no document changes
VALUES_KEPT = 4
#: keys whose ranks (of every job) are kept: state point keys while the set of jobs is the
#: same, document keys while no document changes
RANKS_KEPT = 24
#: up to this many changed documents, kept values and orders are patched instead of read
#: and sorted anew
PATCH_MAX = 500


class ProjectData:
    """Pages' data of the project at ``path``, shared by the request threads.

    Everything that queries the index runs in one worker thread with one :class:`suite.Project`
    for the life of the server (:meth:`call`): an index connection belongs to the thread that
    opened it, and a threaded server starts a thread per request, so a project per request
    would open the index anew each time (on a read-only file system, rebuild it in memory).
    :attr:`project` is a per-thread project for what does not query the index (a job's files
    and document).

    ``watch``: whether the index is told of document changes by a
    :class:`suite.dashboard.watch.Watcher` once :meth:`start_watching` ran (or that Watcher);
    False: every check that needs documents ``stat``s all of them.

    Raises
    ------
    ProjectNotFoundError
        No project at or above ``path``."""

    def __init__(self, path, watch=True):
        import weakref
        from concurrent.futures import ThreadPoolExecutor

        from suite.project import get_project

        from .watch import Watcher

        self.path = path
        #: told of document changes once :meth:`start_watching` ran (``watch=False``: never;
        #: a Watcher: that one)
        self.watcher = watch if isinstance(watch, Watcher) else \
            Watcher(get_project(path).workspace, enabled=watch)
        weakref.finalize(self, self.watcher.close)
        self._local = threading.local()
        self._lock = threading.Lock()
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="suite-index")
        self._ids = ()
        self._version = 0  # counts changes of the set of jobs
        self._sps = {}
        self._counts = {}  # key -> {(type, value): jobs}, kept as jobs come and go
        self._overview = None
        # (version, filter, group, sort, descending) -> (document epoch or None, sorted ids)
        self._orders = {}
        self._values = {}  # document key -> (document epoch, {id: value})
        self._ranks = {}  # key -> (version or (version, epoch), ranks, distinct): _ranks_of
        self._positions = (None, {})  # (version, {id: position in the sorted ids})

    @property
    def project(self):
        """This thread's project (not for index queries: see :meth:`call`)."""
        proj = getattr(self._local, "project", None)
        if proj is None:
            from suite.project import get_project

            proj = self._local.project = get_project(self.path)
            if getattr(self._local, "worker", False):  # the one whose index is queried
                proj.index.watch = self.watcher
        return proj

    def start_watching(self):
        """Set the watches of the job directories up (in a background thread)."""
        self.watcher.start()

    def close(self):
        """Stop watching (the server's end)."""
        self.watcher.close()

    def call(self, fn, *args):
        """``fn(project, *args)`` run in the index thread; its result (or exception)."""
        if getattr(self._local, "worker", False):
            return fn(self.project, *args)
        return self._worker.submit(self._in_worker, fn, args).result()

    def _in_worker(self, fn, args):
        self._local.worker = True
        return fn(self.project, *args)

    def statepoints(self):
        """``(ids, {id: state point})`` of all jobs, sorted ids; known ones are not re-read."""
        return self.call(lambda _: self._snapshot()[1:])

    def _snapshot(self):
        ids = tuple(self.project.index.ids())
        with self._lock:
            if ids != self._ids:
                new = [i for i in ids if i not in self._sps]
                fresh = self.project.index.statepoints(
                    None if len(new) > len(self._sps) else new)
                gone = set(self._sps).difference(ids)
                for job_id in gone:
                    _count(self._sps.pop(job_id), "", self._counts, -1)
                for job_id, sp in fresh.items():
                    if job_id not in self._sps:
                        self._sps[job_id] = sp
                        _count(sp, "", self._counts, 1)
                self._ids, self._overview, self._orders = ids, None, {}
                self._version += 1
            return self._version, self._ids, self._sps

    def overview(self):
        """``{"count": n, "schema": [(key, [(value text, count, filter)], more, distinct,
        present)]}``:
        every state point key with its values (most frequent first, VALUES_SHOWN of them), how
        many more values, how many distinct values and how many jobs have the key."""
        return self.call(lambda _: self._overview_of(*self._snapshot()[:2]))

    def _overview_of(self, version, ids):
        with self._lock:
            if self._overview is not None and self._overview[0] == version:
                return self._overview[1]
            schema = []
            for key in sorted(self._counts):
                per_key = self._counts[key]
                top = sorted(per_key.items(), key=lambda kv: -kv[1])[:VALUES_SHOWN]
                # lists and dicts are counted by their JSON text already
                values = sorted(((v if kind in (list, dict) else _text(v), n)
                                 for (kind, v), n in top),
                                key=lambda kv: (-kv[1], kv[0]))
                # each value with the filter (JSON, so "1" and 1 stay apart) of its jobs
                values = [(t, n, "{" + _text(key) + ": " + t + "}") for t, n in values]
                schema.append((key, values, len(per_key) - VALUES_SHOWN, len(per_key),
                               sum(per_key.values())))
            result = {"count": len(ids), "schema": schema}
            self._overview = (version, result)
            return result

    def default_columns(self, snapshot=None):
        """State point keys that differ between jobs, fewest distinct values first."""
        if snapshot is None:
            return self.call(lambda _: self.default_columns(self._snapshot()))
        info = self._overview_of(*snapshot[:2])
        varying = [(distinct, key) for key, _, _, distinct, present in info["schema"]
                   if distinct > 1 or present < info["count"]]
        return [key for _, key in sorted(varying)[:DEFAULT_COLUMNS]]

    def jobs_page(self, filter=None, page=1, per_page=50, sort=None, descending=False,
                  columns=None, group=None):
        """One page of the jobs table.

        ``filter`` is a filter as ``suite find`` takes it (already parsed); ``sort`` and
        ``group`` are dotted state point keys or ``doc.`` keys; ``columns`` likewise (default:
        :meth:`default_columns`). Returns a dict with ``total``, ``pages``, ``page``,
        ``columns``, ``rows`` (``{"id", "group", "cells"}``) and ``keys`` (all state point keys). The order of the jobs is kept
        while the set of jobs is unchanged, unless documents take part (they change any time).

        Raises
        ------
        FilterError
            The filter is not valid.
        """
        return self.call(lambda _: self._jobs_page(filter, page, per_page, sort, descending,
                                                   columns, group))

    def _jobs_page(self, filter, page, per_page, sort, descending, columns, group):
        from suite.query import compile_filter, uses_document

        version, all_ids, sps = self._snapshot()
        order = [k for k in (group, sort) if k]
        tree = compile_filter(filter)
        documents = uses_document(tree) or any(k.startswith("doc.") for k in order)
        ids = self._order(filter, group, sort, descending, documents, version, all_ids, sps)
        columns = list(columns) if columns else self.default_columns((version, all_ids))
        total = len(ids)
        pages = max(1, -(-total // per_page))
        page = min(max(1, page), pages)
        shown = ids[(page - 1) * per_page: page * per_page]
        need_doc = any(c.startswith("doc.") for c in columns) or (group or "").startswith("doc.")
        rows = []
        for job_id in shown:
            doc = self._document(job_id) if need_doc else None
            sp = sps.get(job_id, {})
            cells = [_cell(_value(c, sp, doc or {})) for c in columns]
            rows.append({"id": job_id, "cells": cells,
                         "group": _cell(_value(group, sp, doc or {})) if group else None})
        keys = [entry[0] for entry in self._overview_of(version, all_ids)["schema"]]
        return {"total": total, "pages": pages, "page": page, "columns": columns, "rows": rows,
                "keys": keys}

    def _order(self, filter, group, sort, descending, documents, version, all_ids, sps):
        """The ids matching ``filter``, grouped and sorted; kept per filter and order while
        the set of jobs is the same and, where documents take part, patched with the few
        documents that changed (told by the watcher) instead of sorted anew."""
        index = self.project.index
        epoch = None
        if documents and self.watcher.active:
            # told which documents changed: cheap, and an unchanged epoch means no document
            # changed since an order was kept (without the watcher every check is new)
            index.refresh(documents=True)
            epoch = index.document_epoch
        keep = not documents or epoch is not None
        order = [k for k in (group, sort) if k]
        memo = (version, json.dumps(filter, sort_keys=True), group, sort, descending)
        kept = self._orders.get(memo) if keep else None
        if kept is not None and (not documents or kept[0] == epoch):
            return kept[1]
        ids = None
        if kept is not None:
            changed = index.document_changes_since(kept[0])
            if changed is not None and len(changed) <= PATCH_MAX:
                ids = self._patched(kept[1], changed, filter, order, sort, descending, sps,
                                    epoch, self._positions_of(version, all_ids))
        if ids is None:
            # jobs a filter cannot judge are named by the page (unreadable_note)
            ids = self.project.find_jobs(filter, skip_unreadable=True).ids() if filter else all_ids
            if order:
                ranked = [(self._ranks_of(key, version, all_ids, sps, epoch),
                           descending and key == sort) for key in order]
                positions = None if ids is all_ids else self._positions_of(version, all_ids)
                ids = _sorted(ids, all_ids, positions, ranked)
            else:
                ids = list(ids)
        if keep:
            # with the epoch at the start: changes found meanwhile are patched in next time
            with self._lock:
                if len(self._orders) >= ORDERS_KEPT and memo not in self._orders:
                    self._orders.pop(next(iter(self._orders)))
                self._orders[memo] = (epoch, ids)
        return ids

    def _ranks_of(self, key, version, all_ids, sps, epoch):
        """``(ranks, distinct)`` of ``key`` over ``all_ids`` (see :func:`_dense_ranks`),
        kept per set of jobs (state point keys) or while no document changes (document
        keys, when the watcher can tell)."""
        tag = version
        if key.startswith("doc."):
            tag = (version, epoch) if epoch is not None else None
        kept = self._ranks.get(key)
        if kept is not None and tag is not None and kept[0] == tag:
            return kept[1:]
        if key.startswith("doc."):
            get = self._doc_values(key[4:], epoch).get
            values = [get(i, MISSING) for i in all_ids]
        else:
            values = _column(all_ids, sps, tuple(key.split(".")))
        ranks, distinct = _dense_ranks(values)
        if tag is not None:
            with self._lock:
                self._ranks.pop(key, None)
                if len(self._ranks) >= RANKS_KEPT:
                    self._ranks.pop(next(iter(self._ranks)))
                self._ranks[key] = (tag, ranks, distinct)
        return ranks, distinct

    def _positions_of(self, version, all_ids):
        if self._positions[0] != version:
            self._positions = (version, {job_id: k for k, job_id in enumerate(all_ids)})
        return self._positions[1]

    def warm_orders(self):
        """Rank the jobs by each state point key now (the most varied last, up to
        RANKS_KEPT keys), so that the first sorted or grouped page does not sort."""
        info = self.overview()
        keys = [entry[0] for entry in sorted(info["schema"], key=lambda e: e[3])]
        for key in keys[:RANKS_KEPT - VALUES_KEPT]:
            # one key per call: pages asked for meanwhile wait for one key, not all
            self.call(lambda _, key=key: self._ranks_of(key, *self._snapshot(), None))
        self.call(lambda _: self._positions_of(*self._snapshot()[:2]))  # for filtered pages

    def warm_document_orders(self):
        """Rank the jobs by the document keys most jobs have (VALUES_KEPT of them), once the
        watcher can tell when documents change (else they would not be kept)."""
        keys = self.call(lambda proj: proj.index.document_keys())
        for key in sorted(keys, key=lambda k: (-keys[k], k))[:VALUES_KEPT]:
            self.call(lambda _, key=key: self._warm_document_key(key))

    def _warm_document_key(self, key):
        if not self.watcher.active:
            return
        version, all_ids, sps = self._snapshot()
        index = self.project.index
        index.refresh(documents=True)
        self._ranks_of("doc." + key, version, all_ids, sps, index.document_epoch)

    def _patched(self, ids, changed, filter, order, sort, descending, sps, epoch, positions):
        """``ids`` (an order :meth:`_order` kept) with the ``changed`` jobs taken out and
        those of the set of jobs (``positions``) that match ``filter`` now put back where
        their values place them."""
        import bisect

        matching = (set(self.project.find_jobs(filter, skip_unreadable=True).ids()) if filter
                    else None)
        values = {key: self._doc_values(key[4:], epoch) for key in order
                  if key.startswith("doc.")}
        place = _place(order, sort, descending, sps, values)
        ids = [i for i in ids if i not in changed]
        for job_id in changed:
            if job_id in positions and (matching is None or job_id in matching):
                bisect.insort(ids, job_id, key=place)
        return ids

    def _doc_values(self, key, epoch):
        """``{id: value}`` of a document key from the index, kept (a few keys) while the
        documents are unchanged (``epoch``; None: not known to be, so not kept)."""
        index = self.project.index
        kept = self._values.get(key)
        changed = None
        if epoch is not None and kept is not None:
            changed = index.document_changes_since(kept[0])
        if changed is not None and len(changed) <= PATCH_MAX:
            # a few documents changed: those are read, the rest kept
            values = kept[1]
            if changed:
                docs = index.documents(changed)
                bad = index.problems
                path = tuple(key.split("."))
                for job_id in changed:
                    value = resolve(docs[job_id], path) if job_id in docs else MISSING
                    if value is MISSING or job_id in bad:
                        values.pop(job_id, None)
                    else:
                        values[job_id] = value
        else:
            values = index.document_values(key)
        if epoch is not None:
            # changes found meanwhile (documents() checked again) come with the next page
            if len(self._values) >= VALUES_KEPT and key not in self._values:
                self._values.pop(next(iter(self._values)))
            self._values[key] = (epoch, values)
        return values

    def _document(self, job_id):
        from suite.errors import SuiteError

        try:
            return self.project.open_job(id=job_id).doc()
        except SuiteError:  # corrupt: the job page says why
            return {}


def _count(sp, prefix, counts, step):
    """Add ``step`` to the count of each (flattened) key's value of ``sp``. Values are told
    apart by type (1, 1.0 and true differ, as in queries); lists and dicts by their JSON."""
    for key, value in sp.items():
        kind = type(value)
        if kind is dict and value:
            _count(value, prefix + key + ".", counts, step)
            continue
        if kind is list or kind is dict:
            value = json.dumps(value, sort_keys=True)
        name = prefix + key
        per_key = counts.get(name)
        if per_key is None:
            per_key = counts[name] = {}
        n = per_key.get((kind, value), 0) + step
        if n:
            per_key[(kind, value)] = n
        else:
            del per_key[(kind, value)]
            if not per_key:
                del counts[name]


def _value(key, sp, doc):
    if key.startswith("doc."):
        return resolve(doc, tuple(key[4:].split(".")))
    return resolve(sp, tuple(key.split(".")))


#: order of types in a sorted column: null, booleans, numbers, strings, lists and dicts
_RANKS = {type(None): 0, bool: 1, int: 2, float: 2, str: 3}


def _rank(value):
    rank = _RANKS.get(type(value), 4)
    if rank == 0:
        return (0, 0)
    return (rank, value) if rank < 4 else (4, json.dumps(value, sort_keys=True))


def _dense_ranks(values):
    """``(ranks, distinct)``: for each value, its rank among the distinct values (0 the
    least: null, booleans, numbers, strings, then lists and dicts; equal values, 1 and 1.0
    too, share one), ``distinct`` (one past the largest) where a value is MISSING. An array,
    so that a key of 100,000 jobs takes 800 KB."""
    from array import array

    present = [k for k, v in enumerate(values) if v is not MISSING]
    kinds = set(map(type, values))
    kinds.discard(type(MISSING))
    if kinds <= {int, float} or kinds == {str}:
        keyed = [values[k] for k in present]  # one kind: compared directly
    else:
        rank = _rank
        keyed = [rank(values[k]) for k in present]
    ranks = array("q", [0]) * len(values)
    r, last = -1, None
    for j in sorted(range(len(present)), key=keyed.__getitem__):
        value = keyed[j]
        if r < 0 or value != last:
            r, last = r + 1, value
        ranks[present[j]] = r
    distinct = r + 1
    if len(present) < len(values):
        for k, v in enumerate(values):
            if v is MISSING:
                ranks[k] = distinct
    return ranks, distinct


def _sorted(ids, all_ids, positions, ranked):
    """``ids`` (sorted, from ``all_ids``: ``positions`` maps each id to its place there;
    None when ``ids`` is ``all_ids``) in
    the order of ``ranked``, ``[((ranks, distinct), descending)]`` of the group key then the
    sort key, as :func:`_dense_ranks` gives them: jobs without a key last either way, equal
    ones in id order. One sort by integers: no value is compared."""
    # a place in ``all_ids`` -> one integer of all keys' ranks (a descending key counts down)
    combined = None
    for (ranks, distinct), descending in ranked:
        if descending:
            ranks = [distinct - 1 - r if r < distinct else r for r in ranks]
        if combined is None:
            combined = ranks
        else:
            width = distinct + 1
            combined = [c * width + r for c, r in zip(combined, ranks, strict=True)]
    if ids is all_ids:
        places, extra = range(len(all_ids)), []
    else:
        get = positions.get
        places = [get(i) for i in ids]
        extra = [i for i, p in zip(ids, places, strict=True) if p is None]  # new meanwhile
        if extra:
            places = [p for p in places if p is not None]
    return [all_ids[p] for p in sorted(places, key=combined.__getitem__)] + extra


def _place(order, sort, descending, sps, doc_values):
    """A job's key in the order :func:`_sorted` makes: per key (group first) present before
    missing, then the value's rank (reversed for a descending ``sort``), then the id (the
    order of equal values)."""
    paths = [(key, tuple(key[4:].split(".")) if key.startswith("doc.")
              else tuple(key.split("."))) for key in order]

    def place(job_id):
        out = []
        for key, path in paths:
            if key in doc_values:
                value = doc_values[key].get(job_id, MISSING)
            else:
                value = resolve(sps.get(job_id, {}), path)
            if value is MISSING:
                out.append((1,))
            else:
                rank = _rank(value)
                out.append((0, _Reversed(rank) if descending and key == sort else rank))
        out.append(job_id)
        return out

    return place


class _Reversed:
    """A value that sorts the other way round."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __eq__(self, other):
        return self.value == other.value

    def __lt__(self, other):
        return other.value < self.value


def _column(ids, sps, path):
    """The values at ``path`` of the state points of ``ids`` (MISSING where there is none)."""
    empty = {}
    get = sps.get
    if len(path) == 1:  # the common cases, without resolve's walk per job
        name = path[0]
        return [get(i, empty).get(name, MISSING) for i in ids]
    if len(path) == 2:
        outer, name = path
        try:
            return [get(i, empty).get(outer, empty).get(name, MISSING) for i in ids]
        except AttributeError:  # somewhere not a dict: the general walk
            pass
    return [resolve(get(i, empty), path) for i in ids]


def _text(value):
    return json.dumps(value, sort_keys=True)


def _cell(value, limit=80):
    if value is MISSING:
        return ""
    text = value if isinstance(value, str) else _text(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
