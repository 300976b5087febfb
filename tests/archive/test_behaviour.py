"""Export/import rules: collisions, existing targets and jobs, interruption, schemas, CLI."""

import json
import os
import subprocess
import sys

import pytest

import archive
import suite
from suite import layout


@pytest.fixture
def small(project):
    for i in range(4):
        job = project.open_job({"i": i, "k": i % 2}).init()
        job.doc.v = i
    return project


def test_collision_refused_before_anything_is_written(small, tmp_path):
    with pytest.raises(suite.SuiteError, match="onto the same path") as info:
        archive.export_jobs(small, tmp_path / "c.tar", schema="<k>")
    assert sum(j.id in str(info.value) for j in small) == 2
    assert os.listdir(tmp_path) == ["project"]


def test_existing_target_refused_unless_force(small, tmp_path):
    target = tmp_path / "e.zip"
    archive.export_jobs(small, target)
    before = target.read_bytes()
    with pytest.raises(suite.DestinationExistsError, match="--force"):
        archive.export_jobs(small, target)
    assert target.read_bytes() == before
    small.open_job({"i": 9, "k": 1}).init()
    archive.export_jobs(small, target, force=True)
    assert archive.verify(target).jobs == 5
    tree = tmp_path / "tree"
    archive.export_jobs(small, tree)
    archive.export_jobs(small, tree, force=True, schema="<id>")
    assert len([n for n in os.listdir(tree) if layout.is_job_id(n)]) == 5


def test_unknown_ending_refused(small, tmp_path):
    with pytest.raises(archive.ArchiveError, match="unknown archive ending"):
        archive.export_jobs(small, tmp_path / "x.rar")


def test_interrupted_export_leaves_no_archive(small, tmp_path):
    def interrupt(done, total, nbytes):  # Ctrl-C during the third job's progress line
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        archive.export_jobs(small, tmp_path / "k.tar.zst", progress=interrupt)
    assert os.listdir(tmp_path) == ["project"]


def test_existing_job_identical_skipped_different_stops(small, tmp_path):
    target = tmp_path / "x.tar"
    archive.export_jobs(small, target)
    result = archive.import_jobs(small, target)
    assert result.imported == [] and len(result.skipped) == 4
    job = small.open_job({"i": 0, "k": 0})
    job.doc.v = "changed here"
    with pytest.raises(archive.ArchiveError, match=job.id):
        archive.import_jobs(small, target)
    assert job.doc.v == "changed here"
    result = archive.import_jobs(small, target, skip_existing=True)
    assert job.id in result.skipped and job.doc.v == "changed here"


def test_dry_run_changes_nothing(small, tmp_path):
    target = tmp_path / "d.tar.gz"
    archive.export_jobs(small, target)
    other = suite.init_project(tmp_path / "o")
    result = archive.import_jobs(other, target, dry_run=True)
    assert len(result.imported) == 4 and len(other) == 0
    assert os.listdir(other.workspace) == []


KILLER = r"""
import os, sys, signal
import suite, archive
from archive import importer
importer.LAND_BATCH = 1  # one rename a call (native or not), a report after each job
def progress(done, total):
    if done == 2:  # killed between the landing of two jobs
        os.kill(os.getpid(), signal.SIGKILL)
archive.import_jobs(suite.get_project(sys.argv[1]), sys.argv[2], progress=progress)
"""


def test_killed_import_leaves_complete_jobs_and_finishes_on_rerun(small, tmp_path):
    target = tmp_path / "k.tar.zst"
    archive.export_jobs(small, target)
    other = suite.init_project(tmp_path / "o")
    proc = subprocess.run([sys.executable, "-c", KILLER, other.path, str(target)])
    assert proc.returncode == -9
    assert len(other) == 2
    assert all(len(os.listdir(j.path)) == 2 for j in other)  # complete: sp + doc
    assert any(p.kind == "stray" for p in other.check_report().problems)  # the dead import's staging
    result = archive.import_jobs(other, target)
    assert len(result.imported) == 2 and len(result.skipped) == 2
    assert sorted(j.id for j in other) == sorted(j.id for j in small)
    assert not [n for n in os.listdir(other.workspace) if n.startswith(layout.TMP_PREFIX)]


def test_schema_and_statepoint_file_disagree(small, tmp_path):
    tree = tmp_path / "t"
    archive.export_jobs(small, tree, schema="i_<i>/<k>")
    os.unlink(tree / "suite-manifest.json")
    os.rename(tree / "i_0", tree / "i_7")
    with pytest.raises(archive.ArchiveError, match="the path says i = 7 but .* says i = 0"):
        archive.import_jobs(suite.init_project(tmp_path / "o"), tree, schema="i_<i>/<k>")


def test_unmatched_paths_reported_or_skipped(small, tmp_path):
    tree = tmp_path / "t"
    archive.export_jobs(small, tree, schema="i_<i>/<k>")
    os.unlink(tree / "suite-manifest.json")
    os.makedirs(tree / "other" / "x")
    (tree / "other" / "x" / "notes.txt").write_text("not a job")
    other = suite.init_project(tmp_path / "o")
    with pytest.raises(archive.ArchiveError, match="do not match the schema"):
        archive.import_jobs(other, tree, schema="i_<i>/<k>")
    result = archive.import_jobs(other, tree, schema="i_<i>/<k>", ignore_unmatched=True)
    assert len(result.imported) == 4
    assert result.ignored == ["other/x/notes.txt"]


def test_typed_fields_on_import(project, tmp_path):
    tree = tmp_path / "t"
    for value in ("007", "1.50"):
        os.makedirs(tree / value)
        (tree / value / "x.txt").write_text(value)
    result = archive.import_jobs(project, tree, schema="<code:str>")
    assert sorted(j.sp.code for j in project) == ["007", "1.50"]
    assert len(result.imported) == 2
    # "1.0" and "1.00" are the same float: two directories for one job are refused
    same = tmp_path / "same"
    for value in ("1.0", "1.00"):
        os.makedirs(same / value)
    other = suite.init_project(tmp_path / "o")
    with pytest.raises(archive.ArchiveError, match="are the same job"):
        archive.import_jobs(other, same, schema="<x>")
    assert len(other) == 0


def run_cli(*args, cwd):
    return subprocess.run(["suite", *args], cwd=cwd, capture_output=True, text=True)


def test_cli_export_import_verify(small, tmp_path):
    r = run_cli("export", str(tmp_path / "c.tar.zst"), "-f", "k 1", "--schema", "i_<i>",
                cwd=small.path)
    assert r.returncode == 0, r.stderr
    assert "exported 2 jobs" in r.stdout
    r = run_cli("verify", str(tmp_path / "c.tar.zst"), cwd=small.path)
    assert r.returncode == 0 and r.stdout.startswith("ok: 2 jobs")
    other = suite.init_project(tmp_path / "o")
    r = run_cli("import", str(tmp_path / "c.tar.zst"), "--dry-run", cwd=other.path)
    assert "would import 2 jobs" in r.stdout and len(other) == 0
    r = run_cli("import", str(tmp_path / "c.tar.zst"), "--json", cwd=other.path)
    assert len(json.loads(r.stdout)["imported"]) == 2
    r = run_cli("export", str(tmp_path / "c.tar.zst"), cwd=small.path)
    assert r.returncode == 1 and "--force" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("export", str(tmp_path / "d.zip"), "--schema", "<k>", cwd=small.path)
    assert r.returncode == 1 and "onto the same path" in r.stderr


def test_temporary_files_of_writes_in_progress_are_not_exported(tmp_path):
    """A write in progress (or the leftover of a killed one) is not part of a job."""
    import archive
    import suite
    from suite import layout

    p = suite.init_project(tmp_path / "p")
    job = p.open_job({"a": 1}).init()
    job.doc.x = 1
    assert not [n for n in os.listdir(job.path) if layout.is_temp(n)]  # writes clean up
    with open(job.fn(f"{layout.TMP_PREFIX}signac_job_document.json.123.ab"), "w") as f:
        f.write('{"half')
    archive.export_jobs(p, str(tmp_path / "out"))
    q = suite.init_project(tmp_path / "q")
    archive.import_jobs(q, str(tmp_path / "out"))
    assert sorted(os.listdir(q.open_job(id=job.id).path)) == [
        "signac_job_document.json", "signac_statepoint.json"]


def test_root_level_files_are_ignored_and_reported(project, tmp_path):
    tree = tmp_path / "t"
    (tree / "a").mkdir(parents=True)
    (tree / "signac_statepoint.json").write_text('{"root": 1}')
    (tree / "notes.txt").write_text("about this export")
    (tree / "a" / "signac_statepoint.json").write_text('{"a": 1}')
    result = archive.import_jobs(project, tree)
    assert result.ignored == ["notes.txt", "signac_statepoint.json"]
    assert [j.sp() for j in project] == [{"a": 1}]
    assert sorted(os.listdir(project.open_job({"a": 1}).path)) == ["signac_statepoint.json"]
    other = suite.init_project(tmp_path / "o")
    r = run_cli("import", str(tree), cwd=other.path)
    assert r.returncode == 0 and "imported 1 jobs" in r.stdout
    assert "ignored 2 file(s) outside any job: notes.txt, signac_statepoint.json" in r.stderr


def test_manifest_job_at_the_archive_root_refused(small, tmp_path):
    tree = tmp_path / "t"
    archive.export_jobs(small, tree, schema="<id>")
    manifest = json.loads((tree / "suite-manifest.json").read_text())
    manifest["jobs"][0]["path"] = "."
    (tree / "suite-manifest.json").write_text(json.dumps(manifest))
    other = suite.init_project(tmp_path / "o")
    with pytest.raises(archive.ArchiveError, match="archive root"):
        archive.import_jobs(other, tree)
    assert len(other) == 0


def broken_archives(small, tmp_path):
    """(archive, text the one-line error must hold) for archives damaged in different ways."""
    import io
    import shutil
    import tarfile

    good = tmp_path / "good"
    archive.export_jobs(small, good, schema="i_<i>")
    cases = []

    def variant(name, edit, expect):
        tree = tmp_path / name
        shutil.copytree(good, tree)
        edit(tree)
        cases.append((tree, expect))

    def same_id(tree):  # two manifest entries for one job
        m = json.loads((tree / "suite-manifest.json").read_text())
        m["jobs"][1] = dict(m["jobs"][0], path="i_1", files={})
        for name in os.listdir(tree / "i_1"):
            os.unlink(tree / "i_1" / name)
        (tree / "suite-manifest.json").write_text(json.dumps(m))

    def bad_entry(tree):
        m = json.loads((tree / "suite-manifest.json").read_text())
        m["jobs"][0]["files"]["signac_statepoint.json"] = 5
        (tree / "suite-manifest.json").write_text(json.dumps(m))

    def bad_utf8(tree):
        os.unlink(tree / "suite-manifest.json")
        (tree / "i_0" / "signac_statepoint.json").write_bytes(b'{"i": "\xff"}')

    def bad_manifest(tree):
        (tree / "suite-manifest.json").write_bytes(b'{"format": "\xff')

    variant("same_id", same_id, "are the same job")
    variant("bad_entry", bad_entry, "job entry 1 ('i_0') is malformed")
    variant("bad_utf8", bad_utf8, "i_0/signac_statepoint.json is not a valid state point")
    variant("bad_manifest", bad_manifest, "suite-manifest.json is not valid JSON")
    path = tmp_path / "under_a_file.tar"
    with tarfile.open(path, "w") as tar:
        for name in ("a/signac_statepoint.json", "a/sub", "a/sub/x"):
            info = tarfile.TarInfo(name)
            info.size = 8
            tar.addfile(info, io.BytesIO(b'{"a": 1}'))
    cases.append((path, "'a/sub/x' lies under 'a/sub', which is a file"))
    path = tmp_path / "link_and_dir.tar"
    with tarfile.open(path, "w") as tar:
        for name, kind in (("a/signac_statepoint.json", tarfile.REGTYPE),
                           ("a/sub", tarfile.SYMTYPE), ("a/sub/x", tarfile.REGTYPE)):
            info = tarfile.TarInfo(name)
            info.type, info.linkname = kind, "y" if kind == tarfile.SYMTYPE else ""
            info.size = 8 if kind == tarfile.REGTYPE else 0
            tar.addfile(info, io.BytesIO(b'{"a": 1}') if info.size else None)
    cases.append((path, "'a/sub/x' lies under the link 'a/sub'"))
    return cases


def test_damaged_archives_give_one_line_errors_naming_the_member(small, tmp_path):
    for origin, expect in broken_archives(small, tmp_path):
        other = suite.init_project(tmp_path / f"o_{os.path.basename(origin)}")
        r = run_cli("import", str(origin), cwd=other.path)
        assert r.returncode == 1, (origin, r.stdout)
        assert "Traceback" not in r.stderr and len(r.stderr.splitlines()) == 1, r.stderr
        assert expect in r.stderr, (origin, r.stderr)
        assert len(other) == 0
        assert [n for n in os.listdir(other.workspace)] == []
        r = run_cli("verify", str(origin), cwd=other.path)
        assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
