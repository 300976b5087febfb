"""Build of suite's optional C modules (everything else is in pyproject.toml).

Each module speeds up a per-file loop that has a pure-Python reference (suite/native.py);
``optional=True``: where no C compiler is found, suite installs without them.
After editing a C file in a checkout: ``python setup.py build_ext --inplace``.
"""

from setuptools import Extension, setup

# The static functions several modules share (suite/_c/*.h): listed as depends so that
# editing a header rebuilds the modules that include it.
HEADERS = {
    "suite._fsstat": ["dirread.h", "growbuf.h", "pyfs.h", "quietopen.h"],
    "archive._tarpack": ["ascii.h", "cleanname.h", "dirread.h", "growbuf.h", "jsonesc.h",
                         "membertable.h", "sha256.h", "quietopen.h"],
    "sync._listing": ["dirread.h", "quietopen.h"],
    "sync._compare": [],
    "sync._delta": [],
    "sync._landing": ["growbuf.h"],
    "sync._readfiles": ["pyfs.h"],
    "suite.index._readmany": ["quietopen.h"],
    "suite.provenance._capture": ["ascii.h", "dirread.h", "growbuf.h", "jsonesc.h", "pyfs.h",
                                  "quietopen.h", "sha256.h"],
    "suite._copyjson": [],
    "suite._spcanon": ["growbuf.h", "jsonesc.h", "md5.h"],
    "archive._importjobs": ["cleanname.h", "growbuf.h", "md5.h", "membertable.h"],
    "suite._slots": [],
    "suite._attrhook": [],
    "suite.index._keyrows": [],
}


def native(name):
    """The optional Extension for module name (its C file sits next to its Python module)."""
    return Extension(name, [name.replace(".", "/") + ".c"], optional=True,
                     include_dirs=["suite/_c"],
                     depends=["suite/_c/" + h for h in HEADERS[name]])


setup(ext_modules=[native(name) for name in HEADERS])
