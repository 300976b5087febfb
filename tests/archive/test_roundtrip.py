"""Export then import, through every format, with real tar/zip readers and h5py files."""

import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import archive
import suite

FORMATS = ["", ".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".tar.zst", ".tzst", ".zip"]


def snapshot(project):
    """Everything that must survive: ids, state points, documents, files and HDF5 data."""
    out = {}
    for job in project:
        files = {}
        for dirpath, _, names in os.walk(job.path):
            for name in names:
                full = os.path.join(dirpath, name)
                rel = os.path.relpath(full, job.path)
                if name.endswith(".h5"):
                    continue
                with open(full, "rb") as f:
                    files[rel] = f.read()
        data = {}
        if job.isfile("signac_data.h5"):
            data = {k: np.asarray(v).tolist() for k, v in job.data.to_dict().items()}
        out[job.id] = (job.sp(), job.doc(), files, data)
    return out


@pytest.fixture
def rich(project):
    for a in range(3):
        for b in ("plain", "with/slash", "1"):
            job = project.open_job({"a": a, "b": b, "f": a / 2, "n": None, "t": a == 1}).init()
            job.doc.result = a * 2
            job.data["arr"] = np.arange(a + 2)
            os.makedirs(job.fn("out/deep"))
            with open(job.fn("out/deep/log.txt"), "w") as f:
                f.write(f"log {a} {b}\n")
    return project


@pytest.mark.parametrize("ending", FORMATS)
def test_round_trip_every_format(rich, tmp_path, ending):
    target = tmp_path / f"exp{ending}"
    result = archive.export_jobs(rich, target)
    assert result.jobs == 9 and os.path.exists(target)
    assert not [n for n in os.listdir(tmp_path) if "suite-tmp" in n]
    assert archive.verify(target).ok
    other = suite.init_project(tmp_path / "other")
    imported = archive.import_jobs(other, target)
    assert len(imported.imported) == 9
    assert snapshot(other) == snapshot(rich)


@pytest.mark.parametrize("ending", FORMATS)
def test_round_trip_keeps_file_modes_and_mtimes(project, tmp_path, ending):
    job = project.open_job({"a": 1}).init()
    files = {"run.sh": (b"#!/bin/sh\necho hi\n", 0o755, 1_600_000_000),
             "private.txt": (b"mine", 0o600, 1_500_000_001),
             "big.bin": (os.urandom(300_000), 0o750, 1_400_000_000)}  # past the small-file path
    os.makedirs(job.fn("out/deep"))
    files["out/deep/result.txt"] = (b"42\n", 0o640, 1_300_000_000)
    for name, (data, mode, mtime) in files.items():
        with open(job.fn(name), "wb") as f:
            f.write(data)
        os.chmod(job.fn(name), mode)
        os.utime(job.fn(name), (mtime, mtime))
    dirs = {"out": (0o750, 1_200_000_000), "out/deep": (0o711, 1_100_000_000)}
    for name, (mode, mtime) in dirs.items():
        os.chmod(job.fn(name), mode)
        os.utime(job.fn(name), (mtime, mtime))
    target = tmp_path / f"exp{ending}"
    archive.export_jobs(project, target)
    other = suite.init_project(tmp_path / "other")
    archive.import_jobs(other, target)
    umask = os.umask(0o022)
    os.umask(umask)
    got = other.open_job({"a": 1})
    for name, (data, mode, mtime) in files.items():
        st = os.stat(got.fn(name))
        assert st.st_mode & 0o7777 == mode & ~umask, name
        assert abs(st.st_mtime - mtime) <= (2 if ending == ".zip" else 0), name
        with open(got.fn(name), "rb") as f:
            assert f.read() == data
    for name, (mode, mtime) in dirs.items():  # directories too (always usable by the owner)
        st = os.stat(got.fn(name))
        assert st.st_mode & 0o7777 == mode & ~umask | 0o700, name
        assert abs(st.st_mtime - mtime) <= (2 if ending == ".zip" else 0), name


def test_format_is_recognised_by_content(rich, tmp_path):
    archive.export_jobs(rich, tmp_path / "a.tar.zst")
    os.rename(tmp_path / "a.tar.zst", tmp_path / "misleading.zip")
    other = suite.init_project(tmp_path / "o")
    assert len(archive.import_jobs(other, tmp_path / "misleading.zip").imported) == 9


def test_schema_layout_and_manifest(rich, tmp_path):
    target = tmp_path / "tree"
    archive.export_jobs(rich, target, schema="a_<a>/<b>")
    assert (target / "a_0" / "plain" / "signac_statepoint.json").is_file()
    assert (target / "a_1" / "with%2Fslash" / "out" / "deep" / "log.txt").is_file()
    assert (target / "a_2" / "'1").is_dir()  # the string "1", not the number
    import json

    manifest = json.loads((target / "suite-manifest.json").read_text())
    assert manifest["schema"] == "a_<a>/<b>"
    assert manifest["constant"] == {"n": None}
    entry = manifest["jobs"][0]
    assert set(entry) >= {"id", "path", "statepoint", "files"}
    assert all(set(info) == {"size", "sha256"} for info in entry["files"].values())


def test_manifestless_tree_imports_by_schema_with_same_ids(rich, tmp_path):
    target = tmp_path / "tree"
    archive.export_jobs(rich, target, schema="<a>/<b>/<f>/<n>/<t>")
    os.unlink(target / "suite-manifest.json")
    for dirpath, _, names in os.walk(target):
        if "signac_statepoint.json" in names:
            os.unlink(os.path.join(dirpath, "signac_statepoint.json"))
    other = suite.init_project(tmp_path / "o")
    with pytest.raises(archive.ArchiveError, match="give --schema"):
        archive.import_jobs(other, target)
    result = archive.import_jobs(other, target, schema="<a>/<b>/<f>/<n>/<t>")
    assert sorted(result.imported) == sorted(j.id for j in rich)


def test_cursor_and_project_api(rich, tmp_path):
    cursor = rich.find_jobs({"a": 0})
    result = cursor.export_to(tmp_path / "part.zip")  # signac's {job dir: exported path}
    assert sorted(result) == sorted(j.path for j in cursor)
    other = suite.init_project(tmp_path / "o")
    assert sorted(other.import_from(tmp_path / "part.zip")) == sorted(j.id for j in cursor)
    assert len(rich.export_to(tmp_path / "all.tar")) == 9


def test_move_removes_exported_jobs(rich, tmp_path):
    archive.export_jobs(rich, tmp_path / "m.tar.gz", jobs=rich.find_jobs({"a": 2}), move=True)
    assert len(rich) == 6
    assert len(archive.import_jobs(rich, tmp_path / "m.tar.gz").imported) == 3


statepoint_values = st.one_of(
    st.integers(-1000, 1000), st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(), st.none(), st.text(max_size=8),
)


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(sps=st.lists(st.fixed_dictionaries({"x": statepoint_values, "y": statepoint_values}),
                    min_size=1, max_size=5, unique_by=lambda d: repr(sorted(d.items()))),
       ending=st.sampled_from([".tar.zst", ".zip", ""]),
       schema=st.sampled_from([None, "<x>/<y>", "x_<x>/y_<y>", "<id>", "<y>/<id>"]))
def test_round_trip_property(tmp_path_factory, sps, ending, schema):
    base = tmp_path_factory.mktemp("rt")
    project = suite.init_project(base / "p")
    ids = set()
    for i, sp in enumerate(sps):
        job = project.open_job(sp)
        if job.id in ids:
            continue
        ids.add(job.id)
        job.init()
        job.doc.i = i
    try:
        archive.export_jobs(project, base / f"e{ending}", schema=schema)
    except suite.SuiteError as exc:  # only collisions (e.g. 1 and 1.0 share no path) allowed
        assert "same path" in str(exc) or "read back" in str(exc)
        return
    other = suite.init_project(base / "o")
    archive.import_jobs(other, base / f"e{ending}")
    assert snapshot(other) == snapshot(project)


_tricky_text = st.lists(st.sampled_from(['}', '{', ',', ' ', '"', '\\', 'id', ':', '\n', 'ü',
                                         '}, {"id": "']), max_size=6).map("".join)
_sp_values = st.recursive(st.one_of(st.integers(), _tricky_text, st.none()),
                          lambda inner: st.lists(inner, max_size=3)
                          | st.dictionaries(_tricky_text, inner, max_size=3), max_leaves=8)


@given(st.lists(st.dictionaries(_tricky_text, _sp_values, max_size=3), max_size=5))
def test_manifest_text_is_the_manifest_one_job_per_line(sps):
    """The manifest's text reads back to the manifest, whatever the state points hold
    (strings shaped like the line break's marker, objects with "id" keys in lists), and each
    job starts a line of its own."""
    from archive import manifest as mf

    jobs = [{"id": f"{i:032x}", "path": f"p/{i}", "statepoint": sp,
             "files": {"f": {"size": 1, "sha256": "0" * 64}}} for i, sp in enumerate(sps)]
    manifest = mf.build("p/<id>", {}, jobs)
    text = mf.dumps(manifest).decode()
    assert json.loads(text) == manifest
    lines = text.splitlines()
    starts = [next(i for i, line in enumerate(lines)
                   if line.startswith(f'{{"id": "{j["id"]}", "path": "{j["path"]}"')) for j in jobs]
    assert starts == sorted(set(starts))


def test_export_and_import_leave_the_garbage_collector_as_they_found_it(tmp_path):
    """Both run with cyclic collection paused; it is back on afterwards, after a refusal too,
    and stays off where the caller had turned it off."""
    import gc

    p = suite.init_project(tmp_path / "p")
    p.open_job({"a": 1}).init()
    target = tmp_path / "out.tar.zst"
    archive.export_jobs(p, target)
    assert gc.isenabled()
    with pytest.raises(suite.errors.DestinationExistsError):
        archive.export_jobs(p, target)
    assert gc.isenabled()
    q = suite.init_project(tmp_path / "q")
    assert len(archive.import_jobs(q, target).imported) == 1
    assert gc.isenabled()
    with pytest.raises(archive.ArchiveError):
        archive.import_jobs(q, tmp_path / "missing.tar.zst")
    assert gc.isenabled()
    gc.disable()
    try:
        archive.export_jobs(p, tmp_path / "again.tar.zst")
        assert not gc.isenabled()
    finally:
        gc.enable()


@pytest.mark.parametrize("key", ["", "a:b", "a/b", " a", "<a>", "{a}"])
def test_export_of_keys_no_field_can_name(project, tmp_path, key):
    """The default layout leaves such keys out (a project keyed only by them is laid out by
    id), and the archive still imports every state point as it was."""
    for i in range(3):
        project.open_job({key: i, "other": {"x": i % 2}}).init()
    target = tmp_path / "odd.tar.zst"
    assert archive.export_jobs(project, target).jobs == 3
    other = suite.init_project(tmp_path / "other")
    assert len(archive.import_jobs(other, target).imported) == 3
    assert snapshot(other) == snapshot(project)
