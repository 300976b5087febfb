"""Records and what they keep by hash travel with the jobs: export/import round-trips them,
and a local sync (the same engine as over SSH) carries and merges them."""

import pytest

import suite
from suite.flow import Runner, load_workflow
from suite.provenance import records


def summary(proj):
    found = records(proj)
    return [(r.to_dict(), found.environment(r), found.code_diff(r)) for r in found]


@pytest.mark.parametrize("ending", [".tar.gz", ".zip"])
def test_export_import_round_trips_records_environment_and_diff(prov_project, tmp_path,
                                                                ending):
    Runner(load_workflow(prov_project), prov_project).run(["compute", "summarize"])
    before = summary(prov_project)
    assert before and all(env and diff for _, env, diff in before)
    archive = tmp_path / f"out{ending}"
    prov_project.export_to(str(archive))
    other = suite.init_project(tmp_path / "other")
    other.import_from(str(archive))
    assert summary(other) == before


def test_sync_carries_records_and_merges_logs_of_both_sides(prov_project, tmp_path):
    import sync

    r = Runner(load_workflow(prov_project), prov_project)
    r.run(["compute"])
    there = tmp_path / "there"
    sync.sync(prov_project, str(there), init=True)
    other = suite.get_project(str(there))
    assert summary(other) == summary(prov_project)
    job_id = prov_project.open_job({"x": 1}).id
    r.run(["noisy"], ids=[job_id])  # here
    Runner(load_workflow(prov_project), other).run(["jitter"], ids=[job_id])  # there
    sync.sync(prov_project, str(there))
    assert summary(other) == summary(prov_project)
    assert [x.operation for x in records(other, [job_id])] == ["compute", "noisy", "jitter"] \
        or [x.operation for x in records(other, [job_id])] == ["compute", "jitter", "noisy"]
