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
    assert len(project.find_jobs({"i": 1}).to_dataframe()) == 1  # the others are answered
