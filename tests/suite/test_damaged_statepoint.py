"""A job whose state point file is damaged is iterated, as signac 2.4.1 iterates it: reading
its state point raises JobsCorruptedError naming the job and the file (suite left it out of
iteration while ``len(project)`` counted it: a script silently got fewer jobs). The same
with suite's C parts and without them (``SUITE_PURE_PYTHON=1``)."""

import json
import os
import subprocess
import sys

import pytest

import suite

DAMAGES = {"truncated": '{"i": ', "empty": "", "not JSON": "i = 1\n",
           "not an object": "[1]\n"}

#: what a script sees: the jobs iterated, and for each its state point or error
SCRIPT = '''
import json, sys
import suite
p = suite.get_project(sys.argv[1])
out = {"len": len(p), "cursor len": len(p.find_jobs()), "ids": sorted(p.find_jobs().ids()),
       "jobs": []}
for job in p:
    try:
        out["jobs"].append([job.id, dict(job.sp)])
    except suite.JobsCorruptedError as exc:
        assert isinstance(exc, suite.errors.SuiteError) and isinstance(exc, RuntimeError)
        out["jobs"].append([job.id, "JobsCorruptedError", exc.job_ids, str(exc)])
print(json.dumps(out))
'''


def _damaged(project):
    ids = [project.open_job({"i": i}).init().id for i in range(4)]
    bad = project.open_job({"i": 2}).id
    return ids, bad


def _run(path, pure):
    env = {**os.environ, "SUITE_PURE_PYTHON": "1"} if pure else dict(os.environ)
    env.pop("SUITE_PURE_PYTHON", None) if not pure else None
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], capture_output=True,
                         text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize("damage", sorted(DAMAGES))
@pytest.mark.parametrize("indexed_first", [False, True])
def test_a_damaged_statepoint_is_iterated_and_raises_when_read(project, damage,
                                                               indexed_first):
    ids, bad = _damaged(project)
    if indexed_first:  # the index knew the job readable before the damage
        assert len(list(project)) == 4
    sp_file = os.path.join(project.workspace, bad, "signac_statepoint.json")
    with open(sp_file + ".new", "w") as f:
        f.write(DAMAGES[damage])
    os.replace(sp_file + ".new", sp_file)
    seen = [_run(project.path, pure) for pure in (False, True)]
    assert seen[0] == seen[1]  # C and pure Python alike
    out = seen[0]
    assert out["len"] == out["cursor len"] == 4 and out["ids"] == sorted(ids)
    assert [j[0] for j in out["jobs"]] == sorted(ids)  # in id order, the damaged one too
    for entry in out["jobs"]:
        if entry[0] == bad and indexed_first:
            # suite's index read it before: its state point (which hashes to the id) is
            # known, and the job is iterated with it (docs/coming-from-signac.md)
            assert entry[1] == {"i": 2}
        elif entry[0] == bad:
            assert entry[1:3] == ["JobsCorruptedError", [bad]]
            assert bad in entry[3] and sp_file in entry[3]
        else:
            assert entry[1] == project.open_job(id=entry[0]).sp()


def test_reading_a_damaged_statepoint_is_both_errors(project):
    # JobsCorruptedError for signac's scripts; CorruptFileError (path, reason), as before
    _, bad = _damaged(project)
    sp_file = os.path.join(project.workspace, bad, "signac_statepoint.json")
    with open(sp_file, "w") as f:
        f.write("{")
    job = suite.get_project(project.path).open_job(id=bad)
    with pytest.raises(suite.JobsCorruptedError) as info:
        job.sp()
    assert info.value.job_ids == [bad]
    assert isinstance(info.value, suite.errors.CorruptFileError)
    assert info.value.path == sp_file and info.value.job_id == bad


def test_to_dataframe_of_a_damaged_job_is_an_error_not_an_empty_row(project):
    pytest.importorskip("pandas")
    _, bad = _damaged(project)
    with open(os.path.join(project.workspace, bad, "signac_statepoint.json"), "w") as f:
        f.write("[")
    project = suite.get_project(project.path)
    with pytest.raises(suite.JobsCorruptedError) as info:
        project.to_dataframe()
    assert info.value.job_ids == [bad] and bad in str(info.value)
    with pytest.raises(suite.JobsCorruptedError):  # a filter cannot tell whether it matches
        project.find_jobs({"i": 1}).to_dataframe()
    # asked to leave it out, the others are answered
    assert len(project.find_jobs({"i": 1}, skip_unreadable=True).to_dataframe()) == 1


#: what a script sees of a filtered query: each way of evaluating it, its answer or error
FILTERED = '''
import json, sys
import suite
p = suite.get_project(sys.argv[1])
flt = json.loads(sys.argv[2])
ways = {"iter": lambda c: [j.id for j in c], "len": len, "ids": lambda c: c.ids(),
        "getitem": lambda c: c[0].id, "contains": lambda c: sys.argv[3] in c,
        "groupby": lambda c: [k for k, _ in c.groupby("i")]}
out = {}
for name, way in ways.items():
    try:
        out[name] = way(p.find_jobs(flt))
    except suite.JobsCorruptedError as exc:
        assert isinstance(exc, suite.errors.CorruptStatepointError)
        assert isinstance(exc, suite.errors.CorruptFileError)
        out[name] = ["JobsCorruptedError", exc.job_ids, exc.path, str(exc)]
lenient = p.find_jobs(flt, skip_unreadable=True)
out["lenient"] = [len(lenient), lenient.ids(), [j.id for j in lenient]]
out["all"] = len(list(p.find_jobs({}))) + len(list(p.find_jobs()))
print(json.dumps(out))
'''


def _filtered(path, flt, some_id, pure):
    env = dict(os.environ)
    env.pop("SUITE_PURE_PYTHON", None)
    if pure:
        env["SUITE_PURE_PYTHON"] = "1"
    out = subprocess.run([sys.executable, "-c", FILTERED, str(path), json.dumps(flt), some_id],
                         capture_output=True, text=True, env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def _damage(project, *ids):
    files = []
    for job_id in ids:
        sp_file = os.path.join(project.workspace, job_id, "signac_statepoint.json")
        with open(sp_file + ".new", "w") as f:
            f.write('{"i": ')
        os.replace(sp_file + ".new", sp_file)
        files.append(sp_file)
    return files


@pytest.mark.parametrize("flt", [{"i": 1}, {"i": {"$gt": 0}}, {"doc.x": 1}, {"sp.i": 3}],
                         ids=["equal", "range", "document key only", "sp. prefix"])
@pytest.mark.parametrize("several", [False, True])
def test_a_filtered_query_raises_for_a_damaged_statepoint_as_signac(project, flt, several):
    # signac 2.4.1 reads every state point for a filtered find_jobs and raises
    # JobsCorruptedError; suite left the job out silently: a script got fewer jobs. A filter
    # on document keys too: the damaged job's document may match, and signac raises there too.
    ids = []
    for i in range(5):
        job = project.open_job({"i": i}).init()
        job.doc["x"] = 1
        ids.append(job.id)
    bad = sorted([project.open_job({"i": 2}).id]
                 + ([project.open_job({"i": 4}).id] if several else []))
    files = _damage(project, *bad)
    seen = [_filtered(project.path, flt, ids[1], pure) for pure in (False, True)]
    assert seen[0] == seen[1]  # C and pure Python alike
    out = seen[0]
    for way in ("iter", "len", "ids", "getitem", "contains", "groupby"):
        name, job_ids, path, message = out[way]
        assert name == "JobsCorruptedError" and job_ids == bad, way
        assert path == files[bad.index(job_ids[0])]
        for job_id in bad:  # every damaged job named, the first one's file with it
            assert job_id in message
        assert path in message and "skip_unreadable" in message
    # the lenient answer: the readable jobs matching
    want = sorted(j.id for j in project.find_jobs(flt, skip_unreadable=True)
                  if j.id not in bad)
    assert out["lenient"] == [len(want), want, want] and want
    assert out["all"] == 10  # find_jobs() and find_jobs({}) iterate them all (above)


def test_an_unreadable_document_alone_does_not_raise(project):
    # only the state point matters: a job whose document cannot be read is left out of
    # document queries (named by 'suite find'), as before
    jobs = [project.open_job({"i": i}).init() for i in range(3)]
    for job in jobs:
        job.doc["x"] = 1
    with open(jobs[1].fn("signac_job_document.json"), "w") as f:
        f.write("{")
    project = suite.get_project(project.path)
    assert len(project.find_jobs({"i": 1})) == 1
    assert project.find_jobs({"doc.x": 1}).ids() == sorted([jobs[0].id, jobs[2].id])


def test_the_cli_find_with_a_filter_names_the_damaged_job_and_exits_3(project):
    ids = [project.open_job({"i": i}).init().id for i in range(3)]
    bad = project.open_job({"i": 2}).id
    _damage(project, bad)
    out = subprocess.run([sys.executable, "-m", "suite", "find", "i.$gte", "0"],
                         cwd=project.path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 3, out.stderr
    assert out.stdout.split() == sorted(i for i in ids if i != bad)
    assert bad in out.stderr and "Traceback" not in out.stderr


@pytest.mark.parametrize("command", [["sync", "../other"]], ids=["sync"])
def test_a_command_given_a_filter_refuses_naming_the_damaged_job(project, tmp_path, command):
    # sync -f would otherwise move a selection one job short without a word ('export -f'
    # exports the others and warns naming it: tests/archive/test_export_rules.py)
    for i in range(3):
        project.open_job({"i": i}).init()
    suite.init_project(tmp_path / "other")
    bad = project.open_job({"i": 2}).id
    _damage(project, bad)
    out = subprocess.run([sys.executable, "-m", "suite", *command, "-f", "i 1"],
                         cwd=project.path, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stderr
    assert bad in out.stderr and "Traceback" not in out.stderr
    far = tmp_path / "other" / "workspace"
    assert not far.is_dir() or not os.listdir(far)
