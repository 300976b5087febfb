"""The SLURM fixture stops munged, slurmctld and slurmd whatever ends it: closed at its yield
(an interrupt, a driver such as bench/bench_remote.py that stops early) as well as resumed."""

import time

from tests.conftest import run_slurm


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_slurm_closed_at_its_yield_stops_its_daemons(tmp_path):
    gen = run_slurm(tmp_path)
    next(gen)  # skips (or fails under SUITE_REQUIRE_SERVICES=1) where SLURM is missing
    pids = [int((tmp_path / f).read_text().strip())
            for f in ("slurmd.pid", "slurmctld.pid", "munge/pid")]
    assert all(_alive(p) for p in pids)
    gen.close()
    deadline = time.time() + 10  # killed with SIGKILL; init reaps them
    while any(_alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(_alive(p) for p in pids)
