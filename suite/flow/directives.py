"""Directives of an operation, accepted as signac-flow accepts them and normalised for the
scheduler templates.

``walltime``: hours (a number) or a ``datetime.timedelta`` -> hours. ``memory``: GB (a
number) or a string with a ``g``/``gb``/``m``/``mb`` suffix -> GB. ``np``, ``ngpu``,
``nranks``, ``omp_num_threads``: non-negative integers; ``np`` defaults to ``nranks *
omp_num_threads`` (each at least 1) when either is given. ``executable`` (a path) and ``fork``
(a bool) say how a local run executes a Python operation. Any value may be a function of the
operation's jobs. Other keys pass through unchanged.
"""

import datetime

from suite.errors import SuiteError

INTEGER = ("np", "ngpu", "nranks", "omp_num_threads")


def evaluate(directives, jobs, where):
    """``directives`` with functions called on ``jobs`` and values normalised (see above).

    Raises :class:`~suite.errors.SuiteError` naming ``where`` (the operation) for a value
    that is not accepted."""
    out = {}
    for key, value in directives.items():
        if callable(value):
            value = value(*jobs)
        out[key] = normalise(key, value, where)
    if "np" not in out and ("nranks" in out or "omp_num_threads" in out):
        out["np"] = max(1, out.get("nranks") or 1) * max(1, out.get("omp_num_threads") or 1)
    return out


def normalise(key, value, where):
    """One directive's value in suite's units; raises SuiteError if it is not accepted."""
    if value is None:
        return None
    try:
        if key == "walltime":
            if isinstance(value, datetime.timedelta):
                return value.total_seconds() / 3600
            return _number(value)
        if key == "memory":
            return _memory(value)
        if key in INTEGER:
            if isinstance(value, bool) or int(value) != value or value < 0:
                raise ValueError
            return int(value)
        if key == "fork":
            if not isinstance(value, bool):
                raise ValueError
    except (TypeError, ValueError):
        raise SuiteError(f"{where}: directive {key}={value!r} is not accepted ({HELP[key]})") \
            from None
    return value


HELP = {
    "walltime": "hours as a number, or a datetime.timedelta",
    "memory": "GB as a number, or a string such as '4g', '4gb', '512m'",
    "np": "a non-negative integer", "ngpu": "a non-negative integer",
    "nranks": "a non-negative integer", "omp_num_threads": "a non-negative integer",
    "fork": "True or False",
}


def _number(value):
    if isinstance(value, bool):
        raise ValueError
    value = float(value)
    if value < 0:
        raise ValueError
    return value


def _memory(value):
    if isinstance(value, str):
        text = value.strip().lower().removesuffix("b")
        scale = {"g": 1.0, "m": 1 / 1024}.get(text[-1:], None)
        if scale is not None:
            return _number(text[:-1]) * scale
        return _number(text)
    return _number(value)
