"""Key rows: a state point or document flattened to one row per dotted key
``(id, src, key, t, num, txt)`` (src 0: state point, 1: document), and their exact deletion.

Queries run on these rows (:mod:`suite.index.querysql`); the covering indexes over them are
made in :mod:`suite.index.store`.
"""

import json

from ..jsonio import encoder
from .store import chunks

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


def flatten_capped(job_id, doc, text, kv):
    """Append a document's key rows to ``kv`` unless it passes the caps (then False, and
    nothing is appended)."""
    start = len(kv)
    flatten(job_id, 1, doc, "", kv)
    # a nested value is stored once per level above it: bound the text as well (small files
    # cannot add up to much, so only larger ones are measured)
    if len(kv) - start > DOC_MAX_KEYS or (len(text) > DOC_MAX_BYTES >> 6 and sum(
            len(r[5]) for r in kv[start:] if r[5] is not None) > 4 * DOC_MAX_BYTES):
        del kv[start:]
        return False
    return True


#: up to this many old key rows are deleted one by one through the covering indexes; more
#: take one scan of kv (0.1 s at 100,000 jobs, whatever the number deleted)
EXACT_DELETE_MAX = 20000


def delete_key_rows(db, removed, changed, exact=True):
    """Delete the key rows of the ``removed`` jobs and of the old documents of the
    ``changed`` ones (kv has no index on id: it would slow inserts). The rows to delete are
    made again from the texts the jobs table holds (they were made from them), so each is
    found by its exact key in a covering index; many (or ``exact`` false: the indexes are
    dropped) take one scan of kv instead."""
    old = _old_rows(db, removed, changed) if exact else None
    if old is not None:
        _delete_exact(db, old)
    else:
        _delete_by_scan(db, removed, changed)


def _old_rows(db, removed, changed):
    """The key rows the jobs table's texts make for the removed jobs (state point and
    document) and the changed documents, or None past :data:`EXACT_DELETE_MAX` rows or if a
    text is not as it was stored."""
    old = []
    for src, ids in ((0, removed), (1, changed)):
        for part in chunks(ids, 500):
            for job_id, sp_text, doc_text in db.execute(
                    f"SELECT id, sp, doc FROM jobs WHERE id IN ({','.join('?' * len(part))})",
                    part):
                try:
                    if src == 0 and sp_text is not None:
                        flatten(job_id, 0, json.loads(sp_text), "", old)
                    if doc_text is not None:
                        flatten(job_id, 1, json.loads(doc_text), "", old)
                except (ValueError, RecursionError, AttributeError):  # not as it was stored
                    return None
                if len(old) > EXACT_DELETE_MAX:
                    return None
    return old


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
