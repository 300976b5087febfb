"""Optional native speedups: C modules built with suite where a C compiler is present.

Each function of a native module has a pure-Python reference that gives the same answers (the
tests compare the two); suite works without them, only slower. ``SUITE_PURE_PYTHON=1`` in the
environment makes :func:`load` return None, so the reference runs (for tests and
comparisons).
"""

import importlib
import os

#: the extension modules setup.py builds (each optional)
MODULES = (
    "suite._fsstat",
    "archive._tarpack",
    "sync._listing",
    "sync._compare",
    "sync._delta",
    "suite.index._readmany",
    "suite.provenance._capture",
)


def disabled():
    """True when ``SUITE_PURE_PYTHON`` asks for the pure-Python references."""
    return os.environ.get("SUITE_PURE_PYTHON", "") not in ("", "0")


def load(name):
    """The native module ``name`` (one of :data:`MODULES`), or None where it was not built,
    does not import, or :func:`disabled`. Never raises."""
    if disabled():
        return None
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def missing():
    """Names of :data:`MODULES` that do not import here (whatever :func:`disabled` says)."""
    out = []
    for name in MODULES:
        try:
            importlib.import_module(name)
        except ImportError:
            out.append(name)
    return out
