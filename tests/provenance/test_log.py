"""suite log: listing, filters, formats, the Python API, old and corrupt log lines, --diff."""

import csv
import io
import json

import pytest

import suite
from suite.flow import Runner, load_workflow
from suite.provenance import capture, find, records
from suite.provenance.compare import diff_records

from .conftest import run_suite


def runner(proj, reason=None, tags=()):
    r = Runner(load_workflow(proj), proj)
    r.capture.reason, r.capture.tags = reason, list(tags)
    return r


@pytest.fixture
def ran(prov_project):
    runner(prov_project, "baseline", ["calib"]).run(["compute"])
    runner(prov_project).run(["broken"], ids=[prov_project.open_job({"x": 2}).id])
    return prov_project


def test_log_lists_filters_and_formats(ran):
    job = ran.open_job({"x": 2})
    out = run_suite(ran, "log")
    assert out.returncode == 0, out.stderr
    assert len(out.stdout.splitlines()) == 4 and out.stdout.count("compute") == 3
    out = run_suite(ran, "log", "--failed")
    assert out.stdout.count("broken") == 1 and "compute" not in out.stdout
    out = run_suite(ran, "log", "-j", job.id[:6], "-o", "compute", "--json")
    data = json.loads(out.stdout)
    assert [(d["operation"], d["jobs"]) for d in data] == [("compute", [job.id])]
    out = run_suite(ran, "log", "--tag", "calib", "--csv")
    rows = list(csv.DictReader(io.StringIO(out.stdout)))
    assert len(rows) == 3 and {r["reason"] for r in rows} == {"baseline"}
    assert all("out.txt" in r["files"] for r in rows)
    assert run_suite(ran, "log", "--since", "2999-01-01").stdout == ""
    assert len(run_suite(ran, "log", "--since", "2000-01-01").stdout.splitlines()) == 4
    bad = run_suite(ran, "log", "--since", "yesterday-ish")
    assert bad.returncode == 1 and "is not a date" in bad.stderr and "Traceback" not in bad.stderr


def test_log_long_shows_code_environment_outputs_traceback(ran):
    out = run_suite(ran, "log", "--long")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert "Code          : " in text and "(dirty; diff " in text
    assert "packages" in text and "Python " in text
    assert "out.txt  1 B  sha256 " in text
    assert "raise ValueError" in text and "Reason        : baseline" in text


def test_python_api_objects_and_dataframe(ran):
    pandas = pytest.importorskip("pandas")
    found = records(ran, operation="compute")
    assert all(r.status == "success" and isinstance(r.duration, float) for r in found)
    assert found.environment(found[0])["packages"]["click"]
    assert "+# tuned" in found.code_diff(found[0])
    frame = found.to_dataframe()
    assert list(frame["operation"]) == ["compute"] * 3
    assert pandas.api.types.is_datetime64_any_dtype(frame["start"])
    assert find(ran, found[1].id[:10]).id == found[1].id
    with pytest.raises(suite.SuiteError, match="no record"):
        find(ran, "ffffffffff")


def test_old_records_and_a_corrupt_line(ran):
    job = ran.open_job({"x": 3})
    log = job.fn("suite_flow_log.jsonl")
    old = {"operation": "simulate", "start": 1.0e9, "end": 1.0e9 + 2, "duration": 2.0,
           "status": "success", "error": None, "git_commit": None, "host": "old",
           "suite_version": "0.0.1"}  # no id, no jobs: as suite wrote them before
    with open(log) as f:
        bad_line = len(f.readlines()) + 2
    with open(log, "a") as f:
        f.write(json.dumps(old) + "\n")
        f.write('{"operation": "cut off by a full disk", "sta\n')
        f.write(json.dumps({**old, "operation": "later", "start": 1.1e9}) + "\n")
    found = records(ran, [job.id])
    assert [r.operation for r in found] == ["simulate", "later", "compute"]
    assert found[0].jobs == [job.id] and found[0].id.startswith("v0") and found[0].tags == []
    assert found[0].environment is None and found.environment(found[0]) is None
    assert len(found.problems) == 1
    assert found.problems[0].startswith(f"{log}:{bad_line}: not a JSON record (")
    out = run_suite(ran, "log", "--long")
    assert out.returncode == 0 and "later" in out.stdout and "simulate" in out.stdout
    assert f"warning: {log}:{bad_line}: not a JSON record" in out.stderr
    # an old record can be named and compared
    assert find(ran, found[0].id[:8]).operation == "simulate"
    assert run_suite(ran, "log", "--diff", found[0].id, found[1].id).returncode == 0


def test_diff_shows_package_versions_parameters_and_outputs(prov_project, monkeypatch):
    job1, job2 = prov_project.open_job({"x": 1}), prov_project.open_job({"x": 2})
    runner(prov_project).run(["compute"], ids=[job1.id])
    real = capture.environment

    def upgraded():  # a second environment: one package newer, one gone, one new
        env = real()
        env["packages"]["click"] = "99.0"
        env["packages"].pop("jinja2")
        env["packages"]["newpkg"] = "1.2"
        return env

    monkeypatch.setattr(capture, "environment", upgraded)
    runner(prov_project, tags=["new-env"]).run(["compute"], ids=[job2.id])
    first, second = records(prov_project)
    assert first.environment != second.environment
    d = diff_records(prov_project, first, second)
    assert d["environment"]["changed"] == {"click": [real()["packages"]["click"], "99.0"]}
    assert list(d["environment"]["removed"]) == ["jinja2"]
    assert d["environment"]["added"] == {"newpkg": "1.2"}
    assert d["parameters"] == {"x": [1, 2]}
    assert set(d["outputs"]) == {"out.txt", "result.json", "signac_job_document.json"}
    assert d["fields"] == {"tags": [[], ["new-env"]]} and d["code"] == {}
    out = run_suite(prov_project, "log", "--diff", first.id[:8], second.id[:8])
    assert out.returncode == 0, out.stderr
    assert f"~ click {real()['packages']['click']} -> 99.0" in out.stdout
    assert "+ newpkg 1.2" in out.stdout and "- jinja2" in out.stdout
    assert "x: 1 -> 2" in out.stdout and "out.txt" in out.stdout
    same = run_suite(prov_project, "log", "--diff", first.id, first.id)
    assert "no differences" in same.stdout


def test_log_text_shows_control_characters_in_records_escaped(ran):
    # a record's fields come from a log that may have been synced or edited: printed to a
    # terminal they must not forge lines or send escape codes
    job = ran.open_job({"x": 2})
    rec = {"id": "f" * 32, "operation": "op\x1b[2J\nforged", "jobs": [job.id], "start": 1.0,
           "end": 2.0, "status": "fail\x9bed", "reason": "why\r", "error": "E\x07",
           "traceback": "line\x1b[31m\n"}
    with open(job.fn("suite_flow_log.jsonl"), "a") as f:
        f.write(json.dumps(rec) + "\n")
    for args in (("log",), ("log", "--long")):
        out = run_suite(ran, *args, "-o", rec["operation"])
        assert out.returncode == 0, out.stderr
        assert not any(c in out.stdout for c in "\x1b\x9b\x07\r"), repr(out.stdout)
        assert "op\\x1b[2J\\nforged" in out.stdout
        assert not any(ln.startswith("forged") for ln in out.stdout.splitlines())
    assert "fail\\x9bed" in out.stdout and "line\\x1b[31m" in out.stdout
