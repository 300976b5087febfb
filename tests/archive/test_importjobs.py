"""The native per-job loops of an import (archive._importjobs) against their pure-Python
references: ``check_manifest_jobs`` with the Python loop taking the jobs it leaves
(``importer.jobs_from_manifest``) gives the same jobs or the same error as the Python loop
alone (``importer._manifest_job`` for every job), on generated manifests and members with
every kind of damage; ``rename_all`` does what ``importer.rename_all_python`` does, failures
included; and the CLI imports the common jobs through them."""

import hashlib
import json
import os
import subprocess

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archive
import suite
from archive import importer
from suite import layout, native
from suite.statepoint import canonical
from tests.conftest import skip_or_fail

importjobs = native.load("archive._importjobs")
SP = layout.STATEPOINT


def need():
    if importjobs is None:
        skip_or_fail("archive._importjobs is not built here or SUITE_PURE_PYTHON is set "
                     "(python setup.py build_ext --inplace)")
    return importjobs


def sha(data):
    return hashlib.sha256(data).hexdigest()


# what may be wrong with one job (most jobs are fine: the C takes runs of them)
DAMAGE = st.sampled_from(["none"] * 6 + [
    "wrong id", "nan", "bad key", "sp file other", "sp file same value", "sp file not json",
    "missing file", "wrong size", "wrong hash", "extra file", "dir member", "symlink member",
    "dirs key", "unclean name", "no sp file", "size as float", "nested file"])
STATEPOINTS = st.dictionaries(st.sampled_from(["a", "b", "é", "x y"]),
                              st.integers(-5, 5) | st.floats(-2, 2) | st.text(max_size=3)
                              | st.lists(st.integers(0, 3), max_size=2), min_size=1, max_size=3)


def make_found(specs):
    """A :class:`importer.Scan` (as a scan of a tar leaves it) and its manifest from ``specs``:
    (state point, damage) per job."""
    staged, small, jobs = {}, {}, []
    for i, (sp, damage) in enumerate(specs):
        path = f"p{i}/q"
        text, job_id = canonical(sp)
        files = {"doc.json": b"{}", "data.txt": f"{i}".encode()}
        if damage != "no sp file":
            files[SP] = text
        if damage == "sp file other":
            files[SP] = b'{"other": 1}'
        elif damage == "sp file same value":
            files[SP] = json.dumps(sp, sort_keys=True, indent=1).encode()
        elif damage == "sp file not json":
            files[SP] = b"{nope"
        if damage == "nested file":
            files["sub/deep.txt"] = b"deep"
        entry_files = {rel: {"size": len(d), "sha256": sha(d)} for rel, d in files.items()}
        for rel, data in files.items():
            staged[f"{path}/{rel}"] = ("file", len(data), sha(data))
            if rel == SP:
                small[f"{path}/{rel}"] = data
        if damage == "missing file":
            del staged[f"{path}/data.txt"]
        elif damage == "wrong size":
            staged[f"{path}/data.txt"] = ("file", 99, staged[f"{path}/data.txt"][2])
        elif damage == "wrong hash":
            staged[f"{path}/data.txt"] = ("file", staged[f"{path}/data.txt"][1], "0" * 64)
        elif damage == "extra file":
            staged[f"{path}/extra"] = ("file", 0, sha(b""))
        elif damage == "dir member":
            staged[f"{path}/empty"] = ("dir", 0, None)
        elif damage == "symlink member":
            staged[f"{path}/link"] = ("symlink", 0, "data.txt")
        elif damage == "unclean name":
            entry_files["./data.txt"] = entry_files.pop("data.txt")
        elif damage == "size as float":
            entry_files["data.txt"]["size"] = float(entry_files["data.txt"]["size"])
        statepoint = dict(sp)
        if damage == "nan":
            statepoint["a"] = float("nan")
        elif damage == "bad key":
            statepoint["a.b"] = 1
        entry = {"id": "f" * 32 if damage == "wrong id" else job_id, "path": path,
                 "statepoint": statepoint, "files": entry_files}
        if damage == "dirs key":
            entry["dirs"] = {"sub": [0o755, 0]}
        jobs.append(entry)
    manifest = {"format": "suite-archive", "version": 1, "jobs": jobs}
    return importer.Scan(staged, manifest, small, None)


def outcome(found):
    try:
        jobs, outside = importer.jobs_from_manifest(found, "origin")
    except Exception as exc:  # noqa: BLE001 - the type and the message are compared
        return "raises", type(exc), str(exc)
    return "ok", [(j.id, j.statepoint, j.path, j.files, j.links, j.dirs) for j in jobs], outside


@settings(max_examples=300, deadline=None)
@given(specs=st.lists(st.tuples(STATEPOINTS, DAMAGE), max_size=8))
def test_check_manifest_jobs_agrees_with_the_reference(specs):
    """The same jobs (and file order), or the same error for the same first bad job, whether
    the C takes the common jobs or the Python loop takes them all."""
    assert importer._importjobs is need()
    native_result = outcome(make_found(specs))
    try:  # not monkeypatch: its undoing comes once per test, not once per example
        importer._importjobs = None
        python_result = outcome(make_found(specs))
    finally:
        importer._importjobs = importjobs
    assert native_result == python_result


def test_check_manifest_jobs_takes_common_jobs_and_stops_at_the_first_other():
    mod = need()
    found = make_found([({"a": 1}, "none"), ({"a": 2}, "none"), ({"a": 3}, "symlink member"),
                        ({"a": 4}, "none")])
    entries = found.manifest["jobs"]
    paths = [e["path"] for e in entries]
    grouped, _ = importer._by_job(found, paths)
    jobs = []
    args = (entries, paths, grouped, found.small, importer.validate_owned)
    tail = (jobs, importer.Incoming, "file", SP)
    assert mod.check_manifest_jobs(*args, 0, *tail) == 2
    assert [j.statepoint for j in jobs] == [{"a": 1}, {"a": 2}]
    assert jobs[0].statepoint is entries[0]["statepoint"]  # owned: not copied
    assert jobs[0].files == {rel: (v["size"], v["sha256"])
                             for rel, v in entries[0]["files"].items()}
    assert mod.check_manifest_jobs(*args, 3, *tail) == 4 and len(jobs) == 3
    with pytest.raises(TypeError):
        mod.check_manifest_jobs(tuple(entries), paths, grouped, found.small,
                                importer.validate_owned, 0, *tail)


def rename_case(root, plan):
    """Make the sources and targets of ``plan`` under ``root``; the (sources, targets)."""
    sources, targets = [], []
    for i, (source, target) in enumerate(plan):
        src, dst = f"{root}/s{i}", f"{root}/t{i}" if target != "same as before" else f"{root}/t0"
        if source == "dir":
            os.mkdir(src)
            with open(f"{src}/f", "w") as f:
                f.write(str(i))
        elif source == "file":
            with open(src, "w") as f:
                f.write(str(i))
        if target == "empty dir":
            os.mkdir(dst)
        elif target == "full dir":
            os.makedirs(f"{dst}/x", exist_ok=True)
        elif target == "file":
            open(dst, "w").close()
        elif target == "missing parent":
            dst = f"{root}/no/such/t{i}"
        sources.append(src)
        targets.append(dst)
    return sources, targets


def tree(root):
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        out[rel] = (sorted(dirnames), sorted(filenames))
    return out


def rename_outcome(fn, root, plan):
    sources, targets = rename_case(root, plan)
    try:
        fn(sources, targets)
        result = ("ok",)
    except OSError as exc:
        result = ("raises", type(exc), exc.errno,
                  os.path.relpath(exc.filename, root), os.path.relpath(exc.filename2, root))
    return result, tree(root)


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(plan=st.lists(st.tuples(st.sampled_from(["dir", "dir", "file", "missing"]),
                               st.sampled_from(["none", "none", "empty dir", "full dir", "file",
                                                "missing parent", "same as before"])),
                     max_size=6))
def test_rename_all_agrees_with_the_reference(tmp_path_factory, plan):
    """The same renames done, the same error (type, errno, both names) at the same one."""
    mod = need()
    a, b = tmp_path_factory.mktemp("native"), tmp_path_factory.mktemp("python")
    assert rename_outcome(mod.rename_all, str(a), plan) == \
        rename_outcome(importer.rename_all_python, str(b), plan)


def test_rename_all_refuses_bad_arguments_as_the_reference(tmp_path):
    mod = need()
    for fn in (mod.rename_all, importer.rename_all_python):
        with pytest.raises(ValueError):
            fn([str(tmp_path / "a")], [])
        with pytest.raises(ValueError):  # os.rename: embedded null byte
            fn([str(tmp_path / "a\0b")], [str(tmp_path / "c")])
        with pytest.raises(TypeError):
            fn([1], [str(tmp_path / "c")])
    with pytest.raises(TypeError):
        mod.rename_all(("a",), ["b"])
    mod.rename_all([], [])


def test_import_lands_common_jobs_by_batches_and_others_one_by_one(tmp_path, monkeypatch):
    """A project with plain jobs and jobs with links, subdirectories and no state point file
    comes back whole, through the CLI, with batches smaller than the job count."""
    p = suite.init_project(tmp_path / "p")
    for i in range(7):
        job = p.open_job({"i": i}).init()
        job.doc["v"] = i
        if i == 3:
            os.makedirs(job.fn("sub"))
            with open(job.fn("sub/x.txt"), "w") as f:
                f.write("x")
        if i == 5:
            os.symlink(SP, job.fn("link"))
    target = tmp_path / "a.tar.zst"
    archive.export_jobs(p, target)
    monkeypatch.setattr(importer, "LAND_BATCH", 2)
    seen = []
    q = suite.init_project(tmp_path / "q")
    result = archive.import_jobs(q, target, progress=lambda done, total: seen.append(done))
    assert sorted(result.imported) == sorted(j.id for j in p)
    assert seen[-1] == 7 and seen == sorted(seen)
    for job in p:
        other = q.open_job(id=job.id)
        assert other.sp() == job.sp() and other.doc() == job.doc()
        assert sorted(os.listdir(other.path)) == sorted(os.listdir(job.path))
    assert os.readlink(q.open_job(id=p.open_job({"i": 5}).id).fn("link")) == SP
    assert not [n for n in os.listdir(q.workspace) if n.startswith(layout.TMP_PREFIX)]


def test_cli_refuses_an_archive_with_one_bad_file_late_and_lands_no_job(tmp_path):
    """The C takes the jobs before the damaged one; the reference refuses that one; nothing
    lands (the checks of every job come before the first landing), one line, no traceback."""
    p = suite.init_project(tmp_path / "p")
    for i in range(8):
        job = p.open_job({"i": i}).init()
        with open(job.fn("data.txt"), "w") as f:
            f.write(f"payload-{i:03d}")
    target = tmp_path / "a.tar"
    archive.export_jobs(p, target)
    data = target.read_bytes()
    assert data.count(b"payload-006") == 1
    target.write_bytes(data.replace(b"payload-006", b"payload-XXX"))  # same size
    q = suite.init_project(tmp_path / "q")
    r = subprocess.run(["suite", "import", str(target)], cwd=q.path, capture_output=True,
                       text=True)
    assert r.returncode == 1
    assert "does not match its manifest hash" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    assert len(q) == 0
    assert not [n for n in os.listdir(q.workspace) if n.startswith(layout.TMP_PREFIX)]
