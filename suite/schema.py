"""Detect the schema of state points: every dotted key and the values it takes, per type.

The schema has signac's shape: ``schema[key]`` is ``{python type: set of values}`` with lists as
tuples (type ``tuple``, so they can be set members), ``None`` as ``type(None)``.
"""

import pprint
from collections import defaultdict
from numbers import Number

_TYPE_NAMES = {bool: "bool", int: "int", float: "float", str: "str", tuple: "list",
               type(None): "null", dict: "dict"}


class ProjectSchema:
    """``{dotted key: {type: set of values}}`` of a set of state points.

    Schemas compare with ``==``; :meth:`difference` gives the keys (or key/value pairs) of one
    not in the other; :meth:`format` (also ``str()``) prints signac's layout.
    """

    def __init__(self, schema=None):
        self._schema = {k: dict(v) for k, v in (schema or {}).items()}

    def __getitem__(self, key):
        return self._schema[key]

    def __iter__(self):
        return iter(sorted(self._schema))

    def __len__(self):
        return len(self._schema)

    def __contains__(self, key):
        return key in self._schema

    def __eq__(self, other):
        return isinstance(other, ProjectSchema) and self._schema == other._schema

    __hash__ = None

    def keys(self):
        return sorted(self._schema)

    def values(self):
        return [self._schema[k] for k in sorted(self._schema)]

    def get(self, key, default=None):
        return self._schema.get(key, default)

    def items(self):
        return sorted(self._schema.items())

    def difference(self, other, ignore_values=False):
        """The keys of this schema not in ``other`` (a set of dotted keys); without
        ``ignore_values``, also keys whose values differ, as ``(key, (type, values))`` pairs
        of this schema's entries that ``other`` lacks."""
        mine, theirs = set(self._schema), set(other._schema)
        if ignore_values:
            return mine - theirs
        out = set(mine - theirs)
        for key in mine & theirs:
            for t, values in self._schema[key].items():
                if other._schema[key].get(t) != values:
                    out.add((key, (t, tuple(_sorted(values)))))
        return out

    def to_json(self):
        """A JSON-ready form: ``{key: {type name: sorted values}}`` (lists as lists)."""
        return {k: {_TYPE_NAMES.get(t, t.__name__): [_plain(v) for v in _sorted(vals)]
                    for t, vals in sorted(types.items(), key=lambda tv: tv[0].__name__)}
                for k, types in self.items()}

    def _ranges(self, precision=None, max_num_range=None):
        """``{key: 'type([v, v, ..., v], n), ...'}`` in signac's notation."""
        limit = 5 if max_num_range is None else max_num_range

        def fmt(x):
            if precision is not None and isinstance(x, Number) and not isinstance(x, bool):
                return str(round(x, precision))
            return str(x)

        def rng(t, values):
            vals = _sorted(values)
            if len(vals) <= limit:
                shown = ", ".join(fmt(v) for v in vals)
            else:
                shown = ", ".join(fmt(v) for v in vals[:limit - 2]) + ", ..., " + ", ".join(
                    fmt(v) for v in vals[-2:])
            return f"{t.__name__}([{shown}], {len(vals)})"

        return {key: ", ".join(rng(t, v) for t, v in sorted(
            types.items(), key=lambda tv: tv[0].__name__)) for key, types in self.items()}

    def format(self, depth=None, precision=None, max_num_range=None):
        """signac's text form: one ``'key': 'type([values], count)'`` line per key, or with
        ``depth`` a nested mapping printed down to that depth; ``precision`` rounds numbers,
        ``max_num_range`` (default 5) limits the values shown per type."""
        ranges = self._ranges(precision, max_num_range)
        if not depth:
            lines = "".join(f" {key!r}: {text!r},\n" for key, text in ranges.items())
            return "{\n" + lines + "}"
        from .diff import unflatten

        return pprint.pformat(unflatten(ranges), depth=depth)

    def format_lines(self):
        """``[(key, 'type([values], count)')]``: the readable listing of ``suite schema``."""
        return list(self._ranges().items())

    def __str__(self):
        return self.format()

    def __repr__(self):
        return f"{type(self).__name__}(<len={len(self)}>)"

    def _repr_html_(self):
        from .html import schema_html

        return schema_html(self)


def hashable(v):
    """``v`` as a set member: lists become tuples, dicts inside lists sorted item tuples."""
    if isinstance(v, list):
        return tuple(hashable(x) for x in v)
    if isinstance(v, dict):  # a dict inside a list
        return tuple(sorted((k, hashable(x)) for k, x in v.items()))
    return v


def _plain(v):
    if isinstance(v, tuple):
        return [_plain(x) for x in v]
    return v


def _sorted(values):
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=repr)


def _walk(sp, prefix, out, counts):
    for k, v in sp.items():
        name = prefix + k
        if isinstance(v, dict) and v:
            _walk(v, name + ".", out, counts)
            continue
        value = hashable(v) if not isinstance(v, dict) else ()
        out[name][type(value) if not isinstance(v, dict) else dict].add(value)
        counts[name] += 1


def schema_of(statepoints, exclude_const=False):
    """The :class:`ProjectSchema` of an iterable of state points (dicts)."""
    keys = defaultdict(lambda: defaultdict(set))
    counts = defaultdict(int)
    n = 0
    for sp in statepoints:
        n += 1
        _walk(sp, "", keys, counts)
    if exclude_const:
        # constant: one value, held by every state point
        keys = {k: t for k, t in keys.items()
                if not (counts[k] == n and sum(len(v) for v in t.values()) == 1)}
    return ProjectSchema({k: dict(t) for k, t in keys.items()})


def detect_schema(project_or_statepoints, exclude_const=False, subset=None):
    """Return the :class:`ProjectSchema` of a project (or of the jobs/ids in ``subset``), or of
    a list of state point dicts."""
    if isinstance(project_or_statepoints, (list, tuple)):
        return schema_of(project_or_statepoints, exclude_const)
    sps = project_or_statepoints.index.statepoints()
    if subset is not None:
        wanted = {getattr(j, "id", j) for j in subset}
        sps = {i: sp for i, sp in sps.items() if i in wanted}
    return schema_of(sps.values(), exclude_const)
