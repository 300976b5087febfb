"""What export refuses: targets that would replace the project, dates a format cannot hold,
damaged jobs; what it leaves behind when killed."""

import os
import subprocess
import sys
import zipfile

import pytest

import archive
import suite


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


FUTURE = 8**11 + 3600  # 2242-03-16 13:56:32 UTC: one past the largest ustar time
PAST = -1_000_000_000  # 1938-04-24 22:13:20 UTC: before 1970


def dated(project):
    jobs = sorted(project, key=lambda j: j.sp.i)
    os.utime(jobs[0].fn("data.txt"), (FUTURE, FUTURE))
    os.utime(jobs[1].fn("data.txt"), (PAST, PAST))
    return jobs


@pytest.mark.parametrize("ending", [".tar", ".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst"])
def test_tar_keeps_dates_ustar_cannot_hold(small, tmp_path, ending):
    jobs = dated(small)
    target = tmp_path / f"d{ending}"
    archive.export_jobs(small, target, schema="i_<i>")
    assert archive.verify(target).ok
    if ending in (".tar", ".tar.gz"):  # GNU tar reads the pax records
        r = subprocess.run(["tar", "-tvf", str(target), "--full-time"], capture_output=True,
                           text=True, env={**os.environ, "TZ": "UTC"})
        assert r.returncode == 0, r.stderr
        lines = {line.split()[-1]: line for line in r.stdout.splitlines()}
        assert "2242-03-16 13:56:32" in lines["i_0/data.txt"]
        assert "1938-04-24 22:13:20" in lines["i_1/data.txt"]
    other = suite.init_project(tmp_path / "o")
    archive.import_jobs(other, target)
    assert os.stat(other.open_job(id=jobs[0].id).fn("data.txt")).st_mtime == FUTURE
    assert os.stat(other.open_job(id=jobs[1].id).fn("data.txt")).st_mtime == PAST


def test_zip_clamps_dates_it_cannot_hold_and_says_so(small, tmp_path):
    dated(small)
    target = tmp_path / "d.zip"
    result = archive.export_jobs(small, target, schema="i_<i>")
    assert len(result.warnings) == 2
    assert "i_0/data.txt" in result.warnings[0] and "2107" in result.warnings[0]
    assert "i_1/data.txt" in result.warnings[1] and "1980" in result.warnings[1]
    with zipfile.ZipFile(target) as z:
        assert z.getinfo("i_0/data.txt").date_time[0] == 2107
        assert z.getinfo("i_1/data.txt").date_time[:3] == (1980, 1, 1)
    assert archive.verify(target).ok
    r = subprocess.run(["suite", "export", str(tmp_path / "e.zip")], cwd=small.path,
                       capture_output=True, text=True)
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert r.stderr.count("warning:") == 2 and "i/0/data.txt" in r.stderr


def test_move_removes_jobs_only_after_the_archive_verifies(small, tmp_path, monkeypatch):
    from archive import export as export_module

    real = export_module.open_writer

    class Truncating:
        """Fault injection: the archive loses its second half once written."""

        def __init__(self, writer):
            self._writer = writer

        def __getattr__(self, name):
            return getattr(self._writer, name)

        def close(self):
            self._writer.close()
            with open(self._writer.path, "r+b") as f:
                f.truncate(os.path.getsize(self._writer.path) // 2)

    monkeypatch.setattr(export_module, "open_writer",
                        lambda *args, **kw: Truncating(real(*args, **kw)))
    target = tmp_path / "m.tar"
    with pytest.raises(archive.ArchiveError, match="not removed"):
        archive.export_jobs(small, target, move=True)
    assert len(small) == 3
    assert not os.path.exists(target)
    monkeypatch.setattr(export_module, "open_writer", real)
    archive.export_jobs(small, target, move=True)
    assert len(small) == 0 and archive.verify(target).jobs == 3


def test_export_of_all_jobs_refuses_damaged_ones(small, tmp_path):
    bad = small.open_job({"i": 1})
    with open(bad.fn("signac_statepoint.json"), "w") as f:
        f.write("{bad")
    with pytest.raises(archive.ArchiveError, match=f"1 job.*{bad.id}.*suite check"):
        archive.export_jobs(small, tmp_path / "all.tar")
    assert os.listdir(tmp_path) == ["project"]
    r = subprocess.run(["suite", "export", str(tmp_path / "all.zip")], cwd=small.path,
                       capture_output=True, text=True)
    assert r.returncode == 1 and bad.id in r.stderr and "Traceback" not in r.stderr
    assert os.listdir(tmp_path) == ["project"]
    # chosen jobs: the others export, and a filter says what it could not consider
    with pytest.raises(suite.JobsCorruptedError):  # a plain filtered query raises, as signac
        archive.export_jobs(small, tmp_path / "some.tar", small.find_jobs({"i": 0}))
    result = archive.export_jobs(small, tmp_path / "some.tar",
                                 small.find_jobs({"i": 0}, skip_unreadable=True))
    assert result.jobs == 1 and bad.id in result.warnings[0]
    r = subprocess.run(["suite", "export", str(tmp_path / "f.tar"), "-f", "i.$lt 3"],
                       cwd=small.path, capture_output=True, text=True)
    assert r.returncode == 0 and "exported 2 jobs" in r.stdout
    assert "warning:" in r.stderr and bad.id in r.stderr


KILLED_EXPORT = r"""
import os, signal, sys
import archive, suite
def progress(done, total, nbytes):  # killed after the second job
    if done == 2:
        os.kill(os.getpid(), signal.SIGKILL)
archive.export_jobs(suite.get_project(sys.argv[1]), sys.argv[2], progress=progress)
"""


def leftovers(directory):
    return sorted(n for n in os.listdir(directory) if ".suite-tmp-" in n)


@pytest.mark.parametrize("ending", [".tar.zst", ".zip", ""])
def test_killed_exports_leftovers_are_cleaned_or_listed(small, tmp_path, ending):
    target = os.path.join(small.path, f"k{ending}")
    for _ in range(3):  # each run removes the leftover of the one before
        r = subprocess.run([sys.executable, "-c", KILLED_EXPORT, small.path, target])
        assert r.returncode == -9
        assert len(leftovers(small.path)) == 1
    other = os.path.join(small.path, f"other{ending}")
    subprocess.run([sys.executable, "-c", KILLED_EXPORT, small.path, other])
    assert len(leftovers(small.path)) == 2
    stray = [p for p in small.check_report().problems if p.kind == "stray"]
    assert len(stray) == 2 and all("interrupted export" in p.message for p in stray)
    # the leftover of a running export is kept, and so is another target's
    sleeper = subprocess.Popen(["sleep", "60"])
    try:
        running = os.path.join(small.path, f".k{ending}.suite-tmp-{sleeper.pid}")
        os.mkdir(running) if not ending else open(running, "w").close()
        archive.export_jobs(small, target)
        names = leftovers(small.path)
        assert os.path.basename(running) in names and len(names) == 2
        assert any(n.startswith(f".other{ending}.suite-tmp-") for n in names)
        assert archive.verify(target).jobs == 3
    finally:
        sleeper.kill()
        sleeper.wait()


def test_target_under_a_file_is_refused_in_one_line(small, tmp_path):
    (tmp_path / "afile").write_text("x")
    r = subprocess.run(["suite", "export", str(tmp_path / "afile" / "x.tar")], cwd=small.path,
                       capture_output=True, text=True)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "is a file, not a directory" in r.stderr and "afile" in r.stderr


@pytest.mark.parametrize("ending", [".tar", ".zip"])
def test_names_that_are_not_utf8_are_named_in_the_error(small, tmp_path, ending):
    job = small.open_job({"i": 0})
    with open(os.path.join(os.fsencode(job.path), b"bad\xffname.txt"), "w") as f:
        f.write("x")
    r = subprocess.run(["suite", "export", str(tmp_path / f"x{ending}")], cwd=small.path,
                       capture_output=True, text=True)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert job.id in r.stderr and "bad\\udcffname.txt" in r.stderr and "rename" in r.stderr
    assert os.listdir(tmp_path) == ["project"]


@pytest.mark.parametrize("schema, refused", [
    ("<name>", True),                    # a job at the manifest itself
    ("<name>/<id>", True),               # jobs under a directory of the manifest's name
    ("<name>-x/<id>", False),            # names that only begin like it sort beside it
    ("<name>.d/<id>", False),
])
def test_a_schema_that_puts_a_job_at_the_manifest_is_refused(project, tmp_path, schema,
                                                            refused):
    for name in ("suite-manifest.json", "a", "zzz"):
        project.open_job({"name": name}).init()
    target = tmp_path / "m.tar"
    if refused:
        with pytest.raises(archive.ArchiveError, match="would put a job at suite-manifest"):
            archive.export_jobs(project, target, schema=schema)
        assert not target.exists()
    else:
        assert archive.export_jobs(project, target, schema=schema).jobs == 3
