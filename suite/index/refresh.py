"""One refresh of the index, in steps: list the jobs that came or went (only if the workspace
changed), find the documents that changed, read the new jobs in chunks, and apply the rest in
one write transaction."""

import contextlib
import functools
import operator
import time

from ..process import gc_paused
from . import ahead, freshness, keyrows, reading
from .store import ODD, add_jobs, chunks, create_indexes, drop_indexes

#: new jobs read and inserted per transaction when the index is built (at least; see
#: _add_new_jobs)
ADD_CHUNK = 50000
ADD_CHUNK_MAX = 200000
#: more changes than this (and a fifth of the jobs) are a bulk change (_is_bulk)
BULK_MIN = 5000
#: SQLite's page cache during a bulk build (KiB; used only as pages are touched). It also
#: bounds the sorter's memory: at 256 MiB the key indexes of a million jobs (7 million rows)
#: spilled 0.9 GB to temporary files and took a fifth more CPU to sort
BULK_CACHE_KIB = 512 * 1024


class _Changes:
    """What a refresh found: the workspace's signature, the jobs that came or went (the
    retried ones that became readable among both), the documents to re-read."""

    def __init__(self, store, ws, documents, hint):
        self.stat, self.ws_sig = freshness.workspace_signature(ws)
        self.added, self.removed, self.listed_at = _jobs_came_and_went(store, ws, self.stat,
                                                                       self.ws_sig)
        self.docs = []
        if documents:
            self.docs = _changed_documents(store, ws, set(self.added), set(self.removed), hint)
        rows, self.retried = _retry_unreadable(store.db, ws, self.removed)
        self.fixed = {r[0] for r in rows if r[1] is not None}  # readable now: re-added
        self.fixed_rows = [r for r in rows if r[0] in self.fixed]
        # counted again from their texts: few
        self.fixed_counts = keyrows.counts_of_texts(keyrows.job_texts(self.fixed_rows)) or {}
        if self.fixed:
            self.removed = self.removed + sorted(self.fixed)
        self.none = not (self.added or self.removed or self.docs) and store.meta(
            "ws_sig") == self.ws_sig

    def trusted_signature(self):
        """The workspace signature to record: "racy" while a change in the same clock tick
        could hide behind it."""
        age = time.time() - self.stat.st_mtime_ns / 1e9 if self.stat is not None else 0
        return self.ws_sig if age > freshness.RACY_SECONDS else "racy"


def refresh(store, ws, documents, hint, on_progress=None):
    """Bring the index in ``store`` up to date with the workspace ``ws`` (and the documents
    if asked: checked by ``stat`` or, with a ``hint`` (ids), only those re-read).
    ``(whether jobs came or went, the ids of those and of the jobs whose document was
    re-read)``; ``on_progress(message)`` is called before long work."""
    store.connect()
    on_disk = not store.in_memory
    out = _refresh(store, ws, documents, hint, on_progress)
    if on_disk and store.in_memory:
        # the disk refused a write part-way: the memory index holds only what came after
        # (the jobs written to the disk before are not in it), so it is built whole
        store.fresh_memory()
        out = _refresh(store, ws, documents, None, on_progress)
    return out


def _refresh(store, ws, documents, hint, on_progress):
    db = store.db
    found = _Changes(store, ws, documents, hint)
    if found.none:
        return False, set()
    added, removed, docs = found.added, found.removed, found.docs
    if on_progress is not None and len(added) + len(docs) >= 5000:
        on_progress(f"indexing {len(added)} new jobs and {len(docs)} changed "
                    "documents (later queries only check what changed)")
    bulk = _is_bulk(db, len(added), len(added) + len(found.fixed) + len(docs))
    # an empty index on the disk is filled without a rollback journal: nothing to roll back
    # to, and the journal rewrote the id-ordered tables' pages at each transaction
    empty = bulk and not store.in_memory and not db.execute(
        "SELECT 1 FROM docsig LIMIT 1").fetchone()
    with store.unjournaled() if empty else contextlib.nullcontext():
        _fill(store, ws, found, bulk)
    return bool(added or removed), set(added).union(removed, docs)


def _fill(store, ws, found, bulk):
    """Write what a refresh found: the new jobs in parts, then the rest in one transaction
    (in a bulk change, with the key indexes dropped and made again at its end)."""
    db = store.db
    added, removed, docs = found.added, found.removed, found.docs
    if bulk:
        store.write(drop_indexes)
        # SQLite's default page cache (2 MiB) made the inserts into the id-ordered tables
        # (random ids) and the sorting of the key indexes go to the OS page by page
        db.execute(f"PRAGMA cache_size={-BULK_CACHE_KIB}")
        db.execute("PRAGMA threads=2")  # the key indexes' sort on two cores
    try:
        # no cyclic collection while the new jobs' rows are made and inserted (no cycles, no
        # user code): each collection walked every row held, more often the more jobs
        with gc_paused():
            _add_new_jobs(store, ws, added, found.listed_at)
        doc_rows, doc_counts = freshness.split_work(reading.prepare_docs, docs, ws,
                                                    reading.join_prepared)
        store.write(functools.partial(
            _apply, removed=removed, doc_rows=doc_rows, doc_counts=doc_counts,
            new_rows=found.fixed_rows, new_counts=found.fixed_counts, bulk=bulk,
            ws_sig=found.trusted_signature(),
            read=2 * (len(added) + len(found.retried)) + len(docs)))  # see files_read
    finally:
        if bulk:
            store.db.execute("PRAGMA cache_size=-2000")  # SQLite's defaults again
            store.db.execute("PRAGMA threads=0")


def _jobs_came_and_went(store, ws, st, ws_sig):
    """``(added, removed)`` ids, listed only if the workspace signature changed, and the
    :func:`listing_version` of the index's listing (None if not listed)."""
    if store.meta("ws_sig") == ws_sig:
        return [], [], None
    on_disk = freshness.list_job_inodes(ws) if st else {}
    # before the known ids are read: a commit by another process after it moves the version
    listed_at = listing_version(store.db)
    known = {r[0] for r in store.db.execute("SELECT id FROM jobs")}
    # new jobs are read in the order of their directories' inodes: on a cold cache that is
    # close to the order on the disk (ids are hashes: random places)
    added = sorted(on_disk.keys() - known, key=on_disk.__getitem__)
    return added, sorted(known - on_disk.keys()), listed_at


def _changed_documents(store, ws, added, removed, hint=None):
    db = store.db
    if hint is not None:
        # told which changed: re-read those the index holds (no stat; a new job's
        # document is read with it)
        known = []
        for part in chunks(sorted(hint - added - removed), 500):
            known += [i for (i,) in db.execute(
                f"SELECT id FROM docsig WHERE id IN ({','.join('?' * len(part))})", part)]
        return known
    return freshness.changed_documents(store, ws, removed)


def _retry_unreadable(db, ws, removed):
    """Jobs whose state point was unreadable (e.g. caught half-created by another tool) are
    read again every time until they can be indexed; they are few. ``(rows, ids)``, the rows
    as :func:`reading.prepare_jobs` gives them."""
    gone = set(removed)
    retry = [i for (i,) in db.execute(
        f"SELECT id FROM jobs WHERE {ODD} AND sp IS NULL")
        if i not in gone]
    rows, _ = reading.prepare_jobs(retry, ws)
    return rows, retry


def _is_bulk(db, added, work):
    """Many changes at once: rebuilding the key indexes afterwards beats updating them."""
    return work > BULK_MIN and work * 5 > added + db.execute(
        "SELECT count(*) FROM docsig").fetchone()[0]


def listing_version(db):
    """``(connection, PRAGMA data_version)``: tells whether another connection committed
    since (:func:`others_committed`)."""
    return db, db.execute("PRAGMA data_version").fetchone()[0]


def others_committed(db, since):
    """Whether a connection other than ``db`` may have committed since ``since`` (from
    :func:`listing_version`; a commit of ``db`` itself does not move its version)."""
    return since is None or since[0] is not db or listing_version(db)[1] != since[1]


def _insert_new(db, rows, counts, listed_at):
    # the jobs another process indexed meanwhile are left out; looking for them cost a
    # quarter of the inserts, so only when another connection committed since the listing
    add_jobs(db, rows, counts, check=others_committed(db, listed_at))


def _add_new_jobs(store, ws, added, listed_at):
    # new jobs are read in parts, a forked child ahead of the inserts (suite.index.ahead):
    # memory stays bounded (a million jobs held at once took 2 GB) and both cores work.
    # Each transaction takes ADD_CHUNK jobs or, up to ADD_CHUNK_MAX, as many as the index
    # holds: its rollback journal keeps the pages it changes of the id-ordered tables (random
    # ids: nearly all of them), so fixed chunks wrote the tables again and again (3.6 GB
    # written for a 1.5 GB index at a million). An interrupted build keeps the transactions
    # it finished; other processes wait for the lock one transaction at a time.
    held = store.db.execute("SELECT count(*) FROM docsig").fetchone()[0]
    parts = ahead.prepared(reading.prepare_jobs, added, ws)
    with contextlib.closing(parts):
        left = len(added)
        while left:
            size = max(ADD_CHUNK, min(held, ADD_CHUNK_MAX))
            done = []

            def fill(db, size=size, done=done):
                rows, counts = [], {}
                for part_rows, part_counts in parts:
                    rows += part_rows
                    counts = keyrows.join_counts(counts, part_counts)
                    if len(rows) >= size:
                        break
                # one insert in id order: the id-keyed B-trees (jobs' key, docsig) are filled
                # leaf after leaf instead of at random places (ids are hashes); the rows of
                # one transaction (up to ADD_CHUNK_MAX jobs' texts) are held meanwhile
                if rows:
                    rows.sort(key=operator.itemgetter(0))
                    _insert_new(db, rows, counts, listed_at)
                    done.append(len(rows))

            store.write(fill)
            if not done:
                break
            left -= sum(done)
            held += sum(done)


def _apply(db, removed, doc_rows, doc_counts, new_rows, new_counts, bulk, ws_sig, read):
    """The write transaction of a refresh: removed jobs out, changed documents replaced,
    retried jobs in, key indexes made again after a bulk change, the workspace signature
    and the count of files read recorded."""
    miscounted = False
    if removed or doc_rows:
        miscounted = _remove_old(db, removed, doc_rows, bulk)
    # a job whose state point is unreadable keeps that problem (a readable document
    # must not clear it from `problems`)
    db.executemany("UPDATE jobs SET doc=?, doc_sig=?, "
                   "bad=CASE WHEN sp IS NULL THEN bad ELSE ? END WHERE id=?",
                   [(text, sig, bad, i) for i, text, sig, bad in doc_rows])
    db.executemany("UPDATE docsig SET sig=? WHERE id=?",
                   [(sig, i) for i, _, sig, _ in doc_rows])
    keyrows.add_key_rows(db, doc_counts, [(r[0], 1, r[1]) for r in doc_rows])
    # a document text of None marks one over the caps (not stored, no key rows)
    db.executemany("INSERT OR REPLACE INTO bigdoc VALUES (?)",
                   [(r[0],) for r in doc_rows if r[1] is None])
    add_jobs(db, new_rows, new_counts, check=False)  # the retried: removed above
    if miscounted:
        keyrows.recount(db)
    if bulk:
        create_indexes(db)
    db.execute("INSERT OR REPLACE INTO meta VALUES ('ws_sig', ?)", (ws_sig,))
    db.execute("INSERT INTO meta VALUES ('files_read', ?) ON CONFLICT (key) DO UPDATE "
               "SET value = CAST(value AS INTEGER) + excluded.value", (read,))


def _remove_old(db, removed, doc_rows, bulk):
    """The removed jobs' rows and the changed documents' old key rows out; the caches
    that held them dropped in the same transaction. True if the key counts must be made
    again (:func:`keyrows.delete_key_rows`)."""
    # without its indexes (a bulk change), kv can only be scanned
    miscounted = keyrows.delete_key_rows(db, removed, [r[0] for r in doc_rows], exact=not bulk)
    db.executemany("DELETE FROM jobs WHERE id=?", [(i,) for i in removed])
    if removed:
        db.execute("DELETE FROM spcache")  # in the transaction that changes jobs
    db.execute("DELETE FROM sigcache")  # ... or document signatures
    db.executemany("DELETE FROM docsig WHERE id=?", [(i,) for i in removed])
    db.executemany("DELETE FROM bigdoc WHERE id=?",
                   [(i,) for i in removed] + [(r[0],) for r in doc_rows])
    return miscounted
