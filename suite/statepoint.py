"""State point validation and job ids.

The job id is the MD5 of ``json.dumps(sp, sort_keys=True)`` with default separators — the rule
signac 2 uses, so the same parameters give the same directory in both tools. ``{"a": 1}`` and
``{"a": 1.0}`` are different jobs because their JSON differs.
"""

import hashlib
import json
import math

from .errors import InvalidStatepointError


def calc_id(sp) -> str:
    """Return the job id of the (already validated, plain) state point ``sp``."""
    return hashlib.md5(json.dumps(sp, sort_keys=True).encode()).hexdigest()


def to_plain(value, where="state point"):
    """Return a plain JSON value (dict/list/str/int/float/bool/None) equal to ``value``.

    Tuples become lists, numpy scalars and arrays become Python numbers and lists. Raises
    :class:`InvalidStatepointError` for keys that are not strings, contain ``.`` or start with
    ``$``, for NaN and Infinity, and for values JSON cannot hold.
    """
    return _plain(value, where, ())


def _plain(value, where, path):
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
    if isinstance(value, dict) or _is_mapping(value):
        out = {}
        for key, val in value.items():
            if not isinstance(key, str):
                raise InvalidStatepointError(
                    f"{where} key {key!r} at {_dotted(path) or 'top level'} is not a string"
                )
            if "." in key:
                raise InvalidStatepointError(
                    f"{where} key {key!r} contains '.', which is reserved for nested keys"
                )
            if key.startswith("$"):
                raise InvalidStatepointError(
                    f"{where} key {key!r} starts with '$', which is reserved for query operators"
                )
            out[key] = _plain(val, where, path + (key,))
        return out
    if isinstance(value, (list, tuple)):
        return [_plain(v, where, path + (str(i),)) for i, v in enumerate(value)]
    mod = type(value).__module__
    if mod == "numpy":
        if hasattr(value, "tolist"):
            return _plain(value.tolist(), where, path)
    if getattr(value, "_suite_synced", False) and callable(value):
        return _plain(value(), where, path)
    raise InvalidStatepointError(
        f"{where} value {_dotted(path) or ''} of type {type(value).__name__} "
        "cannot be stored as JSON"
    )


def _is_mapping(value):
    from collections.abc import Mapping

    return isinstance(value, Mapping)


def _dotted(path):
    return ".".join(path)


def validate_statepoint(sp):
    """Validate ``sp`` and return ``(plain_sp, job_id)``."""
    if not isinstance(sp, dict) and not _is_mapping(sp):
        raise InvalidStatepointError(
            f"a state point must be a mapping (JSON object), not {type(sp).__name__}"
        )
    plain = to_plain(sp)
    return plain, calc_id(plain)
