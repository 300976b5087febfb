"""Build of suite's optional C modules (everything else is in pyproject.toml).

Each module speeds up a per-file loop that has a pure-Python reference (suite/native.py);
``optional=True``: where no C compiler is found, suite installs without them.
After editing a C file in a checkout: ``python setup.py build_ext --inplace``.
"""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("suite._fsstat", ["suite/_fsstat.c"], optional=True),
    Extension("archive._tarpack", ["archive/_tarpack.c"], optional=True),
    Extension("sync._listing", ["sync/_listing.c"], optional=True),
    Extension("sync._compare", ["sync/_compare.c"], optional=True),
    Extension("sync._delta", ["sync/_delta.c"], optional=True),
    Extension("suite.index._readmany", ["suite/index/_readmany.c"], optional=True),
    Extension("suite.provenance._capture", ["suite/provenance/_capture.c"], optional=True),
])
