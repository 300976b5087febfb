"""Linked views whose prefix or project is reached through a symbolic link: every link must
resolve to its job directory (links resolve from where they physically are)."""

import os

import suite


def _check(view, project):
    seen = 0
    for job in project:
        link = os.path.join(view, "a", str(job.sp.a))
        assert os.path.islink(link)
        assert os.path.samefile(link, job.path), os.readlink(link)
        seen += 1
    assert seen == 2


def _project(path):
    p = suite.init_project(path)
    for a in (1, 2):
        p.open_job({"a": a}).init()
    return p


def test_view_prefix_through_a_link(tmp_path):
    p = _project(tmp_path / "p")
    (tmp_path / "scratch").mkdir()
    os.symlink(tmp_path / "scratch", tmp_path / "p" / "views")
    view = os.path.join(p.path, "views", "v")
    result = p.create_view(view, schema="a/<a>")
    assert result.created == 2
    _check(view, p)
    again = p.create_view(view, schema="a/<a>")
    assert again.unchanged == 2 and again.created == again.updated == 0


def test_project_reached_through_a_link_keeps_links_portable(tmp_path):
    _project(tmp_path / "real")
    os.symlink(tmp_path / "real", tmp_path / "alias")
    p = suite.get_project(tmp_path / "alias")
    view = os.path.join(p.path, "view")
    p.create_view(view, schema="a/<a>")
    _check(view, p)
    link = os.readlink(os.path.join(view, "a", "1"))
    assert link.startswith("../../workspace/"), link  # survives moving the project
    os.rename(tmp_path / "real", tmp_path / "moved")
    _check(os.path.join(tmp_path, "moved", "view"), suite.get_project(tmp_path / "moved"))


def test_workspace_that_is_a_link(tmp_path):
    p = _project(tmp_path / "p")
    os.rename(p.workspace, tmp_path / "ws-real")
    os.symlink(tmp_path / "ws-real", p.workspace)
    view = os.path.join(p.path, "view")
    p.create_view(view, schema="a/<a>")
    _check(view, p)
    assert os.readlink(os.path.join(view, "a", "1")).startswith("../../workspace/")
