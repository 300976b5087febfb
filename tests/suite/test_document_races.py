"""Document writes from several processes at once: none overwrites another's change."""

import subprocess
import sys

import suite

WRITER = """
import sys
import suite
job = suite.get_project(sys.argv[1]).open_job(id=sys.argv[2])
for k in range(int(sys.argv[4])):
    job.doc[f"{sys.argv[3]}{k}"] = k
"""


def test_processes_writing_one_document_lose_nothing(project):
    """Each change is written over the version it was made to (or made again to the newer
    one), so two processes setting their own keys of one document keep all of them."""
    job = project.open_job({"a": 1}).init()
    job.doc.start = True
    n = 300
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, project.path, job.id, name,
                               str(n)]) for name in ("x", "y")]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    doc = suite.get_project(project.path).open_job(id=job.id).doc()
    missing = [f"{name}{k}" for name in ("x", "y") for k in range(n)
               if doc.get(f"{name}{k}") != k]
    assert not missing, f"{len(missing)} of {2 * n} writes lost"
