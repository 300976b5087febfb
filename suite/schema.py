"""Detect the schema of a project's state points: every dotted key and the values it takes."""

from collections import defaultdict

from .query import type_name


class ProjectSchema:
    """``{dotted key: {type name: set of values}}``; ``str()`` gives a readable listing."""

    def __init__(self, keys):
        self._keys = keys

    def __getitem__(self, key):
        return self._keys[key]

    def __iter__(self):
        return iter(sorted(self._keys))

    def __len__(self):
        return len(self._keys)

    def __contains__(self, key):
        return key in self._keys

    def items(self):
        return sorted(self._keys.items())

    def to_json(self):
        """A JSON-ready form: ``{key: {type: sorted values}}``."""
        return {k: {t: _sorted(vals) for t, vals in sorted(types.items())}
                for k, types in self.items()}

    def __str__(self):
        lines = []
        for key, types in self.items():
            parts = []
            for t, values in sorted(types.items()):
                vals = _sorted(values)
                shown = ", ".join(repr(v) for v in vals[:5])
                more = f", ... {len(vals) - 5} more" if len(vals) > 5 else ""
                parts.append(f"{t}([{shown}{more}], {len(vals)})")
            lines.append(f"{key}: {', '.join(parts)}")
        return "\n".join(lines)

    __repr__ = __str__


def _hashable(v):
    if isinstance(v, list):
        return tuple(_hashable(x) for x in v)
    return v


def _sorted(values):
    try:
        return sorted(values)
    except TypeError:
        return sorted(values, key=repr)


def _walk(sp, prefix, out):
    for k, v in sp.items():
        name = prefix + k
        if isinstance(v, dict) and v:
            _walk(v, name + ".", out)
        else:
            out[name][type_name(v) if not isinstance(v, dict) else "dict"].add(
                _hashable(v) if not isinstance(v, dict) else "{}"
            )


def detect_schema(project, exclude_const=False, subset=None):
    """Return the :class:`ProjectSchema` of ``project`` (or of the jobs/ids in ``subset``)."""
    sps = project.index.statepoints()
    if subset is not None:
        wanted = {getattr(j, "id", j) for j in subset}
        sps = {i: sp for i, sp in sps.items() if i in wanted}
    keys = defaultdict(lambda: defaultdict(set))
    for sp in sps.values():
        _walk(sp, "", keys)
    if exclude_const:
        n = len(sps)
        keys = {k: t for k, t in keys.items() if not _is_const(t, n, sps, k)}
    return ProjectSchema({k: dict(t) for k, t in keys.items()})


def _is_const(types, n, sps, key):
    if sum(len(v) for v in types.values()) != 1:
        return False
    # constant only if every job has the key
    from .query import MISSING, resolve

    path = tuple(key.split("."))
    return all(resolve(sp, path) is not MISSING for sp in sps.values())
