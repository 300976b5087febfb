"""The scans of provenance records leave access times as they were: listing a job directory
and reading an output to hash it are not uses of them. Under ``relatime`` (the usual mount)
each would otherwise write the inode again when it was changed since its last access, which
every operation that writes a file does to its job directory: a journal entry on a disk, and
~0.5 µs a listing on a RAM disk (docs/benchmarks.md, session 13)."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap

import pytest

import suite
from suite.flow import Runner, load_workflow
from suite.provenance import records

OLD = 10**18  # 2001: older than a day, so relatime would write any access

WORKFLOW = textwrap.dedent(f'''
    import os

    from suite.flow import Workflow

    class Times(Workflow):
        pass

    @Times.operation
    def stamp(job):
        seen = os.stat(job.path).st_atime_ns  # after the scan before
        with open(job.fn("out.txt"), "w") as f:
            f.write(str(seen))
        job.doc["done"] = True  # suite's own writer: hashed from its bytes
        # old access times for the scan after to keep (it lists the directory and reads
        # out.txt for its hash)
        for path in (job.fn("out.txt"), job.path):
            os.utime(path, ns=({OLD}, os.stat(path).st_mtime_ns))
''')


@pytest.fixture
def proj(tmp_path):
    p = suite.init_project(tmp_path / "project")
    job = p.open_job({"x": 1}).init()
    with open(job.fn("kept.txt"), "w") as f:  # a file the scans stat and leave
        f.write("kept")
    with open(p.fn("workflow.py"), "w") as f:
        f.write(WORKFLOW)
    return p


def times(job):
    return {"dir": os.stat(job.path).st_atime_ns,
            "out": os.stat(job.fn("out.txt")).st_atime_ns,
            "seen": int(open(job.fn("out.txt")).read())}


@pytest.mark.parametrize("records_on", [True, False])
def test_a_run_leaves_the_access_times_of_its_job_directory_and_outputs(proj, monkeypatch,
                                                                         records_on):
    monkeypatch.setenv("SUITE_RECORDS", "on" if records_on else "off")
    job = next(iter(proj))
    os.utime(job.path, ns=(OLD, os.stat(job.path).st_mtime_ns))
    Runner(load_workflow(proj), proj).run(["stamp"])
    assert times(job) == {"dir": OLD, "out": OLD, "seen": OLD}
    (rec,) = records(proj, operation="stamp")
    if records_on:  # the scans ran: out.txt was read for its hash
        assert {f["path"] for f in rec.files} == {"out.txt", "signac_job_document.json"}


def test_the_cli_run_leaves_access_times_too(proj):
    job = next(iter(proj))
    os.utime(job.path, ns=(OLD, os.stat(job.path).st_mtime_ns))
    env = {**os.environ, "SUITE_RECORDS": "on"}
    subprocess.run([sys.executable, "-m", "suite", "run", "-o", "stamp"], cwd=proj.path,
                   env=env, check=True, capture_output=True)
    assert times(job) == {"dir": OLD, "out": OLD, "seen": OLD}


CHILD = textwrap.dedent('''
    import json, os, sys
    from suite.provenance import capture
    os.setgid(65534)
    os.setuid(65534)  # nobody, from here: O_NOATIME is refused for root's files
    root = sys.argv[1]
    out = {}
    for mode, (sigs, text) in {
            "native": (capture.flat_sigs, capture.flat_changes_text),
            "python": (capture.flat_sigs_python, capture.flat_changes_text_python)}.items():
        found, has_log = sigs(root)
        out[mode] = [sorted(found), has_log, text("j", root, {}),
                     text("j", root, {"a.txt": (0, 0, 0, 0)})]
    print(json.dumps(out))
''')


@pytest.mark.skipif(not hasattr(os, "O_NOATIME") or os.geteuid() != 0,
                    reason="needs O_NOATIME and root (to become another user)")
def test_another_users_files_are_listed_and_hashed_without_the_flag(tmp_path):
    # the kernel refuses O_NOATIME (EPERM) for a file the process does not own: the scans
    # open it again without the flag, and give what they give for the user's own files
    root = tempfile.mkdtemp(dir="/dev/shm" if os.path.isdir("/dev/shm") else "/tmp")
    try:
        os.chmod(root, 0o755)
        for name, data in (("a.txt", b"AAAA"), ("b.bin", b"\0" * 5000)):
            with open(os.path.join(root, name), "wb") as f:
                f.write(data)
            os.chmod(os.path.join(root, name), 0o644)
        got = subprocess.run([sys.executable, "-c", CHILD, root], capture_output=True,
                             text=True, check=True)
    finally:
        shutil.rmtree(root)
    out = json.loads(got.stdout)
    assert out["native"] == out["python"]
    names, has_log, new, changed = out["native"]
    assert names == ["a.txt", "b.bin"] and has_log is False
    assert '"path": "a.txt", "size": 4' in new and '"path": "b.bin", "size": 5000' in new
    assert '"path": "b.bin"' in changed and '"path": "a.txt", "size": 4' in changed


def test_a_run_leaves_the_access_times_of_subdirectories(proj, monkeypatch):
    # a job with a subdirectory is scanned by the walk of suite.jobfiles, not the flat listing
    monkeypatch.setenv("SUITE_RECORDS", "on")
    job = next(iter(proj))
    os.makedirs(job.fn("sub/deeper"))
    with open(job.fn("sub/deeper/kept.txt"), "w") as f:
        f.write("kept")
    inner = [job.fn("sub"), job.fn("sub/deeper"), job.fn("sub/deeper/kept.txt")]
    for path in (job.path, *inner):
        os.utime(path, ns=(OLD, os.stat(path).st_mtime_ns))
    Runner(load_workflow(proj), proj).run(["stamp"])
    assert times(job) == {"dir": OLD, "out": OLD, "seen": OLD}
    assert {p: os.stat(p).st_atime_ns for p in inner} == dict.fromkeys(inner, OLD)
    (rec,) = records(proj, operation="stamp")
    assert {f["path"] for f in rec.files} == {"out.txt", "signac_job_document.json"}
