"""Run signac-flow 0.29.1's own tests of its public API against suite.flow, and against
signac-flow itself.

    python bench/flow_api_tests.py [--sdist PATH] [--support DIR] [--only suite|flow]
                                   [--json OUT] [--load JSON] [-k EXPR]

The tests come from signac-flow's sdist (``/tmp/sdists/signac_flow-0.29.1.tar.gz``, else
``pip download``-ed), unpacked into a temporary directory. The sdist leaves out the modules
those tests import beside them (``conftest.py``, ``define_*_project.py``, the status reference
data): ``--support`` names a signac-flow source tree (0.29.x) whose ``tests/`` holds them; they
are copied beside the sdist's tests, never into this repository. The test files themselves are
the sdist's.

For the suite run, shim packages named ``flow`` and ``signac`` go first on ``PYTHONPATH``: they
only re-export suite's names under signac-flow's and signac's module names (``flow.project``,
``flow.aggregates``, ...), with two renames of suite's own classes for the errors suite raises in
signac-flow's place (``FlowProjectDefinitionError`` is ``suite.FlowDefinitionError``,
``UserOperationError`` is ``suite.flow.OperationFailedError``). signac-flow's modules suite does
not provide (``flow.environment``, ``flow.scheduling``, the rest of ``flow.errors``, private
helpers of ``flow.util``) get plain stand-ins written here, so the test modules load; suite never
uses or raises them, so the tests that need them fail and are counted.

In scope (run): test_project.py (FlowProject, operations, conditions, groups, aggregates,
directives, hooks, status, run, submit with signac-flow's mock scheduler), test_aggregates.py
and test_status.py (status output against signac-flow's reference data). Out of scope (not run):
test_directives.py and test_util.py (private classes), test_environment.py and
test_templates.py (signac-flow's environments and their templates), test_shell.py (``flow
init``), test_template_filters.py (signac-flow's configuration).

Needs signac-flow's test dependencies: GitPython and deprecation (a virtual environment of your
own: ``python -m venv --system-site-packages``). Prints, per test file, how many tests pass on
signac-flow, on suite, and how many of signac-flow's passes also pass on suite.
"""

import argparse
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import textwrap

from signac_api_tests import SHIM as SIGNAC_SHIM
from signac_api_tests import get_sdist, report, run

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_SDIST = "/tmp/sdists/signac_flow-0.29.1.tar.gz"
DEFAULT_SUPPORT = os.environ.get("FLOW_TESTS_SUPPORT", "/work/.mirror/glotzerlab+signac-flow/repo")
FILES = ["test_project.py", "test_aggregates.py", "test_status.py"]

# The flow shim: module name -> source. Re-exports, the two renames above, and stand-ins.
FLOW_SHIM = {
    "__init__": '''
        import suite.flow as _flow
        from suite.flow import FlowProject, IgnoreConditions, aggregator, get_aggregate_id  # noqa

        __version__ = "0.29.1"


        def init(*args, **kwargs):
            """Stand-in for flow.init, imported at the top of signac-flow's test module."""
            return _flow.__getattr__("init")  # raises suite's error naming the alternative


        def __getattr__(name):
            return getattr(_flow, name)
        ''',
    "project": '''
        import suite.flow.project as _project
        from suite.flow import FlowProject, IgnoreConditions  # noqa: F401

        # private, imported at the top of signac-flow's test module: not in suite
        _AggregateStoresCursor = None


        def __getattr__(name):
            return getattr(_project, name)
        ''',
    "aggregates": '''
        import suite.flow.aggregates as _aggregates
        from suite.flow import aggregator, get_aggregate_id  # noqa: F401

        # private, imported at the top of signac-flow's test module: not in suite
        _AggregateStoresCursor = _JobAggregateCursor = None


        def __getattr__(name):
            return getattr(_aggregates, name)
        ''',
    "errors": '''
        from suite.errors import FlowDefinitionError as FlowProjectDefinitionError  # noqa
        from suite.errors import OperationFailedError as UserOperationError  # noqa: F401


        # signac-flow's other errors: suite raises none of them (stand-ins)
        class DirectivesError(ValueError):
            pass


        class SubmitError(RuntimeError):
            pass


        class ConfigKeyError(KeyError):
            pass


        class NoSchedulerError(AttributeError):
            pass


        class UserConditionError(RuntimeError):
            pass
        ''',
    # stand-ins: signac-flow's environments and schedulers, which suite does not have
    "environment": '''
        class ComputeEnvironment:
            """Stand-in: suite picks the scheduler itself and never uses this class."""

            scheduler_type = None
            template = "base_script.sh"

            @classmethod
            def is_present(cls):
                return False

            @classmethod
            def get_scheduler(cls):
                return cls.scheduler_type()
        ''',
    "scheduling/__init__": "",
    "scheduling/base": '''
        import enum


        class JobStatus(enum.IntEnum):
            """Stand-in for signac-flow's scheduler job status (suite never reads it)."""

            unknown = 1
            registered = 2
            inactive = 3
            submitted = 4
            held = 5
            queued = 6
            active = 7
            error = 8
            placeholder = 127
            user = 128


        class ClusterJob:
            def __init__(self, job_id, status=None):
                self._job_id = job_id
                self._status = status

            def _id(self):
                return self._job_id

            def status(self):
                return self._status


        class Scheduler:
            """Stand-in base class: suite submits through its own schedulers package."""
        ''',
    "scheduling/fake_scheduler": '''
        from .base import Scheduler


        class FakeScheduler(Scheduler):
            """Stand-in: the scheduler of signac-flow's status tests."""
        ''',
    "environments/__init__": "",
    "hooks/__init__": '''
        from suite.flow.hooks import TrackOperations  # noqa: F401
        ''',
    "util/__init__": "",
    "util/misc": '''
        import contextlib
        import os


        @contextlib.contextmanager
        def _add_path_to_environment_pythonpath(path):
            """The tests' helper: ``path`` first on PYTHONPATH inside the block."""
            old = os.environ.get("PYTHONPATH")
            os.environ["PYTHONPATH"] = path + (os.pathsep + old if old else "")
            try:
                yield
            finally:
                if old is None:
                    del os.environ["PYTHONPATH"]
                else:
                    os.environ["PYTHONPATH"] = old


        def _add_cwd_to_environment_pythonpath():
            return _add_path_to_environment_pythonpath(os.getcwd())


        @contextlib.contextmanager
        def _switch_to_directory(root=None):
            """The tests' helper: work in ``root`` inside the block."""
            if root is None:
                yield
                return
            old = os.getcwd()
            os.chdir(root)
            try:
                yield
            finally:
                os.chdir(old)
        ''',
}


def support_files(support, dest):
    """Copy the test-support modules of the signac-flow tree ``support`` (a work tree, or a
    bare git directory read at HEAD) that the sdist lacks into ``dest``."""
    have = set(os.listdir(dest))
    tests = os.path.join(support, "tests")
    if os.path.isdir(tests):
        for name in os.listdir(tests):
            if name not in have:
                shutil.copy(os.path.join(tests, name), dest)
        return
    listing = subprocess.run(["git", "--git-dir", support, "ls-tree", "--name-only", "HEAD",
                              "tests/"], capture_output=True, text=True, check=True).stdout
    for path in listing.split():
        name = os.path.basename(path)
        if name in have:
            continue
        blob = subprocess.run(["git", "--git-dir", support, "show", f"HEAD:{path}"],
                              capture_output=True, check=True).stdout
        with open(os.path.join(dest, name), "wb") as f:
            f.write(blob)


def unpack(sdist, support, root):
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if "/tests/" in m.name and m.isfile()]
        tar.extractall(root, members=members, filter="data")
    tests = os.path.join(root, "signac_flow-0.29.1", "tests")
    support_files(support, tests)
    return tests


def write_shim(root):
    shim = os.path.join(root, "shim")
    for package, modules in (("flow", FLOW_SHIM), ("signac", SIGNAC_SHIM)):
        for name, source in modules.items():
            path = os.path.join(shim, package, name + ".py")
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(textwrap.dedent(source).lstrip())
    return shim


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sdist", default=DEFAULT_SDIST)
    ap.add_argument("--support", default=DEFAULT_SUPPORT,
                    help="a signac-flow 0.29 source tree (or bare git directory) for tests/")
    ap.add_argument("--only", choices=["suite", "flow"])
    ap.add_argument("-k", dest="kexpr", default=None, help="extra pytest -k expression")
    ap.add_argument("--json", help="write per-test results here")
    ap.add_argument("--load", help="take the signac-flow results from this JSON")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="flow-api-tests-") as root:
        sdist = get_sdist(args.sdist, root, "signac-flow==0.29.1", "signac_flow-0.29.1.tar.gz")
        tests = unpack(sdist, args.support, root)
        shim = write_shim(root)
        results = {}
        if args.load:
            with open(args.load) as f:
                results.update({k: v for k, v in json.load(f).items() if k == "signac"})
        for mode, key in (("flow", "signac"), ("suite", "suite")):
            if args.only not in (None, mode) or key in results:
                continue
            results[key] = run(tests, mode, shim, args.kexpr, os.path.join(root, mode + ".xml"),
                               FILES, None)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)
    report(results, ("signac-flow 0.29.1", "flow"))


if __name__ == "__main__":
    main()
