"""Asking the scheduler which submissions still run drops the finished ones from the book.
A submission recorded by another process while the scheduler is being asked must survive
that: once it did not (read, ask, write back the old book), and a lost record lets the
same operation be submitted twice."""

import subprocess
import sys
import textwrap
import time

import suite
from schedulers import Direct
from suite.flow import book
from suite.flow.submit import active_pairs

RECORD = textwrap.dedent("""
    import sys, time
    import suite
    from suite.flow import book
    project = suite.get_project(sys.argv[1])
    with book.locked(project):
        b = book.load(project)
        book.record(project, b, "new-1", "direct", [["work", "j2"]], time.time())
        book.save(project, b)
""")


class SlowDirect(Direct):
    """The direct scheduler, but while it is asked another process records a submission
    (as a ``suite submit`` running at the same moment would)."""

    def __init__(self, project, script=RECORD):
        super().__init__()
        self.project, self.script = project, script

    def query(self, ids):
        other = subprocess.Popen([sys.executable, "-c", self.script, self.project.path])
        try:
            other.wait(timeout=20)  # finishes unless something holds the lock meanwhile
        except subprocess.TimeoutExpired:
            pass
        self.other = other
        return {i: "unknown" for i in ids}  # all finished: the scheduler forgot them


def test_pruning_keeps_a_submission_recorded_meanwhile(tmp_path):
    project = suite.init_project(tmp_path / "p")
    b = {}
    book.record(project, b, "old-1", "direct", [["work", "j1"]], time.time() - 60)
    book.record(project, b, "old-2", "direct", [["work", "j3"]], time.time() - 60)
    book.save(project, b)
    scheduler = SlowDirect(project)
    assert active_pairs(project, scheduler) == {}
    scheduler.other.wait(timeout=30)
    assert scheduler.other.returncode == 0
    entries = book.load(project)
    assert "old-1" not in entries and "old-2" not in entries  # the finished ones went
    assert entries["new-1"]["pairs"] == [["work", "j2"]]  # the one recorded meanwhile stayed


def test_the_book_lock_is_reentrant_in_one_thread_only(tmp_path):
    """A submit holds the lock while it prunes (one thread: no deadlock); another thread of
    the same process (the dashboard's) still waits for it."""
    import threading

    project = suite.init_project(tmp_path / "p")
    order = []
    with book.locked(project):
        with book.locked(project):  # would wait for itself forever if not reentrant
            order.append("inner")

        def other():
            with book.locked(project):
                order.append("other")

        t = threading.Thread(target=other)
        t.start()
        t.join(0.5)
        assert t.is_alive()  # waits for this thread's lock
        order.append("released")
    t.join(10)
    assert order == ["inner", "released", "other"]


REUSE = RECORD.replace('"new-1", "direct", [["work", "j2"]]', '"old-1", "direct", [["work", "j4"]]')


def test_pruning_keeps_a_submission_that_reused_a_finished_id(tmp_path):
    """The direct scheduler's ids are process ids, which the system hands out again: a
    submission recorded while the scheduler is asked may take the id of one that finished.
    Pruning drops the entry it asked about, not the new one under the same id."""
    project = suite.init_project(tmp_path / "p")
    b = {}
    book.record(project, b, "old-1", "direct", [["work", "j1"]], time.time() - 60)
    book.save(project, b)
    scheduler = SlowDirect(project, REUSE)
    assert active_pairs(project, scheduler) == {}
    scheduler.other.wait(timeout=30)
    assert scheduler.other.returncode == 0
    assert book.load(project)["old-1"]["pairs"] == [["work", "j4"]]
