"""Neighbors of jobs: the jobs that differ from one job in the value of exactly one key.

For every key whose value varies across the project, the values are ordered (by type name,
then value, as signac does); a job's neighbors along that key are the jobs whose state point
equals its own except that the key holds the previous or the next value. Keys in ``ignore``
are left out of the comparison (they change together with others).
"""

import json
import warnings

from .diff import flatten
from .schema import hashable, schema_of


def _order(value):
    return type(value).__name__, value


def _sorted_values(types):
    values = [v for vals in types.values() for v in vals]
    try:
        return sorted(values, key=_order)
    except TypeError:
        return sorted(values, key=lambda v: (type(v).__name__, repr(v)))


def _plain(value):
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def _without(sp, dotted):
    """A copy of ``sp`` without the dotted key (parents stay)."""
    *parents, last = dotted.split(".")
    out = json.loads(json.dumps(sp))
    node = out
    for part in parents:
        node = node.get(part)
        if not isinstance(node, dict):
            return out
    node.pop(last, None)
    return out


def _with(sp, dotted, value):
    *parents, last = dotted.split(".")
    out = json.loads(json.dumps(sp))
    node = out
    for part in parents:
        node = node[part]
    node[last] = value
    return out


def _key(sp):
    return json.dumps(sp, sort_keys=True)


def get_neighbors(project, ignore=(), ids=None):
    """``{job id: {dotted key: {neighbor's value: neighbor's id}}}`` for the jobs ``ids``
    (default: all). A job lists only keys it has; a value with no job is left out.

    Warns (RuntimeWarning) for ignored keys no state point has; raises ValueError when ignoring
    the keys makes two jobs' state points identical.
    """
    ignore = [ignore] if isinstance(ignore, str) else list(ignore)
    sps = project.index.statepoints()
    full = schema_of(sps.values())
    missing = [k for k in ignore if k not in full]
    if missing:
        warnings.warn(f"ignored keys {missing} are not in any state point", RuntimeWarning,
                      stacklevel=3)
    # keys with a single value have no neighbors, even where only some jobs have them
    keys = [k for k in full if k not in ignore and sum(map(len, full[k].values())) > 1]
    reduced = {}
    table = {}
    for job_id, sp in sps.items():
        for key in ignore:
            sp = _without(sp, key)
        reduced[job_id] = sp
        text = _key(sp)
        if text in table:
            raise ValueError(f"ignoring {ignore!r} makes the state points of jobs {table[text]} "
                             f"and {job_id} identical; ignore fewer keys")
        table[text] = job_id
    orders = {k: _sorted_values(full[k]) for k in keys}
    result = {}
    for job_id in sps if ids is None else ids:
        sp = reduced[job_id]
        flat = flatten(sp)
        found = {}
        for key in keys:
            if key not in flat or flat[key] == {}:
                continue
            values = orders[key]
            mine = hashable(flat[key])
            pos = next(i for i, v in enumerate(values)
                       if type(v) is type(mine) and v == mine)
            found[key] = {}
            for other in (pos - 1, pos + 1):
                if 0 <= other < len(values):
                    neighbor = table.get(_key(_with(sp, key, _plain(values[other]))))
                    if neighbor is not None:
                        found[key][values[other]] = neighbor
        result[job_id] = found
    return result
