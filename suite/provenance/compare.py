"""Differences between two records (code, environment, parameters, outputs), and between two
output files within a relative tolerance (JSON structurally, HDF5 dataset by dataset)."""

import json
import math

from suite.diff import flatten

from .logs import code_diff, environment

#: record fields compared as they are
PLAIN = ("operation", "status", "host", "user", "suite_version", "reason", "tags", "error")


def _pair(a, b):
    return None if a == b else [a, b]


def diff_records(project, a, b):
    """What differs between records ``a`` and ``b``: ``{"fields", "code", "environment",
    "parameters", "outputs"}``, each ``{name: [value in a, value in b]}`` for what differs
    (the environment also ``added``/``removed``/``changed`` packages). A blob that is missing
    (the job was copied without it) shows as None."""
    out = {"records": [a.id, b.id]}
    out["fields"] = {k: p for k in PLAIN if (p := _pair(getattr(a, k), getattr(b, k)))}
    code = {k: _pair(getattr(a, f), getattr(b, f)) for k, f in
            (("commit", "git_commit"), ("dirty", "git_dirty"), ("diff", "diff"))}
    code = {k: v for k, v in code.items() if v}
    if "diff" in code:
        code["diff_text"] = [code_diff(project, a), code_diff(project, b)]
    out["code"] = code
    out["environment"] = _diff_environments(environment(project, a) or {},
                                            environment(project, b) or {}) \
        if a.environment != b.environment else {}
    out["parameters"] = _diff_parameters(project, a, b)
    out["outputs"] = _diff_outputs(a, b)
    return out


def _diff_environments(ea, eb):
    out = {k: p for k in ("python", "implementation", "executable", "platform", "machine")
           if (p := _pair(ea.get(k), eb.get(k)))}
    pa, pb = ea.get("packages", {}), eb.get("packages", {})
    out["added"] = {n: pb[n] for n in sorted(set(pb) - set(pa))}
    out["removed"] = {n: pa[n] for n in sorted(set(pa) - set(pb))}
    out["changed"] = {n: [pa[n], pb[n]] for n in sorted(set(pa) & set(pb)) if pa[n] != pb[n]}
    return {k: v for k, v in out.items() if v}


def _statepoints(project, record):
    out = []
    for job_id in record.jobs:
        try:
            out.append(project.open_job(id=job_id).sp())
        except Exception:  # removed since: its parameters are unknown here
            out.append(None)
    return out


def _diff_parameters(project, a, b):
    if a.jobs == b.jobs:
        return {}
    spa, spb = _statepoints(project, a), _statepoints(project, b)
    if len(spa) == len(spb) == 1 and spa[0] is not None and spb[0] is not None:
        fa, fb = flatten(spa[0]), flatten(spb[0])
        return {k: [fa.get(k), fb.get(k)] for k in sorted(set(fa) | set(fb))
                if fa.get(k) != fb.get(k)}
    return {"jobs": [a.jobs, b.jobs]}


def _outputs(record):
    single = len(record.jobs) <= 1
    return {(f["path"] if single else f"{f['job']}/{f['path']}"):
            (None if f.get("removed") else f.get("sha256")) for f in record.files}


def _diff_outputs(a, b):
    oa, ob = _outputs(a), _outputs(b)
    return {k: [oa.get(k), ob.get(k)] for k in sorted(set(oa) | set(ob))
            if oa.get(k) != ob.get(k)}


def format_diff(d):
    """:func:`diff_records`'s result as text."""
    lines = [f"records {d['records'][0]} and {d['records'][1]}"]

    def section(title, items):
        if items:
            lines.append(f"{title}:")
            lines.extend(f"  {k}: {v[0]!r} -> {v[1]!r}" for k, v in items.items())

    section("fields", d["fields"])
    code = dict(d["code"])
    texts = code.pop("diff_text", None)
    section("code", code)
    if texts:
        for label, text in zip(("first", "second"), texts, strict=True):
            if text:
                lines.append(f"  diff of the {label} record's tree:")
                lines.extend("    " + t for t in text.splitlines())
    env = dict(d["environment"])
    added, removed, changed = (env.pop(k, {}) for k in ("added", "removed", "changed"))
    section("environment", env)
    if added or removed or changed:
        lines.append("packages:")
        lines.extend(f"  + {n} {v}" for n, v in added.items())
        lines.extend(f"  - {n} {v}" for n, v in removed.items())
        lines.extend(f"  ~ {n} {v[0]} -> {v[1]}" for n, v in changed.items())
    section("parameters", d["parameters"])
    section("outputs", d["outputs"])
    if len(lines) == 1:
        lines.append("no differences")
    return "\n".join(lines)


def compare_files(expected, actual, rtol=0.0):
    """Differences between the files ``expected`` and ``actual``: [] when their bytes are
    equal, or, for JSON files, their values equal within ``rtol``, or, for HDF5 files, their
    datasets equal within ``rtol``; else a list of what differs (keys, dataset names, or
    ``"content"``)."""
    with open(expected, "rb") as f, open(actual, "rb") as g:
        a, b = f.read(), g.read()
    if a == b:
        return []
    name = expected.lower()
    if name.endswith(".json"):
        try:
            return _diff_values(json.loads(a), json.loads(b), rtol, "")
        except ValueError:
            return ["content"]
    if name.endswith((".h5", ".hdf5")):
        return _diff_h5(expected, actual, rtol)
    return ["content"]


def _close(x, y, rtol):
    return math.isclose(x, y, rel_tol=rtol) or (math.isnan(x) and math.isnan(y))


def _diff_values(x, y, rtol, key):
    number = (int, float)
    if isinstance(x, dict) and isinstance(y, dict):
        out = []
        for k in sorted(set(x) | set(y)):
            sub = f"{key}.{k}" if key else str(k)
            if k not in x or k not in y:
                out.append(sub)
            else:
                out += _diff_values(x[k], y[k], rtol, sub)
        return out
    if isinstance(x, list) and isinstance(y, list):
        if len(x) != len(y):
            return [key or "(root)"]
        return [d for i, (p, q) in enumerate(zip(x, y, strict=True))
                for d in _diff_values(p, q, rtol, f"{key}[{i}]")]
    if isinstance(x, number) and isinstance(y, number) and not isinstance(x, bool) \
            and not isinstance(y, bool):
        return [] if _close(float(x), float(y), rtol) else [key or "(root)"]
    return [] if x == y else [key or "(root)"]


def _diff_h5(expected, actual, rtol):
    import h5py
    import numpy

    def items(path):
        found = {}
        with h5py.File(path, "r") as h5:
            h5.visititems(lambda name, obj: found.__setitem__(
                name, obj[()] if isinstance(obj, h5py.Dataset) else None))
        return found

    try:
        a, b = items(expected), items(actual)
    except OSError:
        return ["content"]
    out = []
    for name in sorted(set(a) | set(b)):
        if name not in a or name not in b:
            out.append(name)
            continue
        x, y = a[name], b[name]
        if x is None and y is None:
            continue
        x, y = numpy.asarray(x), numpy.asarray(y)
        if x.shape != y.shape:
            out.append(name)
        elif x.dtype.kind in "fciu" and y.dtype.kind in "fciu":
            if not numpy.allclose(x, y, rtol=rtol, atol=0, equal_nan=True):
                out.append(name)
        elif not numpy.array_equal(x, y):
            out.append(name)
    return out
