"""Attribute access of the views (``job.sp.key``, ``job.doc.key``) without the exception
Python 3.11 makes and drops on each of them.

A class with a Python ``__getattr__`` is asked by Python's generic lookup first; when that
misses (every state point or document key does), Python 3.11 makes an ``AttributeError``
(its message formatted, its name and object set), drops it and calls ``__getattr__``: about
half of a label's ``job.sp.a`` (docs/benchmarks.md, session 13). :func:`install` replaces the
class's lookup with one in C (``suite._attrhook``) that asks the generic lookup not to raise;
:func:`getattr_python` is what it does, in Python (its reference in the tests).
"""

from . import native

_attrhook = native.load("suite._attrhook")


def getattr_python(obj, name):
    """``getattr(obj, name)`` for an object whose class has object's ``__getattribute__`` and
    a Python ``__getattr__``: the generic lookup, then, where it raises AttributeError,
    ``__getattr__``. Raises what either raises."""
    try:
        return object.__getattribute__(obj, name)
    except AttributeError:
        pass
    return type(obj).__getattr__(obj, name)


def install(cls):
    """Give ``cls`` (a Python class with object's ``__getattribute__`` and a Python
    ``__getattr__``) the C lookup where it was built; without it, nothing changes. It looks
    ``__getattr__`` up on the object's class at each miss, so subclasses and a later
    assignment of it answer as Python does (an assignment of ``__getattr__`` or
    ``__getattribute__`` to the class gives it Python's own lookup back). Raises TypeError
    for another kind of class."""
    if _attrhook is not None:
        _attrhook.install(cls)
