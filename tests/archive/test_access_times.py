"""An export only reads the jobs: the access times of their directories and files stay as
they were, in every format (the Python walk, _add_tree, and the tar writer's native loop),
as the index's readers leave them (suite.jsonio.open_quietly)."""

import pytest

from archive.export import export_jobs
from tests.access_times import aged_project, moved


@pytest.mark.parametrize("target", ["out", "out.tar", "out.tar.gz", "out.zip"])
def test_export_leaves_access_times(tmp_path, target):
    project, paths = aged_project(tmp_path / "p")
    export_jobs(project, str(tmp_path / target))
    assert moved(paths) == []
