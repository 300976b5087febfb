"""What a record holds when an operation moves, removes or replaces its own job directory, closes
descriptors it did not open and opens others under their numbers, or starts a child: the files
as the job's path names them after the operation (a listing by name), the same with the C
modules as with SUITE_PURE_PYTHON=1; no descriptor of the scans left open in the run, handed to
a child, or taken from the operation. The guard for any design that keeps the scan before's
descriptor for the scan after (issue 17, session 16: weighed, not built; docs/benchmarks.md)."""

import os
import textwrap

import pytest

from suite.flow import Runner, load_workflow
from suite.provenance import capture

from .test_run_records import comparable, records, run
from .test_run_records import make as make_project

WORKFLOW = textwrap.dedent('''
    import os
    import shutil
    import subprocess

    from suite.flow import Workflow

    class Moves(Workflow):
        pass

    #: descriptors operations opened and kept after they returned: (fd, (st_dev, st_ino))
    KEPT = []

    def here(job):
        """This process's descriptors open on the job directory, but those kept below."""
        out, kept = [], {fd for fd, _ in KEPT}
        for name in os.listdir("/proc/self/fd"):
            if int(name) in kept:
                continue
            try:
                if os.path.samefile(os.readlink(f"/proc/self/fd/{name}"), job.path):
                    out.append(int(name))
            except OSError:
                pass
        return out


    @Moves.operation
    def make(job):
        for name in ("a.txt", "b.txt"):
            with open(job.fn(name), "w") as f:
                f.write(name)
        job.doc.v = 1

    @Moves.operation
    def move_away(job):  # nothing at the job's path after it
        os.rename(job.path, job.path + ".moved")

    @Moves.operation
    def move_back(job):  # the same directory at the path again, changed while away
        os.rename(job.path, job.path + ".away")
        with open(os.path.join(job.path + ".away", "c.txt"), "w") as f:
            f.write("c")
        os.remove(os.path.join(job.path + ".away", "a.txt"))
        os.rename(job.path + ".away", job.path)

    @Moves.operation
    def replace(job):  # another directory at the path, the old one kept elsewhere
        os.rename(job.path, job.path + ".old")
        os.mkdir(job.path)
        shutil.copy(os.path.join(job.path + ".old", "signac_statepoint.json"), job.path)
        with open(job.fn("new.txt"), "w") as f:
            f.write("new")

    @Moves.operation
    def recreate(job):  # removed and made again under the same name
        with open(job.fn("signac_statepoint.json"), "rb") as f:
            sp = f.read()
        shutil.rmtree(job.path)
        os.mkdir(job.path)
        with open(job.fn("signac_statepoint.json"), "wb") as f:
            f.write(sp)
        with open(job.fn("a.txt"), "w") as f:  # a name of before, other bytes
            f.write("again")

    @Moves.operation
    def reopen_same(job):
        # close whatever is open on the job directory, open it again (the lowest free number:
        # one just closed, if any) and keep it past the operation
        for fd in here(job):
            os.close(fd)
        fd = os.open(job.path, os.O_RDONLY | os.O_DIRECTORY)
        st = os.fstat(fd)
        KEPT.append((fd, (st.st_dev, st.st_ino)))
        with open(job.fn("x.txt"), "w") as f:
            f.write("x")

    @Moves.operation
    def reopen_other(job):  # the same, with a file elsewhere under the numbers freed
        for fd in here(job):
            os.close(fd)
        fd = os.open(os.path.join(os.path.dirname(os.path.dirname(job.path)), "workflow.py"),
                     os.O_RDONLY)
        st = os.fstat(fd)
        KEPT.append((fd, (st.st_dev, st.st_ino)))
        with open(job.fn("y.txt"), "w") as f:
            f.write("y")

    @Moves.operation
    def check_kept(job):  # the descriptors the operations kept are still theirs
        lost = 0
        for fd, ident in KEPT:
            try:
                st = os.fstat(fd)
                lost += (st.st_dev, st.st_ino) != ident
            except OSError:
                lost += 1
        with open(job.fn("kept.txt"), "w") as f:
            f.write(f"{len(KEPT)} kept, {lost} lost")

    @Moves.operation
    def fail(job):
        raise ValueError("no")

    @Moves.operation
    def stop(job):
        raise KeyboardInterrupt

    @Moves.operation
    def child_fds(job):  # what an executed child inherits (close_fds=False: all it can)
        out = subprocess.run(["sh", "-c", 'for f in /proc/$$/fd/*; do readlink "$f"; done; true'],
                             close_fds=False, capture_output=True, text=True, check=True).stdout
        inherited = [p for p in out.splitlines() if os.path.exists(p)
                     and os.path.samefile(p, job.path)]
        with open(job.fn("child.txt"), "w") as f:
            f.write(f"{len(inherited)} on the job directory")
''')

def make(path):
    return make_project(path, WORKFLOW)


def both(tmp_path, *steps):
    """Run each step (``suite run`` arguments) on two projects, natively and with
    SUITE_PURE_PYTHON=1; both records, which must agree."""
    native, pure = make(tmp_path / "native"), make(tmp_path / "pure")
    for step in steps:
        a, b = run(native, *step), run(pure, *step, pure=True)
        assert (a.returncode, b.returncode) == (0, 0), (step, a.stderr, b.stderr)
    got, want = records(native), records(pure)
    assert comparable(got) == comparable(want)
    return native, got


def files(recs, operation):
    """The files of the one record of ``operation`` among ``recs``."""
    (rec,) = [r for r in recs if r["operation"] == operation]
    return sorted((f["path"], "removed" if f.get("removed") else f["sha256"])
                  for f in rec["files"])


def sha(text):
    import hashlib
    return hashlib.sha256(text.encode()).hexdigest()


def test_a_job_directory_moved_back_lists_what_changed_while_away(tmp_path):
    proj, recs = both(tmp_path, ("-o", "make"), ("-o", "move_back"))
    for job in proj:
        assert files(recs[job.sp.x], "move_back") == [("a.txt", "removed"), ("c.txt", sha("c"))]


def test_a_replaced_job_directory_lists_the_new_one_against_the_old(tmp_path):
    proj, recs = both(tmp_path, ("-o", "make"), ("-o", "replace"))
    for job in proj:
        assert os.path.isdir(job.path + ".old")
        assert files(recs[job.sp.x], "replace") == [
            ("a.txt", "removed"), ("b.txt", "removed"), ("new.txt", sha("new")),
            ("signac_job_document.json", "removed")]


def test_a_recreated_job_directory_lists_its_files_as_new(tmp_path):
    proj, recs = both(tmp_path, ("-o", "make"), ("-o", "recreate"))
    for job in proj:
        assert files(recs[job.sp.x], "recreate") == [
            ("a.txt", sha("again")), ("b.txt", "removed"),
            ("signac_job_document.json", "removed")]


def test_a_job_directory_moved_away_stops_the_run_at_its_record(tmp_path):
    # the path names nothing after the operation: the record (its files all removed, by the
    # listing by name) has no log to go to, and the run stops there, saying so
    outs = []
    for proj, is_pure in ((make(tmp_path / "native"), False), (make(tmp_path / "pure"), True)):
        assert run(proj, "-o", "make", pure=is_pure).returncode == 0
        jobs = list(proj)
        out = run(proj, "-o", "move_away", pure=is_pure)
        moved = [job for job in jobs if os.path.isdir(job.path + ".moved")]
        assert len(moved) == 1, out.stderr
        (job,) = moved
        assert out.returncode != 0
        assert out.stderr.startswith(f"suite: error: cannot write the provenance record of job "
                                     f"{job.id}: "), out.stderr
        outs.append((out.returncode, out.stderr.replace(str(proj.path), "P")))
    assert outs[0] == outs[1]


def test_descriptors_closed_and_opened_again_under_their_numbers_stay_the_operations(tmp_path):
    proj, recs = both(tmp_path, ("-o", "make"),
                      ("-o", "reopen_same", "-o", "reopen_other", "-o", "check_kept",
                       "--order", "by-job"))
    for job in proj:
        with open(job.fn("kept.txt")) as f:
            kept = f.read()
        assert kept.endswith(" kept, 0 lost"), kept
        rs = recs[job.sp.x]
        assert files(rs, "reopen_same") == [("x.txt", sha("x"))]
        assert files(rs, "reopen_other") == [("y.txt", sha("y"))]


def test_a_child_inherits_no_descriptor_on_the_job_directory(tmp_path):
    proj, recs = both(tmp_path, ("-o", "child_fds",))
    for job in proj:
        with open(job.fn("child.txt")) as f:
            assert f.read() == "0 on the job directory"


def workspace_fds(path):
    out = []
    for name in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{name}")
        except OSError:
            continue
        if target.startswith(str(path) + os.sep):
            out.append(target)
    return out


@pytest.mark.parametrize("pure", [False, True])
def test_no_descriptor_of_the_scans_outlives_a_run(tmp_path, monkeypatch, pure):
    # in this process: operations that succeed, fail, move or replace their job directory,
    # and one stopped by KeyboardInterrupt; the C scans, or their Python references
    monkeypatch.setenv(capture.SWITCH, "on")
    if pure:
        for name in ("flat_sigs", "flat_changes", "flat_changes_text", "record_line"):
            monkeypatch.setattr(capture, name, getattr(capture, name + "_python"))
    proj = make(tmp_path / "p")
    runner = Runner(load_workflow(proj), proj)
    runner.run(["make", "move_back", "replace", "recreate", "fail"])
    workspace = os.path.join(proj.path, "workspace")
    assert workspace_fds(workspace) == []
    with pytest.raises(KeyboardInterrupt):
        runner.run(["stop"])
    assert workspace_fds(workspace) == []
