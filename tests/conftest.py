"""Shared fixtures. Service fixtures (sshd, SLURM) skip with a reason when they cannot start,
unless SUITE_REQUIRE_SERVICES=1 (set by .ci/run), which turns those skips into failures."""

import os

import pytest

import suite

# Subprocesses of the tests (the `suite` console script, the far side of SSH sync) import this
# checkout, not whichever checkout the editable install points at.
REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ["PYTHONPATH"] = os.pathsep.join(
    [REPO, *[p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]])


def skip_or_fail(reason):
    """Skip the test, or fail it when services are required (CI)."""
    if os.environ.get("SUITE_REQUIRE_SERVICES") == "1":
        pytest.fail(f"required service unavailable: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def project(tmp_path):
    """An empty project in a temporary directory."""
    return suite.init_project(tmp_path / "project")


@pytest.fixture
def sweep(project):
    """A project with 24 jobs over a small sweep, with documents."""
    with suite.buffered():
        for a in range(4):
            for c in range(3):
                for flag in (True, False):
                    job = project.open_job({"a": a, "b": {"c": c, "d": "x" * c}, "flag": flag})
                    job.init()
                    job.doc.score = a * 10 + c
                    job.doc.tag = "even" if a % 2 == 0 else "odd"
    return project
