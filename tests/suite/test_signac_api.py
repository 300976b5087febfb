"""signac 2.4.1's public API on suite: what ``import suite as signac`` scripts rely on.

Each test drives suite through the names a signac script uses (real files, real h5py, a real
process pool); the differences suite keeps on purpose are asserted as errors.
"""

import copy
import json
import multiprocessing
import os
import pickle
import subprocess
import sys

import h5py
import numpy as np
import pytest

import suite
import suite as signac
from suite import errors
from suite.h5store import H5Store, H5StoreManager


def _sp_a(job):  # module level: a Pool pickles it
    return job.id, job.sp.a, job.doc.get("twice"), job.project.path


# -- pickling --------------------------------------------------------------------------------
def test_pool_map_over_find_jobs(project):
    for a in range(6):
        project.open_job({"a": a}).init().doc.twice = 2 * a
    cursor = project.find_jobs({"a": {"$gte": 2}})
    list(cursor)  # the index (an SQLite connection) is open: it must not travel
    with multiprocessing.Pool(2) as pool:
        got = sorted(pool.map(_sp_a, cursor))
    assert got == sorted((j.id, j.sp.a, 2 * j.sp.a, project.path) for j in cursor)
    assert len(got) == 4


def test_pickle_roundtrip_project_job_cursor(project):
    job = project.open_job({"a": 1}).init()
    job.doc.x = 1
    list(project.find_jobs())
    p2, j2, c2 = (pickle.loads(pickle.dumps(o)) for o in (project, job, project.find_jobs({"a": 1})))
    assert p2 == project and p2.config["schema_version"] == "2"
    assert j2 == job and j2.doc.x == 1 and j2.project == project
    assert c2 == project.find_jobs({"a": 1}) and [j.id for j in c2] == [job.id]
    j2.sp.a = 2  # the copy works on its own: it moves the job
    assert job.id not in project and j2.id in project


# -- whole-object assignment -----------------------------------------------------------------
def test_assigning_statepoint_document_and_data(project):
    job = project.open_job({"a": 0}).init()
    old = job.id
    job.sp = {"a": 1}
    assert job.id != old and job in project and old not in project
    job.statepoint = {"a": 2, "b": [1]}
    assert job.sp() == {"a": 2, "b": [1]} and job.statepoint() == {"a": 2, "b": [1]}
    job.doc = {"x": 1}
    job.document = {"y": {"z": 2}}
    assert json.load(open(job.fn(job.FN_DOCUMENT))) == {"y": {"z": 2}}
    job.data = {"arr": np.arange(3), "n": 5}
    with h5py.File(job.fn("signac_data.h5"), "r") as f:
        assert sorted(f) == ["arr", "n"] and list(f["arr"][()]) == [0, 1, 2]
    job.stores.extra = {"v": 1.5}
    job.stores["more"] = [("w", 2)]
    assert job.stores.extra["v"] == 1.5 and job.stores.more["w"] == 2
    project.doc = {"title": "t"}
    assert json.load(open(project.fn("signac_project_document.json"))) == {"title": "t"}


def test_store_assignment_is_never_ignored(project):
    job = project.open_job({"a": 0}).init()
    for bad, exc in (({}, ValueError), ("", ValueError), (0, TypeError), (None, TypeError),
                     ("abc", ValueError)):
        with pytest.raises(exc):
            job.stores.results = bad
    assert "results" not in job.stores
    with pytest.raises(AttributeError):
        job.stores._private = {"a": 1}


def test_moving_onto_an_existing_job_is_refused_with_the_destination(project):
    a = project.open_job({"a": 0}).init()
    b = project.open_job({"b": 0}).init()
    with pytest.raises(errors.DestinationExistsError) as info:
        a.sp = {"b": 0}
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, FileExistsError)
    assert info.value.destination == b and a.sp() == {"a": 0}
    ghost = project.open_job({"c": 0})  # not initialised: only the object changes
    ghost.sp = {"b": 0}
    assert ghost == b


# -- classmethods, subclasses, temporary projects -------------------------------------------
class MyProject(signac.Project):
    pass


def test_classmethods_work_for_subclasses(tmp_path):
    p = MyProject.init_project(str(tmp_path / "p"))
    assert type(p) is MyProject and type(MyProject.get_project(p.path)) is MyProject
    job = p.open_job({"a": 1}).init()
    os.makedirs(job.fn("sub"))
    found = MyProject.get_job(job.fn("sub"))
    assert found == job and type(found.project) is MyProject
    with pytest.raises(LookupError):
        MyProject.get_project(os.path.join(p.path, "workspace"), search=False)
    assert MyProject.get_project(os.path.join(p.path, "workspace")) == p
    with job:
        assert signac.get_job() == job
    os.symlink(job.path, tmp_path / "link")
    assert signac.get_job(str(tmp_path / "link")) == job
    with pytest.raises(LookupError):
        signac.get_job(p.workspace)


def test_temporary_projects(project):
    with signac.TemporaryProject() as tmp:
        tmp.open_job({"a": 1}).init()
        assert len(tmp) == 1 and os.path.isdir(tmp.path)
    assert not os.path.exists(tmp.path)
    with MyProject.init_project(project.path).temporary_project() as inner:
        assert type(inner) is MyProject
        assert os.path.dirname(inner.path) == project.workspace
        assert len(project) == 0  # not taken for a job
    assert not os.path.exists(inner.path)


# -- members ---------------------------------------------------------------------------------
def test_config_is_read_only_and_min_len_unique_id(project):
    assert project.config["schema_version"] == "2"
    with pytest.raises(TypeError):
        project.config["foo"] = "bar"
    assert project.min_len_unique_id() == 0
    ids = [project.open_job({"a": i}).init().id for i in range(20)]
    n = project.min_len_unique_id()
    assert len({i[:n] for i in ids}) == 20 and len({i[:n - 1] for i in ids}) < 20


def test_job_lifecycle_members(project):
    job = project.open_job({"a": 1})
    assert job.FN_STATE_POINT == "signac_statepoint.json"
    assert job.FN_DOCUMENT == "signac_job_document.json"
    cwd = os.getcwd()
    job.open()
    assert os.path.realpath(os.getcwd()) == os.path.realpath(job.path)
    job.close()
    job.close()  # not open: nothing
    assert os.getcwd() == cwd
    job.doc.x = 1
    with open(job.fn("f.txt"), "w") as f:
        f.write("x")
    os.makedirs(job.fn("d"))
    job.clear()
    assert os.listdir(job.path) == [job.FN_STATE_POINT] and job.doc() == {}
    job.remove()
    job.reset()
    assert job in project and os.listdir(job.path) == [job.FN_STATE_POINT]
    cached = job.cached_statepoint
    assert dict(cached) == {"a": 1}
    with pytest.raises(TypeError):
        cached["a"] = 2
    with pytest.raises(ValueError):
        signac.Job(project)


def test_init_force_repairs_a_corrupt_statepoint(project):
    job = project.open_job({"a": 1}).init()
    with open(job.fn(job.FN_STATE_POINT), "w") as f:
        f.write("corrupted")
    with pytest.raises(errors.JobsCorruptedError) as info:
        project.open_job({"a": 1}).init()
    assert info.value.job_ids == [job.id] and isinstance(info.value, errors.JobCorruptedError)
    project.open_job({"a": 1}).init(force=True)
    assert json.load(open(job.fn(job.FN_STATE_POINT))) == {"a": 1}


def test_check_raises_and_check_report_keeps_the_report(project):
    good = project.open_job({"a": 1}).init()
    bad = project.open_job({"a": 2}).init()
    project.check()
    with open(bad.fn(bad.FN_STATE_POINT), "w"):
        pass
    with pytest.raises(errors.JobsCorruptedError) as info:
        project.check()
    assert info.value.job_ids == [bad.id] and good.id not in info.value.job_ids
    report = project.check_report()
    assert [p.kind for p in report.problems] == ["statepoint"]


def test_repair_moves_misnamed_jobs(project):
    job = project.open_job({"a": 1}).init()
    wrong = os.path.join(project.workspace, "0" * 32)
    os.rename(job.path, wrong)
    with pytest.raises(errors.JobsCorruptedError):
        project.check()
    project.repair()
    assert job in project and not os.path.exists(wrong)
    project.check()


def test_clone_update_cache_and_cursor_indexing(project, tmp_path):
    other = signac.init_project(str(tmp_path / "other"))
    jobs = [project.open_job({"a": i}).init() for i in range(4)]
    jobs[0].doc.x = 1
    copy_ = other.clone(jobs[0])
    assert copy_ in other and copy_.doc.x == 1 and jobs[0] in project
    with pytest.raises(errors.DestinationExistsError) as info:
        other.clone(jobs[0])
    assert info.value.destination == copy_
    project.update_cache()
    cursor = project.find_jobs()
    assert [j.id for j in cursor] == [cursor[i].id for i in range(4)]
    assert [j.id for j in cursor[1:3]] == [j.id for j in list(cursor)[1:3]]


def test_neighbors(project):
    for a in (1, 2, 3):
        for b in ("x", "y"):
            project.open_job({"a": a, "b": b, "twice": 2 * a}).init()
    with pytest.raises(ValueError, match="'twice'"):
        project.get_neighbors(ignore=["a", "twice"])  # then only b is left: jobs collide
    nl = project.get_neighbors(ignore=["twice"])
    mid = project.open_job({"a": 2, "b": "x", "twice": 4})
    assert nl[mid.id]["a"] == {1: project.open_job({"a": 1, "b": "x", "twice": 2}).id,
                               3: project.open_job({"a": 3, "b": "x", "twice": 6}).id}
    assert nl[mid.id]["b"] == {"y": project.open_job({"a": 2, "b": "y", "twice": 4}).id}
    assert mid.get_neighbors(ignore=["twice"]) == nl[mid.id]
    with pytest.warns(RuntimeWarning, match="nope"):
        project.get_neighbors(ignore=["twice", "nope"])


def test_linked_view_export_and_import_with_signac_paths(project, tmp_path):
    for a in range(3):
        for b in ("u", "v"):
            project.open_job({"a": a, "b": b}).init()
    links = project.create_linked_view(str(tmp_path / "view"), path="b/{b}/{{auto}}")
    assert len(links) == 6
    job = project.open_job({"a": 2, "b": "v"})
    leaf = tmp_path / "view" / "b" / "v" / "a" / "2" / "job"
    assert os.path.realpath(leaf) == os.path.realpath(job.path)
    assert links[job.path] == str(tmp_path / "view" / "b" / "v" / "a" / "2")
    project.create_linked_view(str(tmp_path / "view"), job_ids=[job.id])
    assert not os.path.lexists(tmp_path / "view" / "b" / "u")
    with pytest.raises(RuntimeError):
        project.export_to(str(tmp_path / "bad"), path="same")
    with pytest.raises(errors.UnsupportedError, match="path string"):
        project.export_to(str(tmp_path / "bad"), path=lambda job: "x")
    out = project.export_to(str(tmp_path / "out"), path="a_{job.sp.a}/{b}")
    assert out[job.path] == str(tmp_path / "out" / "a_2" / "v")
    assert os.path.isfile(tmp_path / "out" / "a_2" / "v" / job.FN_STATE_POINT)
    with project.temporary_project() as tmp:
        assert sorted(tmp.import_from(str(tmp_path / "out"))) == sorted(j.id for j in project)
    moved = project.find_jobs({"a": 0}).export_to(str(tmp_path / "moved.tar"),
                                                  copytree=os.replace)
    assert len(moved) == 2 and len(project) == 4


def test_job_and_project_sync(project, tmp_path):
    src, dst = project.open_job({"a": 1}).init(), project.open_job({"a": 2}).init()
    for job, text in ((src, "new"), (dst, "old")):
        with open(job.fn("f.txt"), "w") as f:
            f.write(text)
    src.doc.k = {"x": 1, "y": 2}
    dst.doc.k = {"x": 0}
    with pytest.raises(errors.FileSyncConflict):
        dst.sync(src)
    dst.sync(src, signac.sync.FileSync.never, doc_sync=False)
    assert open(dst.fn("f.txt")).read() == "old"
    with pytest.raises(errors.DocumentSyncConflict):
        dst.sync(src, signac.sync.FileSync.always)
    assert dst.doc() == {"k": {"x": 0}}  # nothing half-merged
    dst.sync(src, signac.sync.FileSync.always, doc_sync=signac.sync.DocSync.ByKey("k.x"))
    assert open(dst.fn("f.txt")).read() == "new" and dst.doc() == {"k": {"x": 1, "y": 2}}
    other = signac.init_project(str(tmp_path / "other"))
    other.sync(project)
    assert {j.id for j in other} == {j.id for j in project}
    with pytest.raises(ValueError):
        project.sync(project)


def test_core_does_not_load_sync_or_h5py(tmp_path):
    # the project in tmp_path: a tempfile.mkdtemp() of the child was never removed (a
    # tmpXXXX/workspace left in $TMPDIR by every run)
    code = ("import sys, suite\n"
            "p = suite.init_project(sys.argv[1])\n"
            "a = p.open_job({'a': 1}).init(); b = p.open_job({'a': 2})\n"
            "b.sync(a); list(p.find_jobs()); suite.diff_jobs(a, b)\n"
            "assert 'sync' not in sys.modules and 'h5py' not in sys.modules, sys.modules\n")
    subprocess.run([sys.executable, "-c", code, str(tmp_path / "p")], check=True)


# -- buffered mode ---------------------------------------------------------------------------
def test_buffered_helpers_and_one_buffer_per_file(project):
    job = project.open_job({"a": 0}).init()
    assert not signac.is_buffered() and signac.get_current_buffer_size() == 0
    with signac.buffered(buffer_capacity=5):
        assert signac.is_buffered() and signac.get_buffer_capacity() == 5
        job.doc.x = 1
        twin = project.open_job(id=job.id)
        assert twin.doc.x == 1  # another object of the same file sees the buffered value
        twin.doc.y = 2
        assert signac.get_current_buffer_size() == 1
        assert not os.path.exists(job.fn(job.FN_DOCUMENT))
    assert json.load(open(job.fn(job.FN_DOCUMENT))) == {"x": 1, "y": 2}
    assert not signac.is_buffered()
    assert signac.get_buffer_capacity() == suite.synced.DEFAULT_BUFFER_CAPACITY


def test_full_buffer_is_written_early(project):
    jobs = [project.open_job({"a": i}).init() for i in range(3)]
    with signac.buffered(buffer_capacity=2):
        for job in jobs:
            job.doc.x = job.sp.a
        assert os.path.exists(jobs[0].fn(jobs[0].FN_DOCUMENT))  # flushed when full
    assert [j.doc.x for j in jobs] == [0, 1, 2]


# -- H5Store ---------------------------------------------------------------------------------
def test_h5store_modes_keys_and_open_twice(tmp_path):
    fn = str(tmp_path / "s.h5")
    for bad in (None, "", 123):
        with pytest.raises(ValueError):
            H5Store(bad)
    store = H5Store(fn)
    store["a/b"] = 1
    assert store["a"]["b"] == 1 and "a/b" in store
    with pytest.raises(errors.InvalidKeyError):
        store["a.b"] = 1
    store.open()
    with pytest.raises(errors.H5StoreAlreadyOpenError):
        store.open()
    assert store.mode == "r+"
    store.close()
    with H5Store(fn, mode="r") as ro:
        assert ro.mode == "r" and ro["a"]["b"] == 1
    with pytest.raises(errors.H5StoreClosedError):
        store.file  # noqa: B018
    assert repr(eval(repr(store))) == repr(store)
    del store.a
    assert "a" not in store


def test_h5store_passes_libver_and_swmr(tmp_path):
    fn = str(tmp_path / "s.h5")
    with H5Store(fn, libver="latest") as writer:
        writer["x"] = np.arange(3)
        assert writer.file.libver == ("v118", "v118") or writer.file.libver[0] != "earliest"
        writer.file.swmr_mode = True
        with H5Store(fn, mode="r", swmr=True) as reader:
            assert list(reader["x"][()]) == [0, 1, 2]


def test_h5store_manager_prefix(tmp_path):
    mgr = H5StoreManager(prefix=str(tmp_path))
    assert eval(repr(mgr)) == mgr and pickle.loads(pickle.dumps(mgr)) == mgr
    mgr["s"] = {"x": 1}
    assert list(mgr) == ["s"] and mgr.s["x"] == 1
    with pytest.raises(KeyError):
        del mgr["missing"]


# -- diff, schema, reprs ---------------------------------------------------------------------
def test_diff_jobs_is_signacs_dict(project):
    a = project.open_job({"a": 0, "b": {"c": True, "d": 11}, "l": [1, 2]})
    b = project.open_job({"a": 0, "b": {"c": True, "d": 4}, "l": [1, 2]})
    c = project.open_job({"a": 0.0, "b": {"c": True, "d": 4}, "l": [1, 2]})
    assert signac.diff_jobs(a, b) == {a.id: {"b": {"d": 11}}, b.id: {"b": {"d": 4}}}
    assert signac.diff_jobs(a) == {a.id: {}} and signac.diff_jobs() == {}
    assert signac.diff_jobs(b, c) == {b.id: {"a": 0}, c.id: {"a": 0.0}}  # strict, unlike signac
    assert suite.diff.compare_jobs(a, b).keys == ["b.d"]


def test_schema_shape_equality_difference_format(project):
    for i in range(6):
        project.open_job({"const": 0, "a": i, "l": [i, 0], "g": [{"h": 1}]}).init()
    s = project.detect_schema()
    assert s["a"][int] == set(range(6)) and s["l"][tuple] == {(i, 0) for i in range(6)}
    assert str(s) == s.format() and "'a': 'int([0, 1, 2, ..., 4, 5], 6)'" in s.format()
    assert s.format(depth=1).startswith("{'a': 'int(")
    assert s == project.detect_schema() and s != project.detect_schema(exclude_const=True)
    assert project.detect_schema(exclude_const=True).keys() == ["a", "l"]
    assert s.difference(project.detect_schema(exclude_const=True)) == {"const", "g"}
    assert suite.schema.detect_schema([{"a": 1}, {"a": 2, "b": "x"}]).keys() == ["a", "b"]


def test_str_and_reprs_evaluate_back(project):
    from suite import Job, Project  # noqa: F401  (eval needs them)

    job = project.open_job({"a": 1, "s": "x"})
    assert str(project) == project.path
    assert eval(repr(project)) == project and eval(repr(job)) == job
    cursor = project.find_jobs({"a": 1})
    assert eval(repr(cursor)) == cursor


def test_repr_html_escapes(project):
    job = project.open_job({"k": "<b>&"}).init()
    for html in (project._repr_html_(), project.find_jobs()._repr_html_(), job._repr_html_(),
                 project.detect_schema()._repr_html_()):
        assert "&lt;b&gt;&amp;" in html and "<b>&" not in html


# -- errors ----------------------------------------------------------------------------------
def test_error_classes_keep_suites_bases(project):
    assert issubclass(errors.JobsCorruptedError, errors.JobCorruptedError)
    assert issubclass(errors.WorkspaceError, OSError)
    assert issubclass(errors.KeyTypeError, TypeError)
    assert issubclass(errors.KeyTypeError, errors.InvalidStatepointError)
    job = project.open_job({"a": 0}).init()
    with pytest.raises(errors.KeyTypeError):
        job.sp[1] = 2
    with pytest.raises(TypeError):
        job.sp.a = object()
    with pytest.raises(errors.InvalidKeyError):
        project.open_job({"a.b": 1})


def test_broken_workspace_is_an_error(tmp_path):
    p = signac.init_project(str(tmp_path / "p"))
    os.rmdir(p.workspace)
    assert list(p.find_jobs()) == []  # missing: an empty project
    os.symlink(str(tmp_path / "gone"), p.workspace)
    with pytest.raises(errors.WorkspaceError, match="gone"):
        list(p.find_jobs())
    os.unlink(p.workspace)
    open(p.workspace, "w").close()
    with pytest.raises(errors.WorkspaceError, match="not a directory"):
        len(p.find_jobs())


def test_unsupported_names_say_what_to_use(project):
    with pytest.raises(errors.UnsupportedError, match="find_jobs"):
        signac.Collection  # noqa: B018
    assert not hasattr(signac, "Collection")
    with pytest.raises(errors.UnsupportedError, match="FileSync.always"):
        signac.sync.FileSync.Ask()
    with pytest.raises(errors.UnsupportedError, match="temporary_project"):
        project.import_from(project.path, sync=True)


def test_copy_of_a_job_is_independent(project):
    job = project.open_job({"a": 0}).init()
    twin = copy.deepcopy(job)
    twin.sp.a = 1
    assert job not in project and twin in project


def test_every_public_signac_name_exists():
    real = pytest.importorskip("signac")
    import signac.h5store
    import signac.project
    import signac.schema
    import signac.sync

    from suite import cursor, schema, signac_sync

    assert [n for n in real.__all__ if not hasattr(suite, n)] == []
    pairs = [(real.Project, suite.Project), (real.job.Job, suite.Job),
             (signac.project.JobsCursor, cursor.JobsCursor),
             (signac.h5store.H5StoreManager, H5StoreManager),
             (signac.schema.ProjectSchema, schema.ProjectSchema),
             (signac.sync.FileSync, signac_sync.FileSync),
             (signac.sync.DocSync, signac_sync.DocSync)]
    for theirs, ours in pairs:
        missing = [n for n in dir(theirs) if not n.startswith("_") and not hasattr(ours, n)]
        assert missing == [], (theirs.__name__, missing)
    assert [n for n in ("sync_jobs", "sync_projects") if not hasattr(signac_sync, n)] == []
    assert [n for n in dir(real.errors) if n[0].isupper() and not hasattr(errors, n)] == []


def test_buffered_block_does_not_overwrite_a_file_changed_meanwhile(project):
    job, other = project.open_job({"a": 0}).init(), project.open_job({"a": 1}).init()
    job.doc.x = 0
    with pytest.raises(errors.BufferedError) as info:
        with signac.buffered():
            job.doc.x = 1
            other.doc.y = 1
            with open(job.fn(job.FN_DOCUMENT), "w") as f:  # another writer, in place
                f.write('{"x": "theirs", "padding": 1}')
    assert info.value.files == {job.fn(job.FN_DOCUMENT): {"x": 1}}
    assert job.doc() == {"x": "theirs", "padding": 1}  # kept
    assert other.doc() == {"y": 1}  # the rest was written


def test_repair_restores_statepoint_files_from_the_index(project):
    jobs = [project.open_job({"a": i}).init() for i in range(3)]
    project.update_cache()
    os.remove(jobs[0].fn(jobs[0].FN_STATE_POINT))
    open(jobs[1].fn(jobs[1].FN_STATE_POINT), "w").close()
    with pytest.raises(errors.JobsCorruptedError) as info:
        project.check()
    assert sorted(info.value.job_ids) == sorted(j.id for j in jobs[:2])
    project.repair()
    project.check()
    assert [json.load(open(j.fn(j.FN_STATE_POINT))) for j in jobs] == [{"a": i} for i in range(3)]
    unknown = os.path.join(project.workspace, "f" * 32)
    os.makedirs(unknown)  # no state point anywhere: cannot be repaired
    with pytest.raises(errors.JobsCorruptedError) as info:
        project.repair()
    assert info.value.job_ids == ["f" * 32]


# -- lists and dicts of state points and documents: a list's and a dict's methods -------------
def test_synced_lists_have_the_list_methods(project):
    job = project.open_job({"a": [2, 1]}).init()
    job.doc.l = [3, 1, 3]
    assert job.doc.l.index(1) == 1 and job.doc.l.index(3, 1) == 2
    with pytest.raises(ValueError):
        job.doc.l.index(7)
    assert job.doc.l.count(3) == 2 and job.doc.l.count(9) == 0
    job.doc.l.reverse()
    assert job.doc.l == [3, 1, 3][::-1] and list(reversed(job.doc.l)) == [3, 1, 3]
    lst = job.doc.l
    lst += [4, np.int64(5)]  # in place, written through, the same object back
    assert lst is not None and job.doc()["l"] == [3, 1, 3, 4, 5]
    job.doc.l += (6,)
    assert json.load(open(job.fn("signac_job_document.json")))["l"] == [3, 1, 3, 4, 5, 6]
    job.doc.l.clear()
    assert job.doc.l == [] and job.doc()["l"] == []
    # the state point's lists are read as lists; changing one moves the job, as in signac
    assert job.sp.a.index(1) == 1 and job.sp.a.count(2) == 1


def test_synced_lists_order_like_lists(project):
    # sorting jobs by a list-valued key (signac's lists compare as lists)
    for a in ([2, 0], [1, 5], [1, 2]):
        project.open_job({"a": a}).init()
    assert [j.sp.a() for j in sorted(project, key=lambda j: j.sp.a)] == [[1, 2], [1, 5], [2, 0]]
    job = project.open_job({"a": [1, 5]})
    assert job.sp.a < [2] and job.sp.a <= [1, 5] and job.sp.a > [1] and job.sp.a >= [1, 5]
    assert not job.sp.a < [1, 5] and [0] < job.sp.a
    with pytest.raises(TypeError):
        assert job.sp.a < 3


def test_synced_dicts_popitem(project):
    job = project.open_job({"a": 1}).init()
    job.doc.update({"x": 1, "y": {"z": 2}})
    assert list(reversed(job.doc)) == ["y", "x"]
    assert job.doc.popitem() == ("y", {"z": 2})
    assert job.doc() == {"x": 1} and json.load(open(job.fn("signac_job_document.json"))) == {
        "x": 1}
    job.doc.popitem()
    with pytest.raises(KeyError):
        job.doc.popitem()
