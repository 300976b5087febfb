"""Key rows: a state point or document flattened to one row per dotted key
``(id, src, key, t, num, txt)`` (src 0: state point, 1: document), made per key, and their
exact deletion.

A build stores no key rows: it counts the rows each key would have (the ``keys`` table:
``missing_keys``, ``document_keys``). A key's rows are made on its first query, from the texts
the jobs table holds (:func:`make_keys`), and marked made; from then on every write that
changes jobs or documents keeps the rows of every made key right, in its own transaction
(:func:`add_key_rows`, :func:`delete_key_rows`). Queries run on these rows
(:mod:`suite.index.querysql`); the covering indexes over them are made in
:mod:`suite.index.store`.
"""

import contextlib
import json
from collections import Counter

from .. import native
from ..jsonio import encoder
from ..process import gc_paused
from . import store

#: a document larger than this (bytes of its file) or with more flattened keys than
#: DOC_MAX_KEYS is not stored in the index: queries on document keys evaluate it in Python,
#: reading its file (a 200 MB document made a 630 MB index; a 1,000,000-key one, 8 s queries)
DOC_MAX_BYTES = 1 << 20
DOC_MAX_KEYS = 10_000
# T_INT: an integer a float holds exactly (|i| <= 2**53; num is exact); T_BIGINT: any other
# integer, its txt the sortable text of sortable_int (num a float near it, for $near)
T_NULL, T_BOOL, T_INT, T_FLOAT, T_STR, T_LIST, T_DICT, T_BIGINT = range(8)
TYPE_CODES = {"null": (T_NULL,), "bool": (T_BOOL,), "int": (T_INT, T_BIGINT),
              "float": (T_FLOAT,), "number": (T_INT, T_FLOAT, T_BIGINT), "str": (T_STR,),
              "list": (T_LIST,), "dict": (T_DICT,)}
#: integers up to this size are held exactly by a float
EXACT_INT = 2 ** 53


def canonical(value):
    """Canonical JSON of a list or dict (sorted keys, integral floats as integers), so that
    equal values by :func:`suite.query.equal` have equal text."""
    return _canonical_text(_canon(value))


# made once: json.dumps with options makes a new encoder per call (one or more values per
# job of an index build or a first sync)
_canonical_text = encoder(sort_keys=True, separators=(",", ":"))
# values _canon leaves as they are (exact types: a subclass takes the general path)
_KEPT = frozenset((str, int, bool, type(None)))


def _canon(v):
    if isinstance(v, float) and v.is_integer():
        return int(v)
    if isinstance(v, list):
        if all(type(x) in _KEPT for x in v):
            return v  # nothing to change: no copy
        return [_canon(x) for x in v]
    if isinstance(v, dict):
        if all(type(x) in _KEPT for x in v.values()):
            return v
        return {k: _canon(x) for k, x in v.items()}
    return v



def sortable_int(value):
    """Text of an integer that sorts (as bytes) in the order of the numbers: sign, number of
    digits, digits (a negative one's complemented), so ``$eq`` and ranges on integers beyond
    SQLite's 64 bits run on the text index, exactly."""
    digits = str(abs(value))
    if value < 0:
        return f"0{99999 - len(digits):05d}{digits.translate(_COMPLEMENT)}"
    return f"1{len(digits):05d}{digits}"


def int_of_sortable(text):
    """The integer of :func:`sortable_int`'s text."""
    if text[0] == "0":
        return -int(text[6:].translate(_COMPLEMENT))
    return int(text[6:])


_COMPLEMENT = str.maketrans("0123456789", "9876543210")
# every sortable_int text lies in [SORTABLE_LOW, SORTABLE_HIGH): the bounds of a range scan
SORTABLE_LOW, SORTABLE_HIGH = "0", "2"


def _bigint_row(job_id, src, name, value):
    try:
        num = float(value)
    except OverflowError:  # beyond the largest float: close ($near) to nothing
        num = None
    return (job_id, src, name, T_BIGINT, num, sortable_int(value))


def flatten(job_id, src, data, prefix, out):
    # exact types first (parsed JSON has no others): a third faster than isinstance chains
    append = out.append
    for key, value in data.items():
        name = prefix + key
        kind = type(value)
        if kind is str:
            append((job_id, src, name, T_STR, None, value))
        elif kind is int:
            if -EXACT_INT <= value <= EXACT_INT:
                append((job_id, src, name, T_INT, float(value), None))
            else:
                append(_bigint_row(job_id, src, name, value))
        elif kind is float:
            append((job_id, src, name, T_FLOAT, value, None))
        elif kind is bool:
            append((job_id, src, name, T_BOOL, int(value), None))
        elif value is None:
            append((job_id, src, name, T_NULL, None, None))
        elif kind is dict:
            append((job_id, src, name, T_DICT, None, canonical(value)))
            flatten(job_id, src, value, name + ".", out)
        elif kind is list:
            append((job_id, src, name, T_LIST, None, canonical(value)))
        else:
            _flatten_subclass(job_id, src, name, value, out)


def _flatten_subclass(job_id, src, name, value, out):
    """One key row of a value whose type is a subclass of a JSON type."""
    if isinstance(value, bool):
        out.append((job_id, src, name, T_BOOL, int(value), None))
    elif isinstance(value, int):
        if -EXACT_INT <= value <= EXACT_INT:
            out.append((job_id, src, name, T_INT, float(value), None))
        else:
            out.append(_bigint_row(job_id, src, name, int(value)))
    elif isinstance(value, float):
        out.append((job_id, src, name, T_FLOAT, value, None))
    elif isinstance(value, str):
        out.append((job_id, src, name, T_STR, None, value))
    elif isinstance(value, list):
        out.append((job_id, src, name, T_LIST, None, canonical(value)))
    elif isinstance(value, dict):
        out.append((job_id, src, name, T_DICT, None, canonical(value)))
        flatten(job_id, src, value, name + ".", out)


def key_names(data, prefix, out):
    """Append to ``out`` the key of each row :func:`flatten` makes of ``data``, in its order
    (a build counts them and makes no rows)."""
    for key, value in data.items():
        name = prefix + key
        out.append(name)
        if isinstance(value, dict):
            key_names(value, name + ".", out)


def names_capped(doc, text, out):
    """Append a document's row keys (:func:`key_names`) to ``out`` unless it passes the caps
    (then False, and nothing is appended)."""
    start = len(out)
    key_names(doc, "", out)
    # a nested value is stored once per level above it: bound the text as well (small files
    # cannot add up to much, so only larger ones are measured)
    if len(out) - start > DOC_MAX_KEYS or (len(text) > DOC_MAX_BYTES >> 6 and _text_size(doc)
                                           > 4 * DOC_MAX_BYTES):
        del out[start:]
        return False
    return True


def _text_size(doc):
    rows = []
    flatten("", 1, doc, "", rows)
    return sum(len(r[5]) for r in rows if r[5] is not None)


def counted(sp_names, doc_names):
    """``{(src, key): rows}`` of lists of state point and document row keys (marshal's)."""
    out = {(0, k): n for k, n in Counter(sp_names).items()}
    out.update(((1, k), n) for k, n in Counter(doc_names).items())
    return out


def join_counts(a, b):
    """Two results of :func:`counted` as one."""
    out = dict(a)
    for k, n in b.items():
        out[k] = out.get(k, 0) + n
    return out


def job_texts(rows):
    """``(id, src, text)`` of the state points and documents of job rows ``(id, sp_text,
    doc_text, ...)`` (a text None: unreadable or over the caps, no key rows)."""
    return [(r[0], 0, r[1]) for r in rows] + [(r[0], 1, r[2]) for r in rows]


def counts_of_texts(texts):
    """:func:`counted` of stored texts ``(id, src, text)``: None if one is not JSON as stored
    (the counts must then be made again: :func:`recount`)."""
    names = ([], [])
    for _, src, text in texts:
        if text is not None:
            try:
                key_names(json.loads(text), "", names[src])
            except (ValueError, RecursionError, AttributeError):
                return None
    return counted(*names)


def _rows_of_keys_python(texts, made):
    """The key rows of the keys ``made`` (a set of ``(src, key)``) that the stored texts
    ``(id, src, text)`` make: :func:`flatten`'s rows of the text, those of the keys asked.
    The reference of the C flattener (``suite.index._keyrows.rows_of_keys``)."""
    wanted = {0: set(), 1: set()}
    for src, key in made:
        wanted[src].add(key)
    out = []
    for job_id, src, text in texts:
        names = wanted[src]
        if text is None or not names:
            continue
        rows = []
        flatten(job_id, src, json.loads(text), "", rows)
        out += [r for r in rows if r[2] in names]
    return out


def _row_of_value(job_id, src, key, value_text):
    """The row of ``key`` holding the JSON ``value_text`` (for the C flattener: lists, dicts,
    escaped strings, long integers)."""
    rows = []
    flatten(job_id, src, {key: json.loads(value_text)}, "", rows)
    return rows[0]


def _rows_of_text(job_id, src, text, keys):
    """The reference's rows of one text (for the C flattener: what it leaves to Python)."""
    return _rows_of_keys_python([(job_id, src, text)], {(src, k) for k in keys or ()})


def _rows_of_keys_native(texts, made):
    keys = ([k for s, k in made if s == 0], [k for s, k in made if s == 1])
    return _native.rows_of_keys(texts, keys, _row_of_value, _rows_of_text)


_native = native.load("suite.index._keyrows")
#: the key rows of the keys ``made`` that the texts ``(id, src, text)`` make: in C where built
rows_of_keys = _rows_of_keys_python if _native is None else _rows_of_keys_native


def made_keys(db):
    """The ``(src, key)`` whose key rows the index holds."""
    return set(db.execute("SELECT src, key FROM made"))


def count_keys(db, counts, sign=1):
    """Add (``sign`` -1: take) ``counts`` ({(src, key): rows}) to the keys table; a key no
    row is left of is dropped from it."""
    db.executemany("INSERT INTO keys VALUES (?,?,?) ON CONFLICT (src, key) DO UPDATE "
                   "SET n = n + excluded.n", [(s, k, sign * n) for (s, k), n in counts.items()])
    if sign < 0:
        db.executemany("DELETE FROM keys WHERE src=? AND key=? AND n <= 0", list(counts))


def add_key_rows(db, counts, texts):
    """In a write transaction that adds jobs or replaces documents: count their key rows
    (``counts``, :func:`counted`) and insert the rows of the made keys, made from their stored
    ``texts`` ``(id, src, text)``."""
    count_keys(db, counts)
    made = made_keys(db)  # in the transaction: another process may have made one since
    if made:
        db.executemany("INSERT INTO kv VALUES (?,?,?,?,?,?)", rows_of_keys(texts, made))


def make_keys(db, wanted):
    """In a write transaction: make the key rows of the keys ``wanted`` (``(src, key)``) that
    are not made yet, from every stored text, and mark them made (a key no job has as well:
    a job that comes with it later gets its rows)."""
    todo = set(wanted) - made_keys(db)
    # no cyclic collection while every job's (id, src, text) is held: each walked them all
    # (a quarter of this function's CPU at 100,000 jobs); no user code runs here
    with gc_paused(), _sorting_cache(db):
        for src, column in ((0, "sp"), (1, "doc")):
            mine = {k for k in todo if k[0] == src}
            if mine:
                texts = [(i, src, t) for i, t in db.execute(
                    f"SELECT id, {column} FROM jobs WHERE {column} IS NOT NULL")]
                _insert_in_index_order(db, rows_of_keys(texts, mine))
    db.executemany("INSERT OR IGNORE INTO made VALUES (?,?)", sorted(todo))


#: SQLite's page caches (KiB, main and temp) while a key's rows are made: used only as
#: pages are touched. With the defaults (2 MiB) the temporary table of the rows and the
#: sort into the key indexes' order spilled to files in /var/tmp (on the disk, whatever the
#: project's): ~5 MB written and read back at 100,000 jobs, ten times that at a million
MAKE_CACHE_KIB = 256 * 1024


@contextlib.contextmanager
def _sorting_cache(db):
    before = [db.execute(f"PRAGMA {schema}.cache_size").fetchone()[0]
              for schema in ("main", "temp")]
    for schema in ("main", "temp"):
        db.execute(f"PRAGMA {schema}.cache_size={-MAKE_CACHE_KIB}")
    try:
        yield
    finally:
        for schema, size in zip(("main", "temp"), before, strict=True):
            db.execute(f"PRAGMA {schema}.cache_size={size}")


def _insert_in_index_order(db, rows):
    # in the key indexes' order (SQLite sorts, in a temporary table): appended to their
    # B-trees instead of inserted at random places (ids are hashes): a third to a half less
    # CPU for 100,000 rows of one key
    db.execute("CREATE TEMP TABLE IF NOT EXISTS made_rows "
               "(id TEXT, src INTEGER, key TEXT, t INTEGER, num REAL, txt TEXT)")
    # a row has a number or a text, rarely both or neither: bound without the other's None
    # (the sqlite3 module binds a None after failed adapter lookups, ~1.4 us each; the order
    # of the temporary table does not matter, it is sorted below)
    nums, txts, others = [], [], []
    for r in rows:
        if r[5] is None:
            (nums if r[4] is not None else others).append(r)
        elif r[4] is None:
            txts.append(r)
        else:
            others.append(r)
    db.executemany("INSERT INTO temp.made_rows (id, src, key, t, num) VALUES (?,?,?,?,?)",
                   [r[:5] for r in nums])
    db.executemany("INSERT INTO temp.made_rows (id, src, key, t, txt) VALUES (?,?,?,?,?)",
                   [(*r[:4], r[5]) for r in txts])
    db.executemany("INSERT INTO temp.made_rows VALUES (?,?,?,?,?,?)", others)
    db.execute("INSERT INTO kv SELECT * FROM temp.made_rows ORDER BY src, key, txt, num, t, id")
    db.execute("DELETE FROM temp.made_rows")


def make_every_key(db):
    """Make the key rows of every key the index counts (what a build made before index
    version 9; tests and benchmarks compare with it)."""
    make_keys(db, set(db.execute("SELECT src, key FROM keys")))


def recount(db):
    """Count every key's rows again from the stored texts (one was not JSON as stored)."""
    db.execute("DELETE FROM keys")
    names = ([], [])
    for sp, doc in db.execute("SELECT sp, doc FROM jobs"):
        for src, text in ((0, sp), (1, doc)):
            try:
                if text is not None:
                    key_names(json.loads(text), "", names[src])
            except (ValueError, RecursionError, AttributeError):
                continue
    count_keys(db, counted(*names))


#: up to this many old key rows are deleted one by one through the covering indexes; more
#: take one scan of kv (0.1 s at 100,000 jobs, whatever the number deleted)
EXACT_DELETE_MAX = 20000


def delete_key_rows(db, removed, changed, exact=True):
    """In a write transaction: take the key rows of the ``removed`` jobs and of the old
    documents of the ``changed`` ones out of the key counts, and delete those of the made keys
    (kv has no index on id: it would slow inserts). The rows to delete are made again from the
    texts the jobs table holds (they were made from them), so each is found by its exact key
    in a covering index; many (or ``exact`` false: the indexes are dropped) take one scan of kv
    instead. True if a text was not JSON as stored: the caller must :func:`recount` once its
    jobs table is as it will be committed."""
    texts = _old_texts(db, removed, changed)
    counts = counts_of_texts(texts)
    if counts is not None:
        count_keys(db, counts, -1)
    made = made_keys(db)
    if made:
        old = rows_of_keys(texts, made) if exact and counts is not None else None
        if old is not None and len(old) <= EXACT_DELETE_MAX:
            _delete_exact(db, old)
        else:
            _delete_by_scan(db, removed, changed)
    return counts is None


def _old_texts(db, removed, changed):
    """``(id, src, text)`` the jobs table holds of the removed jobs (state point and
    document) and of the changed documents."""
    texts = []
    for src, ids in ((0, removed), (1, changed)):
        for part in store.chunks(ids, 500):
            for job_id, sp_text, doc_text in db.execute(
                    f"SELECT id, sp, doc FROM jobs WHERE id IN ({','.join('?' * len(part))})",
                    part):
                if src == 0:
                    texts.append((job_id, 0, sp_text))
                texts.append((job_id, 1, doc_text))
    return texts


def _delete_exact(db, old):
    by_txt, by_num, by_null = [], [], []
    for job_id, src, key, t, num, txt in old:
        if txt is not None:
            by_txt.append((src, key, txt, t, job_id))
        elif num is not None and num == num:  # NaN is stored as NULL
            by_num.append((src, key, num, t, job_id))
        else:
            by_null.append((src, key, t, job_id))
    # every column of the covering index given: one lookup per row
    db.executemany("DELETE FROM kv WHERE src=? AND key=? AND txt=? AND t=? AND id=?", by_txt)
    db.executemany("DELETE FROM kv WHERE src=? AND key=? AND num=? AND t=? AND id=?", by_num)
    db.executemany("DELETE FROM kv WHERE src=? AND key=? AND num IS NULL AND t=? AND id=? "
                   "AND txt IS NULL", by_null)


def _delete_by_scan(db, removed, changed):
    db.execute("CREATE TEMP TABLE IF NOT EXISTS stale (id TEXT PRIMARY KEY, src INT)")
    db.execute("DELETE FROM temp.stale")
    db.executemany("INSERT OR REPLACE INTO temp.stale VALUES (?, 0)", [(i,) for i in removed])
    db.executemany("INSERT OR IGNORE INTO temp.stale VALUES (?, 1)", [(i,) for i in changed])
    db.execute("DELETE FROM kv WHERE id IN (SELECT id FROM temp.stale) AND "
               "src >= (SELECT src FROM temp.stale WHERE stale.id = kv.id)")
