"""signac 2 names suite does not provide, each with what to use instead.

``suite.X`` for a name listed here raises :class:`UnsupportedError` naming the alternative, so a
script written for signac fails at the first such line with a clear message rather than later.
docs/coming-from-signac.md lists the same names.
"""

from .errors import UnsupportedError

#: signac name -> what to use in suite
UNSUPPORTED = {
    "cite": "see the project's documentation for how to cite it",
    "Collection": "signac 1's Collection was removed in signac 2; use project.find_jobs()",
    "fetch": "signac 1's fetch was removed in signac 2; use project.open_job(id=...)",
    "index": "signac 1's index was removed in signac 2; suite keeps its own index "
             "(project.index, rebuilt automatically)",
}


def unsupported(name, alternative):
    """Raise :class:`UnsupportedError` for the signac name ``name``."""
    raise UnsupportedError(f"suite does not support signac's {name}: {alternative}")


def module_getattr(name):
    """``__getattr__`` of the suite package: listed signac names raise with their alternative."""
    if name in UNSUPPORTED:
        unsupported(name, UNSUPPORTED[name])
    raise AttributeError(f"module 'suite' has no attribute {name!r}")
