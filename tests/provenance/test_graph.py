"""suite provenance: a job's executions and the files they wrote, across aggregates."""

import json
import os
import shutil
import xml.etree.ElementTree as ET

import pytest

from suite.flow import Runner, load_workflow
from suite.provenance.graph import job_graph

from .conftest import run_suite


@pytest.fixture
def ran(prov_project):
    r = Runner(load_workflow(prov_project), prov_project)
    r.run(["compute", "summarize"])
    return prov_project


def test_graph_json_holds_executions_files_and_aggregate_inputs(ran):
    first, third = ran.open_job({"x": 1}), ran.open_job({"x": 3})
    graph = job_graph(ran, first.id[:10])
    kinds = {}
    for n in graph["nodes"]:
        kinds.setdefault(n["kind"], []).append(n)
    assert sorted(n["operation"] for n in kinds["execution"]) == ["compute", "summarize"]
    assert {n["job"] for n in kinds["job"]} == {j.id for j in ran}  # the aggregate's inputs
    summary = next(n for n in kinds["file"] if n["path"] == "summary.json")
    with open(first.fn("summary.json"), "rb") as f:
        import hashlib
        assert summary["sha256"] == hashlib.sha256(f.read()).hexdigest()
    aggregate = next(n["id"] for n in kinds["execution"] if n["operation"] == "summarize")
    assert {"from": f"job:{third.id}", "to": aggregate, "kind": "input"} in graph["edges"]
    assert {"from": aggregate, "to": summary["id"], "kind": "wrote"} in graph["edges"]
    out = run_suite(ran, "provenance", first.id, "--format", "json")
    assert out.returncode == 0 and json.loads(out.stdout)["job"] == first.id


def test_graph_dot_and_svg(ran, tmp_path):
    job = ran.open_job({"x": 2})
    out = run_suite(ran, "provenance", job.id)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("digraph") and "summary.json" in out.stdout
    if shutil.which("dot") is None:
        pytest.skip("graphviz's dot is not installed (.ci/install installs it)")
    target = tmp_path / "graph.svg"
    out = run_suite(ran, "provenance", job.id, "--format", "svg", "-o", str(target))
    assert out.returncode == 0, out.stderr
    root = ET.parse(target).getroot()
    assert root.tag.endswith("svg")
    texts = {t.text for t in root.iter() if t.tag.endswith("text")}
    assert "compute" in texts and job.id[:8] + "/out.txt" in texts


def test_picture_without_dot_says_so(ran, tmp_path):
    bindir = tmp_path / "bin"  # a PATH with python and nothing of graphviz
    bindir.mkdir()
    for name in ("python", "python3"):
        real = shutil.which(name)
        if real:
            os.symlink(real, bindir / name)
    suite_bin = shutil.which("suite")
    os.symlink(suite_bin, bindir / "suite")
    job = ran.open_job({"x": 2})
    out = run_suite(ran, "provenance", job.id, "--format", "png",
                    env={"PATH": str(bindir)})
    assert out.returncode == 1
    assert "needs graphviz's dot, which is not installed" in out.stderr
    assert "Traceback" not in out.stderr
    missing = run_suite(ran, "provenance", "ffffffff")
    assert missing.returncode == 1 and "ffffffff" in missing.stderr
