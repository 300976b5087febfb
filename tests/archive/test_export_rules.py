"""What export refuses: targets that would replace the project, dates a format cannot hold,
damaged jobs; what it leaves behind when killed."""

import os
import subprocess

import pytest

import archive


@pytest.fixture
def small(project):
    for i in range(3):
        job = project.open_job({"i": i}).init()
        job.doc.v = i
        with open(job.fn("data.txt"), "w") as f:
            f.write(str(i))
    return project


def tree_of(path):
    out = []
    for dirpath, dirnames, filenames in os.walk(path):
        out += [os.path.join(dirpath, n) for n in dirnames + filenames]
    return sorted(out)


def targets(project):
    ws = project.workspace
    return {
        "project": project.path,
        "parent": os.path.dirname(project.path),
        "root": "/",
        "workspace": ws,
        "in workspace": os.path.join(ws, "out"),
        "in workspace tar": os.path.join(ws, "out.tar"),
        "config dir": os.path.join(project.path, ".signac"),
        "project document": os.path.join(project.path, "signac_project_document.json"),
        "a job": os.path.join(ws, next(iter(project)).id),
    }


@pytest.mark.parametrize("which", ["project", "parent", "root", "workspace", "in workspace",
                                   "in workspace tar", "config dir", "project document",
                                   "a job"])
@pytest.mark.parametrize("fmt", [None, "tar", "zip"])
def test_export_never_replaces_the_project(small, which, fmt):
    small.doc.kept = True
    target = targets(small)[which]
    before = tree_of(os.path.dirname(small.path))
    with pytest.raises(archive.ArchiveError,
                       match="path outside the|choose a new name|unknown archive ending"):
        archive.export_jobs(small, target, format=fmt, force=True)
    assert tree_of(os.path.dirname(small.path)) == before
    assert len(small) == 3 and small.doc.kept


def test_cli_export_of_the_project_directory_is_refused(small):
    for target in (".", "..", "workspace"):
        r = subprocess.run(["suite", "export", target, "--force"], cwd=small.path,
                           capture_output=True, text=True)
        assert r.returncode == 1 and "Traceback" not in r.stderr
        assert "export to a path outside the" in r.stderr, r.stderr
        assert len(small) == 3


def test_archives_inside_the_project_can_be_written_and_replaced(small):
    target = os.path.join(small.path, "out.tar.zst")
    archive.export_jobs(small, target)
    archive.export_jobs(small, target, force=True)
    tree = os.path.join(small.path, "exports", "tree")
    archive.export_jobs(small, tree)
    archive.export_jobs(small, tree, force=True)
    assert archive.verify(target).ok and archive.verify(tree).ok
