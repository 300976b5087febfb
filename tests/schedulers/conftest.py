"""Grid Engine for the scheduler tests (SLURM's fixture, ``slurm``, is in tests/conftest.py:
tests/remote uses it too)."""

import os
import shutil
import subprocess

import pytest

from tests.conftest import skip_or_fail


@pytest.fixture(scope="session")
def sge(tmp_path_factory):
    """A real single-node Grid Engine (Debian's gridengine packages) in a cell of its own
    (``tests/schedulers/sge_cell.py``): qmaster and execd on free ports, one queue all.q with
    2 slots and a parallel environment smp; its clients first on PATH; stopped and removed at the end of the session."""
    from .sge_cell import Cell, CellError

    if not os.path.exists("/usr/sbin/sge_qmaster") or shutil.which("qsub") is None:
        skip_or_fail("Grid Engine is not installed (apt-get install gridengine-master "
                     "gridengine-exec gridengine-client)")
    if os.geteuid() != 0:
        skip_or_fail("starting Grid Engine's daemons needs root")
    if "1" not in (os.environ.get("SUITE_REQUIRE_SERVICES"), os.environ.get("SUITE_TEST_SGE")):
        # it starts daemons as root and adds a cell under /var/lib/gridengine for the session
        pytest.skip("set SUITE_TEST_SGE=1 to let the tests start a Grid Engine cell of their "
                    "own (CI does, through SUITE_REQUIRE_SERVICES=1)")
    cell = Cell()
    try:
        cell.create()
        cell.start(tmp_path_factory.mktemp("sge"))
    except (CellError, OSError, KeyError, subprocess.TimeoutExpired) as exc:
        cell.stop()
        skip_or_fail(f"cannot start a Grid Engine cell: {exc}")
    except BaseException:  # any other error or an interrupt: no daemon outlives the session
        cell.stop()
        raise
    keys = ("SGE_ROOT", "SGE_CELL", "SGE_QMASTER_PORT", "SGE_EXECD_PORT", "PATH")
    saved = {k: os.environ.get(k) for k in keys}
    os.environ.update({k: cell.env[k] for k in keys})
    try:
        yield cell.env
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        cell.stop()
