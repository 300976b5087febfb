"""The SLURM fixture stops munged, slurmctld and slurmd whatever ends it: closed at its yield
(an interrupt, a driver such as bench/bench_remote.py that stops early) as well as resumed."""

import time

from tests.conftest import run_slurm
from tests.watchdog import alive


def test_slurm_closed_at_its_yield_stops_its_daemons(tmp_path):
    gen = run_slurm(tmp_path)
    next(gen)  # skips (or fails under SUITE_REQUIRE_SERVICES=1) where SLURM is missing
    pids = [int((tmp_path / f).read_text().strip())
            for f in ("slurmd.pid", "slurmctld.pid", "munge/pid")]
    assert all(alive(p) for p in pids)
    gen.close()
    deadline = time.time() + 10  # killed with SIGKILL; init reaps them
    while any(alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(alive(p) for p in pids)
