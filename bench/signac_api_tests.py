"""Run signac 2.4.1's own tests of its public API against suite, and against signac itself.

    python bench/signac_api_tests.py [--sdist PATH] [--only suite|signac] [--json OUT] [-k EXPR]

The sdist (``/tmp/sdists/signac-2.4.1.tar.gz``, else ``pip download``-ed) is unpacked into a
temporary directory; nothing of signac is copied into this repository. Beside its tests go
a ``conftest.py`` (the one fixture the tests need that pytest lacks here: ``subtests``) and, for
the suite run, a shim package named ``signac`` that only re-exports suite's names under
signac's module names (``signac.job``, ``signac.project``, ...). The shim is first on
``PYTHONPATH``, so ``import signac`` in the tests (and in the subprocesses they start) is
suite. A few private helpers that signac's test modules import at their top (``_mkdir_p``,
``_find_all_links``, ``signac._config``) get plain stand-ins so the modules load; the tests of
those private parts are excluded below.

In scope: the tests of the documented public API (doc/api.rst). Out of scope (not run): the
CLI (test_shell, test_find_command_line_interface), private modules (test_searchindexer,
sync's proxies, the config module), signac's cache files and schema migrations.

Prints, per test file, how many tests pass on signac, on suite, and how many of signac's
passes also pass on suite; the last line is the share the brief's target (>= 90 %) is about.
"""

import argparse
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import textwrap
import xml.etree.ElementTree as ET

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SDIST = "/tmp/sdists/signac-2.4.1.tar.gz"

FILES = [
    "test_buffered_mode.py", "test_diff.py", "test_h5store.py", "test_h5store_manager.py",
    "test_job.py", "test_neighborlist.py", "test_numpy_integration.py",
    "test_pandas_integration.py", "test_project.py", "test_sync.py",
    "test_temporary_project.py",
]
# classes/tests of private modules, cache files, configuration and migrations
EXCLUDE = ("TestDocProxy or TestFileModifyProxy or TestCache or TestProjectSchema or "
           "TestSchemaMigration or TestConfig or test_config_modification")

CONFTEST = '''
import contextlib

import pytest


class _SubTests:
    """pytest-subtests' fixture, reduced to what signac's tests use."""

    @contextlib.contextmanager
    def test(self, msg=None, **kwargs):
        yield


@pytest.fixture
def subtests():
    return _SubTests()
'''

# The shim: module name -> source. Only re-exports and renames of suite's names.
SHIM = {
    "__init__": '''
        import suite as _suite
        from suite import *  # noqa: F401,F403
        from suite import __version__  # noqa: F401

        def __getattr__(name):
            return getattr(_suite, name)
        ''',
    "errors": '''
        from suite.errors import *  # noqa: F401,F403
        import suite.errors as _errors

        def __getattr__(name):
            return getattr(_errors, name)
        ''',
    "h5store": '''
        from suite.h5store import *  # noqa: F401,F403
        import suite.h5store as _h5store
        from suite.errors import *  # noqa: F401,F403

        def __getattr__(name):
            return getattr(_h5store, name)
        ''',
    "job": '''
        from suite.job import Job  # noqa: F401
        from suite.statepoint import calc_id  # noqa: F401
        ''',
    "project": '''
        from suite.project import *  # noqa: F401,F403
        from suite.project import Project  # noqa: F401
        from suite.cursor import JobsCursor  # noqa: F401
        import suite.project as _project

        def __getattr__(name):
            return getattr(_project, name)
        ''',
    "schema": '''
        from suite.schema import *  # noqa: F401,F403
        from suite.schema import ProjectSchema  # noqa: F401
        ''',
    "sync": '''
        import suite.signac_sync as _sync
        from suite.signac_sync import *  # noqa: F401,F403

        # private helpers signac's test module imports at its top; their tests are excluded
        _DocProxy = _FileModifyProxy = None

        def __getattr__(name):
            return getattr(_sync, name)
        ''',
    # test-support stand-ins for private helpers imported at the top of signac's test modules
    "_utility": '''
        import os


        def _mkdir_p(path):
            os.makedirs(path, exist_ok=True)
        ''',
    "linked_view": '''
        import os


        def _find_all_links(root, leaf="job"):
            """The view's leaf links, relative to ``root`` (what the tests compare)."""
            for dirpath, dirnames, filenames in os.walk(root):
                for name in dirnames + filenames:
                    full = os.path.join(dirpath, name)
                    if os.path.islink(full) and name == leaf:
                        yield os.path.relpath(dirpath, root)
        ''',
    "_config": '''
        PROJECT_CONFIG_FN = ".signac/config"


        def _load_config(path=None):
            """The tests' setUp reads the user configuration: none here."""
            if path is None:
                return {}
            import suite

            return suite.Project(path).config


        def _unsupported(*args, **kwargs):
            raise NotImplementedError("signac._config is private; not part of the shim")


        _get_project_config_fn = _read_config_file = _unsupported
        ''',
}


def get_sdist(path, dest, requirement="signac==2.4.1", name="signac-2.4.1.tar.gz"):
    """``path`` if it exists, else the sdist of ``requirement`` pip-downloaded into ``dest``
    (the run's temporary directory: removed with it, not left in /tmp by every run)."""
    if os.path.exists(path):
        return path
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                    ":all:", "-d", dest, requirement], check=True)
    return os.path.join(dest, name)


def unpack(sdist, root):
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if "/tests/" in m.name and m.isfile()]
        tar.extractall(root, members=members, filter="data")
    tests = os.path.join(root, "signac-2.4.1", "tests")
    with open(os.path.join(tests, "conftest.py"), "w") as f:
        f.write(CONFTEST)
    return tests


def write_shim(root):
    pkg = os.path.join(root, "shim", "signac")
    os.makedirs(pkg)
    for name, source in SHIM.items():
        with open(os.path.join(pkg, name + ".py"), "w") as f:
            f.write(textwrap.dedent(source).lstrip())
    return os.path.dirname(pkg)


def run(tests, mode, shim, kexpr, out_xml, files=FILES, exclude=EXCLUDE):
    """Run pytest on ``files`` in ``tests`` (``mode`` "suite": the shim and this checkout
    first on PYTHONPATH) and return :func:`parse` of its junit file."""
    env = dict(os.environ)
    path = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if mode == "suite":
        path = [shim, REPO] + path
    env["PYTHONPATH"] = os.pathsep.join(path)
    # tests that start `python ...`: this interpreter (and its packages) first on PATH
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    expr = " and ".join(f"({e})" for e in (exclude and f"not ({exclude})", kexpr) if e)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:randomly",
           "--timeout=300", *(["-k", expr] if expr else []), f"--junitxml={out_xml}", *files]
    subprocess.run(cmd, cwd=tests, env=env, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return parse(out_xml)


def parse(xml):
    """``{file: {test id: "pass"|"fail"|"skip"}}`` from a junit file."""
    out = {}
    for case in ET.parse(xml).iter("testcase"):
        module = case.get("classname", "").split(".")[0] + ".py"
        status = "pass"
        for child in case:
            if child.tag in ("failure", "error"):
                status = "fail"
            elif child.tag == "skipped":
                status = "skip"
        out.setdefault(module, {})[f"{case.get('classname')}::{case.get('name')}"] = status
    return out


def report(results, reference=("signac 2.4.1", "signac")):
    """Print the per-file table; ``reference``: (release, column name) of the tool the tests
    come from (its results are ``results["signac"]``)."""
    sig, sui = results.get("signac", {}), results.get("suite", {})
    files = sorted(set(sig) | set(sui))
    print(f"{'file':28} {'tests':>5} {reference[1]:>6} {'suite':>6} {'both':>6}")
    tot = [0, 0, 0, 0]
    for f in files:
        a, b = sig.get(f, {}), sui.get(f, {})
        ids = set(a) | set(b)
        ps = {i for i in ids if a.get(i) == "pass"}
        pu = {i for i in ids if b.get(i) == "pass"}
        row = [len(ids), len(ps), len(pu), len(ps & pu)]
        tot = [x + y for x, y in zip(tot, row, strict=True)]
        print(f"{f:28} {row[0]:5d} {row[1]:6d} {row[2]:6d} {row[3]:6d}")
    print(f"{'total':28} {tot[0]:5d} {tot[1]:6d} {tot[2]:6d} {tot[3]:6d}")
    if tot[1]:
        print(f"of the tests passing on {reference[0]}, {tot[3]}/{tot[1]} = "
              f"{100 * tot[3] / tot[1]:.1f} % pass on suite")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sdist", default=DEFAULT_SDIST)
    ap.add_argument("--only", choices=["suite", "signac"])
    ap.add_argument("-k", dest="kexpr", default=None, help="extra pytest -k expression")
    ap.add_argument("--json", help="write per-test results here")
    ap.add_argument("--load", help="take the signac results from this JSON instead of running")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="signac-api-tests-") as root:
        tests = unpack(get_sdist(args.sdist, root), root)
        shim = write_shim(root)
        results = {}
        if args.load:
            with open(args.load) as f:
                results.update({k: v for k, v in json.load(f).items() if k == "signac"})
        for mode in ("signac", "suite"):
            if args.only not in (None, mode) or mode in results:
                continue
            results[mode] = run(tests, mode, shim, args.kexpr, os.path.join(root, mode + ".xml"))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)
    report(results)


if __name__ == "__main__":
    main()
