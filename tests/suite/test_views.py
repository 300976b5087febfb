"""Linked views: created, updated in place, never destroying what suite did not create."""

import json
import os
import shutil
import subprocess
import sys

import pytest

from suite.pathschema import SchemaCollisionError
from suite.views import MANIFEST, ViewError


def links(prefix):
    out = {}
    for dirpath, dirnames, names in os.walk(prefix):
        for name in names + dirnames:
            full = os.path.join(dirpath, name)
            if os.path.islink(full):
                out[os.path.relpath(full, prefix)] = os.path.realpath(full)
    return out


def test_create_relative_links(sweep):
    result = sweep.create_view(schema="a_<a>/<b.c>/<flag>")
    assert result.created == 24
    view = sweep.fn("view")
    found = links(view)
    assert len(found) == 24
    job = sweep.open_job({"a": 1, "b": {"c": 2, "d": "xx"}, "flag": True})
    assert found["a_1/2/true"] == os.path.realpath(job.path)
    assert not os.path.isabs(os.readlink(os.path.join(view, "a_1/2/true")))
    with open(os.path.join(view, "a_1/2/true", "signac_statepoint.json")) as f:
        assert json.load(f) == job.sp()


def test_survives_moving_the_project(sweep, tmp_path):
    sweep.create_view(schema="<a>/<b.c>/<flag>")
    moved = tmp_path / "moved"
    shutil.move(sweep.path, moved)
    found = links(moved / "view")
    assert len(found) == 24 and all(os.path.isdir(t) for t in found.values())


def test_rerun_updates_in_place(sweep):
    sweep.create_view(schema="<a>/<b.c>/<flag>")
    view = sweep.fn("view")
    again = sweep.create_view(schema="<a>/<b.c>/<flag>")
    assert (again.created, again.removed, again.unchanged) == (0, 0, 24)
    for job in sweep.find_jobs({"a": 3}):
        job.remove()
    new = sweep.open_job({"a": 9, "b": {"c": 0, "d": ""}, "flag": True}).init()
    os.unlink(os.path.join(view, "0/0/true"))  # a link deleted by the user comes back
    result = sweep.create_view(schema="<a>/<b.c>/<flag>")
    assert (result.removed, result.created, result.updated) == (6, 1, 1)  # deleted link re-made
    assert not os.path.exists(os.path.join(view, "3"))  # emptied directories go
    assert os.path.realpath(os.path.join(view, "9/0/true")) == os.path.realpath(new.path)
    assert os.path.islink(os.path.join(view, "0/0/true"))


def test_foreign_files_are_reported_not_touched(sweep):
    sweep.create_view(schema="<a>/<b.c>/<flag>")
    view = sweep.fn("view")
    os.unlink(os.path.join(view, "1/1/false"))
    with open(os.path.join(view, "1/1/false"), "w") as f:
        f.write("my notes")
    with open(os.path.join(view, "1/notes.txt"), "w") as f:
        f.write("keep me")
    for job in sweep.find_jobs({"a": 1}):
        job.remove()
    result = sweep.create_view(schema="<a>/<b.c>/<flag>")
    with open(os.path.join(view, "1/1/false")) as f:
        assert f.read() == "my notes"
    with open(os.path.join(view, "1/notes.txt")) as f:
        assert f.read() == "keep me"
    assert result.removed == 5


def test_conflicting_file_in_the_way(sweep):
    view = sweep.fn("view")
    sweep.create_view(schema="<a>/<b.c>/<flag>")
    job = sweep.open_job({"a": 7, "b": {"c": 0, "d": ""}, "flag": False}).init()
    os.makedirs(os.path.join(view, "7/0"))
    with open(os.path.join(view, "7/0/false"), "w") as f:
        f.write("not a link")
    result = sweep.create_view(schema="<a>/<b.c>/<flag>")
    assert result.conflicts == ["7/0/false"]
    assert not os.path.islink(os.path.join(view, "7/0/false"))
    assert job.id


def test_refuses_non_view_directory_and_collisions(sweep, tmp_path):
    other = tmp_path / "stuff"
    other.mkdir()
    (other / "file").write_text("x")
    with pytest.raises(ViewError, match="not a suite view"):
        sweep.create_view(other)
    with pytest.raises(SchemaCollisionError):
        sweep.create_view(tmp_path / "v2", schema="<a>")
    assert not (tmp_path / "v2" / MANIFEST).exists()


def test_absolute_and_filter(sweep, tmp_path):
    result = sweep.create_view(tmp_path / "abs", absolute=True, filter={"a": 0})
    assert result.created == 6
    target = os.readlink(next(iter(
        os.path.join(d, n) for d, ds, ns in os.walk(tmp_path / "abs") for n in ns + ds
        if os.path.islink(os.path.join(d, n)))))
    assert os.path.isabs(target)


def test_no_symlink_support_is_a_clear_error(sweep, tmp_path, monkeypatch):
    import errno

    def refuse(*args, **kwargs):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "symlink", refuse)
    with pytest.raises(ViewError, match="does not support symbolic links"):
        sweep.create_view(tmp_path / "v")


def test_cli_view(sweep):
    r = subprocess.run(["suite", "view", "mine", "--schema", "<a>/<b.c>/<flag>", "-f", "a 2"],
                       cwd=sweep.path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "6 created" in r.stdout
    assert len(links(os.path.join(sweep.path, "mine"))) == 6


def test_an_edited_manifest_cannot_make_it_delete_outside_the_view(sweep, tmp_path):
    view = str(tmp_path / "view")
    sweep.create_view(view, schema="a_<a>/<b.c>/<flag>")
    outside = tmp_path / "outside"
    (outside / "emptydir").mkdir(parents=True)
    (outside / "emptydir2").mkdir()
    os.symlink("somewhere", outside / "link")
    os.symlink("somewhere", outside / "link2")
    os.symlink("/etc", os.path.join(view, "mine"))  # the user's own link inside the view
    # a directory of the view replaced by a link to outside: a path through it leaves the view
    shutil.rmtree(os.path.join(view, "a_3"))
    os.symlink(str(outside), os.path.join(view, "a_3"))
    os.symlink("x", outside / "true")
    manifest_path = os.path.join(view, MANIFEST)
    with open(manifest_path) as f:
        manifest = json.load(f)
    manifest["links"].update({"../outside/link": "somewhere",
                              str(outside / "link2"): "somewhere",
                              "mine": "/etc", "a_3/true": "x"})
    manifest["dirs"] += ["../outside/emptydir", str(outside / "emptydir2"), "a_3"]
    with open(manifest_path, "w") as f:
        json.dump(manifest, f)
    sweep.create_view(view, schema="a_<a>/<b.c>/<flag>", filter={"a": {"$lt": 2}})
    for name in ("emptydir", "emptydir2", "link", "link2", "true"):
        assert os.path.lexists(outside / name), name
    assert os.readlink(os.path.join(view, "mine")) == "/etc"
    assert len(links(view)) == 12 + 2  # the jobs with a < 2, the user's link and a_3


def test_a_job_whose_state_point_cannot_be_read_is_named_not_left_out_silently(sweep, tmp_path):
    """A view cannot place a job whose state point it cannot read: the job is left out, but
    named (ViewResult.unreadable, with the reason; the CLI: on stderr, exit status 3, as
    find's), for all jobs, a filter, or ids given. Before, the view said "23 created" and
    nothing else: a view one job short without a word."""
    damaged = sweep.open_job({"a": 99, "b": {"c": 0, "d": "zz"}, "flag": False}).init()
    with open(damaged.fn("signac_statepoint.json"), "w") as f:  # before any index has read it
        f.write("{broken")
    result = sweep.create_view(str(tmp_path / "all"))
    assert result.created == 24
    assert list(result.unreadable) == [damaged.id]
    assert "signac_statepoint.json" in result.unreadable[damaged.id]
    result = sweep.create_view(str(tmp_path / "some"), filter={"flag": True})
    assert list(result.unreadable) == [damaged.id]  # it may match: nobody can tell
    others = sweep.find_jobs({"a": 2}, skip_unreadable=True).ids()[:2]
    result = sweep.create_view(str(tmp_path / "ids"), jobs=others)
    assert result.created == 2 and result.unreadable == {}
    result = sweep.create_view(str(tmp_path / "ids2"), jobs=[damaged.id, *others])
    assert result.created == 2 and list(result.unreadable) == [damaged.id]
    done = subprocess.run([sys.executable, "-m", "suite", "view", str(tmp_path / "cli")],
                          cwd=sweep.path, capture_output=True, text=True, timeout=120)
    assert done.returncode == 3, done.stderr
    assert "24 created" in done.stdout
    assert damaged.id in done.stderr and "signac_statepoint.json" in done.stderr
    # with a filter, and with ids and a filter (a filter cannot judge the damaged id)
    for extra, dest in ((["-f", "flag true"], "cli-f"),
                        (["-f", "flag true", "-j", damaged.id, "-j", others[0]], "cli-jf")):
        done = subprocess.run([sys.executable, "-m", "suite", "view", str(tmp_path / dest),
                               *extra], cwd=sweep.path, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 3, done.stderr
        assert damaged.id in done.stderr and "Traceback" not in done.stderr


def test_signacs_linked_view_raises_for_a_job_whose_state_point_cannot_be_read(sweep, tmp_path):
    """signac's create_linked_view reads every state point and raises on a damaged one:
    so does suite's, before linking anything (it used to make a view one job short)."""
    from suite.errors import CorruptStatepointError, JobsCorruptedError

    damaged = sweep.open_job({"a": 99, "b": {"c": 0, "d": "zz"}, "flag": False}).init()
    with open(damaged.fn("signac_statepoint.json"), "w") as f:
        f.write("{broken")
    with pytest.raises(CorruptStatepointError) as caught:
        sweep.create_linked_view(str(tmp_path / "linked"))
    assert isinstance(caught.value, JobsCorruptedError) and caught.value.job_ids == [damaged.id]
    assert not os.path.exists(tmp_path / "linked")
