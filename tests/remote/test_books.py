"""Submission books travel with sync: merged as a union, each location's own entries
replacing what the other side knew of it (so finished ones go), and what is known queued or
running elsewhere is not submitted here (unless --force). Local paths: no SSH needed."""

import subprocess
import sys
import time

import suite
import sync
from suite.flow import book
from tests.remote.conftest import WORKFLOW


def cli(project, *args):
    return subprocess.run([sys.executable, "-m", "suite", *args], cwd=project.path,
                          capture_output=True, text=True, timeout=120)


def test_books_travel_with_sync_and_block_duplicates(tmp_path, monkeypatch, private_tmpdir):
    monkeypatch.setenv("SUITE_SCHEDULER", "direct")
    laptop = suite.init_project(tmp_path / "laptop")
    (tmp_path / "laptop" / "workflow.py").write_text(
        WORKFLOW.replace("echo done > out.txt", "sleep 3; echo done > out.txt"))
    for a in range(2):
        laptop.open_job({"a": a}).init()
    sync.sync(laptop, str(tmp_path / "b"), init=True)
    sync.sync(laptop, str(tmp_path / "c"), init=True)
    sync.add_remote(laptop, "b", str(tmp_path / "b"))
    sync.add_remote(laptop, "c", str(tmp_path / "c"))
    done = cli(laptop, "submit", "--on", "b", "-o", "simulate")
    assert "b: submitted 2 script(s) to direct" in done.stdout, done.stderr
    assert sorted(e["where"] for e in book.load(laptop).values()) == ["b", "b"]
    # c learns of b's work through a sync with the laptop, and does not submit it again
    assert cli(laptop, "sync", "c").returncode == 0
    c = suite.get_project(tmp_path / "c")
    assert sorted(e["where"] for e in book.load(c).values()) == ["b", "b"]
    # c's own work runs until the test ends, so that it is still running at the last sync
    # below (a longer sleep was a bet on the load)
    release = tmp_path / "release"
    (tmp_path / "c" / "workflow.py").write_text(
        (tmp_path / "laptop" / "workflow.py").read_text().replace(
            "sleep 3", f"while [ ! -e {release} ]; do sleep 0.1; done"))
    try:
        here = cli(c, "submit", "-o", "simulate")
        assert "submitted 0 script(s)" in here.stdout
        assert here.stderr.count("queued or running at b") == 2
        # once b's work is done, b's own word drops it from the laptop's book (asked until it
        # has: under load b's scripts may take longer than their 3 s)
        b, deadline = suite.get_project(tmp_path / "b"), time.monotonic() + 120
        while not all(job.isfile("out.txt") for job in b):
            assert time.monotonic() < deadline, "b's work did not finish in 120 s"
            time.sleep(0.1)
        while True:
            status = cli(laptop, "status", "--on", "b")
            assert status.returncode == 0, status.stderr
            if not [e for e in book.load(laptop).values() if e["where"] == "b"]:
                break
            assert time.monotonic() < deadline, f"b's work still in the book: {book.load(laptop)}"
            time.sleep(0.5)
        # c has not heard that yet: --force overrides what it knows
        forced = cli(c, "submit", "-o", "simulate", "--force", "-n", "1")
        assert "submitted 1 script(s)" in forced.stdout
        # a sync brings c's running work into the laptop's book (its job is left alone: exit 5),
        # and the laptop's newer word on b to c
        synced = cli(laptop, "sync", "c")
        assert synced.returncode == 5 and "ACTIVE" in synced.stdout, synced.stdout + synced.stderr
        assert [e["where"] for e in book.load(laptop).values()] == ["c"]
        assert [e for e in book.load(c).values() if e.get("where") == "b"] == []
    finally:
        release.touch()  # c's work ends
