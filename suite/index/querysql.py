"""A compiled filter tree (:func:`suite.query.compile_filter`) as SQL over the key rows
(:mod:`suite.index.keyrows`), selecting the ids of matching jobs. The Python evaluator in
:mod:`suite.query` defines the semantics; a hypothesis test checks this agrees with it."""

import functools
import math
import sqlite3
import threading

from ..errors import FilterError
from ..query import Pattern, is_number
from . import keyrows as kr

_ALL = "SELECT id FROM jobs"
_MAX_FLOAT = 1.7976931348623157e308
_SYMBOLS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}


def to_sql(node):
    """Translate a tree into ``(sql, params)`` selecting matching ids, or None if it cannot."""
    kind = node[0]
    if kind in ("and", "or"):
        return _junction_sql(kind, node[1])
    if kind == "not":
        inner = to_sql(node[1])
        if inner is None:
            return None
        return f"{_ALL} EXCEPT SELECT id FROM ({inner[0]})", inner[1]
    _, src, path, op, operand = node
    base = "SELECT id FROM kv WHERE src=? AND key=?"
    head = [0 if src == "sp" else 1, ".".join(path)]
    translate = _COMPARISONS.get(op)
    return None if translate is None else translate(base, head, op, operand)


def _junction_sql(kind, nodes):
    parts = [to_sql(n) for n in nodes]
    if any(p is None for p in parts):
        return None
    if not parts:
        return (_ALL, []) if kind == "and" else ("SELECT id FROM jobs WHERE 0", [])
    glue = " INTERSECT " if kind == "and" else " UNION "
    return (glue.join(f"SELECT id FROM ({p[0]})" for p in parts),
            [x for p in parts for x in p[1]])


def _exists_sql(base, head, op, operand):
    return (base, head) if operand else (f"{_ALL} EXCEPT {base}", head)


def _equality_sql(base, head, op, operand):
    values = operand if op in ("$in", "$nin") else [operand]
    conds, params = [], []
    for v in values:
        cond, more = _eq_condition(v)
        conds.append(cond)
        params.extend(more)
    where = " OR ".join(f"({c})" for c in conds) if conds else "0"
    sql = f"{base} AND ({where})"
    if op in ("$ne", "$nin"):  # jobs with the key, less those equal (no key: no match)
        return f"{base} EXCEPT {sql}", head + head + params
    return sql, head + params


def _range_sql(base, head, op, operand):
    sym = _SYMBOLS[op]
    if is_number(operand):
        return _number_range(base, head, sym, operand)
    return f"{base} AND t={kr.T_STR} AND txt {sym} ?", head + [operand]


def _regex_sql(base, head, op, operand):
    # "txt IS NOT NULL" (true of every string's row) lets SQLite use the partial kv_txt
    return (f"{base} AND t={kr.T_STR} AND txt IS NOT NULL AND regexp(?, ?, txt)",
            head + [operand.pattern, operand.where])


def _type_sql(base, head, op, operand):
    codes = ",".join(str(c) for c in kr.TYPE_CODES[operand])
    return f"{base} AND t IN ({codes})", head


def _near_sql(base, head, op, operand):
    ref, rel, absolute = operand
    # infinite values are close to no finite reference (math.isclose); NaN is stored NULL
    return (f"{base} AND t IN ({kr.T_INT},{kr.T_FLOAT},{kr.T_BIGINT}) AND abs(num) <= ? AND "
            "abs(num - ?) <= max(? * max(abs(num), abs(?)), ?)",
            head + [_MAX_FLOAT, ref, rel, ref, absolute])


_COMPARISONS = {"$exists": _exists_sql, "$eq": _equality_sql, "$ne": _equality_sql,
                "$in": _equality_sql, "$nin": _equality_sql, "$gt": _range_sql,
                "$gte": _range_sql, "$lt": _range_sql, "$lte": _range_sql,
                "$regex": _regex_sql, "$type": _type_sql, "$near": _near_sql}


def _eq_condition(v):
    if v is None:
        return f"t={kr.T_NULL}", []
    if isinstance(v, bool):
        return f"t={kr.T_BOOL} AND num=?", [int(v)]
    if is_number(v):
        return _number_equal(v)
    if isinstance(v, str):
        return f"t={kr.T_STR} AND txt=?", [v]
    code = kr.T_LIST if isinstance(v, list) else kr.T_DICT
    if _has_nan(v):
        return "0", []  # NaN equals nothing, so neither does a list holding one
    return f"t={code} AND txt=?", [kr.canonical(v)]


def _number_equal(v):
    if -kr.EXACT_INT <= v <= kr.EXACT_INT or (type(v) is float and not math.isfinite(v)):
        return f"t IN ({kr.T_INT},{kr.T_FLOAT}) AND num=?", [float(v)]  # NaN: NULL, no match
    # an integer (floats this large are integral) equals a float only if one holds it
    cond, params = f"t={kr.T_BIGINT} AND txt=?", [kr.sortable_int(int(v))]
    near = _float_near(v)
    if near == v:
        cond, params = f"({cond}) OR (t={kr.T_FLOAT} AND num=?)", params + [near]
    return cond, params


def _float_near(value):
    """The float nearest a number (infinite past the largest float)."""
    try:
        return float(value)
    except OverflowError:
        return math.inf if value > 0 else -math.inf


def _number_range(base, head, sym, operand):
    """``(sql, params)`` of the rows whose number compares as ``sym`` with ``operand``, exactly:
    floats and small integers by ``num``, against the float next to an operand no float holds;
    the other integers by their sortable text."""
    upward = sym[0] == ">"
    bound, float_sym = _float_near(operand), sym
    if bound != operand and bound == bound:  # not held by a float: the next one beyond it
        if (bound < operand) == upward:
            bound = math.nextafter(bound, math.inf if upward else -math.inf)
        float_sym = sym[0] + "="
    sql = f"{base} AND t IN ({kr.T_INT},{kr.T_FLOAT}) AND num {float_sym} ?"
    params = head + [bound]
    if operand != operand:  # NaN: compares with nothing
        return sql, params
    if isinstance(operand, float) and math.isinf(operand):
        text = kr.SORTABLE_HIGH if operand > 0 else kr.SORTABLE_LOW
    else:
        # integers beyond kr.EXACT_INT compare with a smaller operand as with 0
        text = kr.sortable_int(int(operand) if abs(operand) > kr.EXACT_INT else 0)
    limit = f"txt < '{kr.SORTABLE_HIGH}'" if upward else f"txt >= '{kr.SORTABLE_LOW}'"
    sql += f" UNION ALL {base} AND t={kr.T_BIGINT} AND txt {sym} ? AND {limit}"
    return sql, params + head + [text]


def _has_nan(v):
    if isinstance(v, float):
        return v != v
    if isinstance(v, list):
        return any(_has_nan(x) for x in v)
    if isinstance(v, dict):
        return any(_has_nan(x) for x in v.values())
    return False



@functools.lru_cache(maxsize=64)
def _pattern(pattern, where):
    return Pattern(pattern, where)


# an error raised inside an SQLite function reaches the caller only as "user-defined function
# raised exception": the real one waits here for execute
_failure = threading.local()


def register(db):
    """Make the SQL functions the translated filters use known to ``db``."""
    db.create_function("regexp", 3, _regexp, deterministic=True)


def _regexp(pattern, where, text):
    if text is None:
        return False
    try:
        return _pattern(pattern, where).search(text)
    except FilterError as exc:
        _failure.error = exc
        raise



def execute(db, sql, params):
    """``db.execute(sql, params).fetchall()``, raising a ``$regex`` error as itself."""
    _failure.error = None
    try:
        return db.execute(sql, params).fetchall()
    except sqlite3.OperationalError:
        error, _failure.error = _failure.error, None
        if error is not None:
            raise error from None
        raise
