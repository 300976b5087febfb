"""suite status shows the last execution (record) per operation."""

import json

from suite.flow import Runner, load_workflow
from suite.provenance import records

from .conftest import run_suite


def test_status_shows_last_record_per_operation(prov_project):
    r = Runner(load_workflow(prov_project), prov_project)
    r.run(["compute"])
    r.run(["broken"], ids=[prov_project.open_job({"x": 3}).id])
    latest_compute = max(records(prov_project, operation="compute"), key=lambda x: x.start)
    broken = records(prov_project, operation="broken")[0]
    out = run_suite(prov_project, "status")
    assert out.returncode == 0, out.stderr
    text = out.stdout.split("last execution per operation:")[1]
    lines = {line.split()[0]: line for line in text.strip().splitlines()}
    assert set(lines) == {"compute", "broken"}
    assert "success" in lines["compute"] and latest_compute.id[:12] in lines["compute"]
    assert "failure" in lines["broken"] and broken.id[:12] in lines["broken"]
    assert f"job {broken.jobs[0][:8]}" in lines["broken"]
    data = json.loads(run_suite(prov_project, "status", "--json").stdout)
    assert data["last"]["broken"]["id"] == broken.id
    assert data["last"]["compute"]["status"] == "success"
    assert "last execution" not in run_suite(prov_project, "status", "--no-last").stdout
    assert r.status().last == {}  # the Python API reads logs only when asked
    assert r.status(last=True).last["broken"]["jobs"] == broken.jobs


def test_last_records_beyond_the_automatic_limit(prov_project, monkeypatch):
    from suite.flow import engine

    r = Runner(load_workflow(prov_project), prov_project)
    r.run(["compute"])
    monkeypatch.setattr(engine, "LAST_AUTO", 2)  # 3 jobs: more than that
    assert r.status(last=None).last == {}
    assert r.status(last=True).last["compute"]["status"] == "success"
    monkeypatch.setattr(engine, "LAST_AUTO", 3)
    assert r.status(last=None).last["compute"]["status"] == "success"
