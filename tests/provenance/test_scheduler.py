"""A record made under a real SLURM (the fixture of tests/schedulers) holds its job id and the
--reason/--tag given to submit."""

from suite.provenance import records
from tests.schedulers.live import wait_for

from .conftest import run_suite


def test_submitted_execution_records_slurm_job_id_reason_and_tags(slurm, prov_project):
    job = prov_project.open_job({"x": 1})
    out = run_suite(prov_project, "submit", "-o", "compute", "-j", job.id, "--scheduler",
                    "slurm", "--reason", "on the cluster", "--tag", "batch")
    assert out.returncode == 0, out.stderr
    sched_id = out.stdout.split(":")[1].split()[0]
    assert wait_for(lambda: len(records(prov_project)) == 1, timeout=120)
    rec = records(prov_project)[0]
    assert rec.status == "success" and rec.jobs == [job.id]
    assert rec.scheduler_job_id == sched_id
    assert rec.reason == "on the cluster" and rec.tags == ["batch"]
    assert {f["path"] for f in rec.files} >= {"out.txt", "result.json"}
