"""State point validation and job ids.

The job id is the MD5 of ``json.dumps(sp, sort_keys=True)`` with default separators — the rule
signac 2 uses, so the same parameters give the same directory in both tools. ``{"a": 1}`` and
``{"a": 1.0}`` are different jobs because their JSON differs.
"""

import math

from .errors import InvalidKeyError, InvalidStatepointError, KeyTypeError, ValueTypeError

#: levels of objects and arrays a state point or document may have (the object itself is the
#: first); deeper values are refused when written and reported when read
MAX_DEPTH = 100


def calc_id(sp) -> str:
    """Return the job id of the (already validated, plain) state point ``sp``."""
    return canonical(sp)[1]


def canonical(sp):
    """``(text, job id)``: the sorted-key JSON the id is the MD5 of (also what a new job's
    state point file holds), and the id. ``sp`` is validated (:func:`to_plain`): nested
    less than :data:`MAX_DEPTH` levels, so free of cycles."""
    text = _sorted_json(sp).encode()
    return text, _md5(text).hexdigest()


def _sorted_json(sp):
    """``json.dumps(sp, sort_keys=True)`` by :func:`suite.jsonio.encoder`, made once (``dumps``
    makes an encoder per call: two thirds of the time for a small state point; an import of
    10,000 jobs checks 10,000 ids). No cycle check (``sp`` is validated)."""
    global _sorted_json
    from .jsonio import encoder  # jsonio imports this module

    _sorted_json = encoder(sort_keys=True, check_circular=False)
    return _sorted_json(sp)


def _md5(data):
    # hashlib is imported on first use: it loads OpenSSL, which `suite find` and iterating
    # jobs never need (3-7 ms of every start-up); then this name is hashlib's md5 itself
    global _md5
    from hashlib import md5

    _md5 = md5
    return md5(data)


def to_plain(value, where="state point", depth=0):
    """Return a plain JSON value (dict/list/str/int/float/bool/None) equal to ``value``.

    Tuples become lists, numpy scalars and arrays become Python numbers and lists. ``depth``
    is how many levels of objects or arrays hold ``value`` where it is stored. Raises
    :class:`InvalidStatepointError` for NaN and Infinity and for nesting past
    :data:`MAX_DEPTH` levels, its subclasses :class:`KeyTypeError` for keys that are not
    strings, :class:`InvalidKeyError` for keys that contain ``.`` or start with ``$``,
    :class:`ValueTypeError` for values JSON cannot hold (the last two are TypeErrors too, as
    in signac).
    """
    try:
        return _fast(value, MAX_DEPTH - depth)
    except _Slow:
        return _plain(value, where, (), depth)


class _Slow(Exception):
    """Raised by :func:`_fast` for anything it does not take: the full check decides."""


_SCALARS = (str, bool, type(None))


def _fast(value, room):
    # the common case (dicts, lists, str, int, finite float, bool, None) without building a
    # path for error messages; init of many jobs spends much of its time here. ``room``:
    # levels of nesting still allowed
    t = type(value)
    if t is dict:
        if room <= 0:
            raise _Slow
        out = {}
        for key, val in value.items():
            if type(key) is not str or "." in key or key.startswith("$"):
                raise _Slow
            tv = type(val)
            out[key] = val if tv in _SCALARS or tv is int else _fast(val, room - 1)
        return out
    if t in _SCALARS or t is int:
        return value
    if t is float:
        if value - value != 0.0:  # NaN or infinite
            raise _Slow
        return value
    if t is list:
        if room <= 0:
            raise _Slow
        return [_fast(v, room - 1) for v in value]
    raise _Slow


def _too_deep(where, path):
    at = _dotted(path[:4]) + (".…" if len(path) > 4 else "")  # one readable line
    return InvalidStatepointError(
        f"{where} value at {at or 'the top level'} is nested more than {MAX_DEPTH} "
        "levels deep; suite refuses deeper nesting (queries, diffs and sync would fail on it)")


def _plain(value, where, path, depth=0):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidStatepointError(
                f"{where} value {_dotted(path)} = {value!r}: NaN and Infinity are not JSON"
            )
        return float(value)
    if isinstance(value, (dict, list, tuple)) or _is_mapping(value):
        if depth + len(path) >= MAX_DEPTH:
            raise _too_deep(where, path)
    if isinstance(value, dict) or _is_mapping(value):
        out = {}
        for key, val in value.items():
            if not isinstance(key, str):
                raise KeyTypeError(
                    f"{where} key {key!r} at {_dotted(path) or 'top level'} is not a string"
                )
            if "." in key:
                raise InvalidKeyError(
                    f"{where} key {key!r} contains '.', which is reserved for nested keys"
                )
            if key.startswith("$"):
                raise InvalidKeyError(
                    f"{where} key {key!r} starts with '$', which is reserved for query operators"
                )
            out[key] = _plain(val, where, path + (key,), depth)
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(v, where, path + (str(i),), depth) for i, v in enumerate(value)]
    mod = type(value).__module__
    if mod == "numpy":
        if hasattr(value, "tolist"):
            return _plain(value.tolist(), where, path, depth)
    from .synced import is_view  # synced imports this module

    if is_view(value):
        return _plain(value(), where, path, depth)
    raise ValueTypeError(
        f"{where} value {_dotted(path) or ''} of type {type(value).__name__} "
        "cannot be stored as JSON"
    )


def _is_mapping(value):
    from collections.abc import Mapping

    return isinstance(value, Mapping)


def _dotted(path):
    return ".".join(path)


def nesting_depth(value, limit=MAX_DEPTH):
    """Levels of objects and arrays in ``value`` (a scalar has 0), counted up to ``limit + 1``:
    enough to tell whether it passes :data:`MAX_DEPTH`, without walking all of a deep value."""
    deepest = 0
    stack = [(value, 1)]
    while stack:
        node, level = stack.pop()
        if type(node) is dict:
            children = node.values()
        elif type(node) is list:
            children = node
        else:
            continue
        if level > deepest:
            deepest = level
            if deepest > limit:
                return deepest
        stack.extend((c, level + 1) for c in children if type(c) in (dict, list))
    return deepest


def validate_statepoint(sp):
    """Validate ``sp`` and return ``(plain_sp, job_id, canonical JSON bytes)``."""
    if not isinstance(sp, dict) and not _is_mapping(sp):
        raise InvalidStatepointError(
            f"a state point must be a mapping (JSON object), not {type(sp).__name__}"
        )
    plain = to_plain(sp)
    text, job_id = canonical(plain)
    return plain, job_id, text


def validate_owned(sp):
    """:func:`validate_statepoint` for a state point the caller owns outright (one just read by
    ``json.loads``, shared with no one): the same checks, errors and results, except that
    ``sp`` itself is returned when it is plain already, not a copy. In one C call
    (``suite._spcanon``) where built; :func:`canonical_python` is its reference."""
    done = _native_canonical(sp)
    if done is None:
        return validate_statepoint(sp)
    text, job_id = done
    return sp, job_id, text


def canonical_python(sp):
    """The reference of the native ``_spcanon.canonical``: None where ``sp`` is not a plain
    state point as :func:`to_plain` takes it without its full check (a dict of dicts, lists,
    strings, ints, finite floats, booleans and None, string keys without ``.`` and not
    starting with ``$``, at most :data:`MAX_DEPTH` levels), else :func:`canonical` of it
    (which raises what ``json.dumps`` raises, e.g. ValueError for an int of too many
    digits)."""
    if type(sp) is not dict:
        return None
    try:
        _fast(sp, MAX_DEPTH)
    except _Slow:
        return None
    return canonical(sp)


def _native_canonical(sp):
    # the native module is looked up on first use (most commands never validate in bulk);
    # then this name is its function, or the reference
    global _native_canonical
    from . import native

    module = native.load("suite._spcanon")
    _native_canonical = module.canonical if module is not None else canonical_python
    return _native_canonical(sp)


def texts(sps):
    """For each state point of the list ``sps``: ``json.dumps(sp)`` (its keys in their order,
    default separators) where it is plain as :func:`canonical_python` takes it, else None (the
    caller encodes that one itself). In one C call (``suite._spcanon.texts``) where built;
    :func:`texts_python` is its reference. Raises what ``json.dumps`` raises for a plain value
    (ValueError for an int of too many digits)."""
    return _native_texts(sps)


def texts_python(sps):
    """The reference of the native ``_spcanon.texts``: see :func:`texts`."""
    from .jsonio import encoder  # jsonio imports this module

    encode = encoder(check_circular=False)
    out = []
    for sp in sps:
        try:
            plain = type(sp) is dict and _fast(sp, MAX_DEPTH) is not None
        except _Slow:
            plain = False
        out.append(encode(sp) if plain else None)
    return out


def _native_texts(sps):
    # looked up on first use, as _native_canonical
    global _native_texts
    from . import native

    module = native.load("suite._spcanon")
    _native_texts = module.texts if module is not None else texts_python
    return _native_texts(sps)


def same(a, b):
    """Strict JSON equality: types must match (``1`` is not ``1.0``, ``True`` is not ``1``)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return a == b
