"""Export under the link policy: links inside a job become link members, links that leave it,
fifos and unreadable files are left out and listed, never followed or waited on."""

import os
import subprocess
import sys
import tarfile

import pytest

import archive
from suite import jobfiles

pytestmark = pytest.mark.timeout(60)  # opening a fifo would hang


@pytest.fixture
def job(project, tmp_path):
    j = project.open_job({"a": 1}).init()
    os.makedirs(j.fn("run3"))
    with open(j.fn("run3/log"), "w") as f:
        f.write("log")
    os.symlink("run3/log", j.fn("latest"))
    os.symlink("run3", j.fn("current"))
    os.symlink("latest", j.fn("chain-in"))
    os.symlink("/etc/passwd", j.fn("passwd"))
    os.symlink("../..", j.fn("escape"))
    os.symlink("escape", j.fn("chain-out"))  # lexically inside, resolves outside
    os.symlink("nothing", j.fn("dangling"))
    os.mkfifo(j.fn("pipe"))
    return j


LEFT_OUT = {"passwd": jobfiles.LINK_LEAVES, "escape": jobfiles.LINK_LEAVES,
            "chain-out": jobfiles.LINK_LEAVES, "dangling": jobfiles.LINK_LEAVES,
            "pipe": jobfiles.SPECIAL}


@pytest.mark.parametrize("ending", [".tar", ".zip", ""])
def test_export_keeps_inside_links_and_lists_the_rest(project, job, tmp_path, ending):
    target = tmp_path / f"out{ending}"
    result = archive.export_jobs(project, target, schema="a_<a>")
    assert {(s["job"], s["path"]): s["reason"] for s in result.skipped} == {
        (job.id, rel): reason for rel, reason in LEFT_OUT.items()}
    other = tmp_path / "other"
    import suite

    dest = suite.init_project(other)
    archive.import_jobs(dest, target)
    back = dest.open_job(id=job.id)
    assert os.readlink(back.fn("latest")) == "run3/log"
    assert os.readlink(back.fn("current")) == "run3"
    assert os.readlink(back.fn("chain-in")) == "latest"
    for rel in LEFT_OUT:
        assert not os.path.lexists(back.fn(rel))


def test_tar_members_are_links_never_their_targets(project, job, tmp_path):
    target = tmp_path / "out.tar"
    archive.export_jobs(project, target, schema="a_<a>")
    with tarfile.open(target) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert members["a_1/latest"].issym() and members["a_1/latest"].linkname == "run3/log"
    assert "a_1/passwd" not in members and "a_1/pipe" not in members


def test_move_keeps_jobs_with_skipped_items(project, job, tmp_path):
    plain = project.open_job({"a": 2}).init()
    result = archive.export_jobs(project, tmp_path / "out.tar", move=True, schema="a_<a>")
    assert result.skipped
    assert os.path.isdir(job.path) and os.path.lexists(job.fn("pipe"))
    assert not os.path.exists(plain.path)


def test_cli_summary_on_stderr(project, job, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "suite", "export", str(tmp_path / "o.tar")],
                          cwd=project.path, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "skipped 5 item(s):" in proc.stderr
    assert f"{job.id}/chain-out: {jobfiles.LINK_LEAVES}" in proc.stderr
