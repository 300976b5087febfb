"""Paths from the other side (sync.replica.check_rel): a file inside a job, never a way out."""

import pytest

from sync.replica import SyncError, check_rel

ACCEPTED = ["out.txt", ".hidden", "..x", "x..", "a/b", "a/b/c.h5", "a/.b", "a/..b", "é/ü"]
REFUSED = ["", ".", "..", "/", "/etc/passwd", "a/", "/a", "a//b", "a/./b", "a/../b", "a/..",
           "../a", "./a", "a\\b", "a\x00b", "\x00", None, 5, b"out.txt", ["a"]]


@pytest.mark.parametrize("rel", ACCEPTED)
def test_paths_inside_a_job_are_accepted(rel):
    assert check_rel(rel) == rel


@pytest.mark.parametrize("rel", REFUSED)
def test_paths_that_could_leave_a_job_are_refused(rel):
    with pytest.raises(SyncError, match="refused path from the other side"):
        check_rel(rel)
