"""suite.forked, the one way suite forks: answers (large ones too), a child's exception with
its traceback, a child killed by a signal, a stream of answers, requests served, Ctrl-C,
the parent dying, and pipe ends that stay with their own child."""

import marshal
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from suite import forked
from suite.forked import Child, ChildFailed, can_fork, map_parts
from suite.process import pid_alive

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")


@pytest.fixture(autouse=True)
def alone():
    """Threads of earlier tests (a pipe transport reaping its far process) are waited for:
    the module forks only from a process running its main thread alone."""
    deadline = time.monotonic() + 60
    while threading.active_count() > 1:
        if time.monotonic() > deadline:
            pytest.skip("other threads run in this process")
        time.sleep(0.05)


def _reaped(pid):
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def test_an_answer_comes_back_by_either_codec_and_the_child_is_reaped():
    parent = os.getpid()
    child = Child(lambda: {"pid": os.getpid(), "x": [1, 2.5, "three", None]}, "adding up")
    answer = child.result()
    assert answer["pid"] != parent and answer["x"] == [1, 2.5, "three", None]
    assert child.result() == answer  # the same answer again
    assert child.status == 0 and child.cpu is not None
    _reaped(child.pid)
    assert Child(lambda: (1, "a", b"b"), "plain", codec=marshal).result() == (1, "a", b"b")


def test_an_answer_larger_than_a_pipe_buffer_comes_back_whole():
    big = os.urandom(1 << 20).hex()  # 2 MB; a pipe holds 64 KiB
    assert Child(lambda: big, "a big answer").result() == big
    assert map_parts(lambda k, part: part * 3, [big[:300000], big[1:]]) == \
        [big[:300000] * 3, big[1:] * 3]


def test_an_exception_in_the_child_is_raised_here_with_its_traceback():
    def broken():
        raise KeyError("no such thing")

    child = Child(broken, "looking up")
    with pytest.raises(KeyError, match="no such thing") as err:
        child.result()
    notes = "\n".join(err.value.__notes__)
    assert f"raised in the process looking up, pid {child.pid}" in notes
    assert "in broken" in notes and "Traceback" in notes
    _reaped(child.pid)


def test_an_exception_that_does_not_pickle_comes_back_in_words():
    class Local(Exception):  # a class pickle cannot name
        pass

    def broken():
        raise Local("local words")

    with pytest.raises(ChildFailed, match="Local: local words"):
        Child(broken, "unpicklable").result()


def test_a_child_killed_by_a_signal_is_a_child_failed_naming_the_work():
    child = Child(lambda: os.kill(os.getpid(), signal.SIGKILL), "being killed")
    with pytest.raises(ChildFailed) as err:
        child.result()
    assert "being killed failed" in str(err.value)
    assert "killed by signal 9 (SIGKILL)" in str(err.value)
    assert os.WIFSIGNALED(err.value.status)
    _reaped(child.pid)
    child = Child(lambda: os._exit(3), "leaving early")
    with pytest.raises(ChildFailed, match="ended with status 3 and no answer"):
        child.result()


def test_map_parts_answers_in_part_order_and_raises_the_first_failure():
    cpu = []
    assert map_parts(lambda k, part: (k, sum(part)), [[1, 2], [3], []], cpu=cpu) == \
        [(0, 3), (1, 3), (2, 0)]
    assert len(cpu) == 3 and all(c >= 0 for c in cpu)

    def second_fails(k, part):
        if k == 1:
            raise ValueError("part one is bad")
        if k == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        return part

    with pytest.raises(ValueError, match="part one is bad"):
        map_parts(second_fails, [0, 1, 2])
    with pytest.raises(ValueError, match="marshal"):  # an answer the codec cannot send
        map_parts(lambda k, part: object(), [0])


def test_each_item_is_an_answer_and_an_exception_ends_the_stream():
    def items():
        yield "a"
        yield "b"
        raise OSError(5, "the third is unreadable")

    child = Child(items, "streaming", codec=marshal, each=True)
    assert child.ready(None)
    assert [child.receive(), child.receive()] == ["a", "b"]
    with pytest.raises(OSError, match="the third is unreadable"):
        child.receive()
    child.close()
    _reaped(child.pid)
    child = Child(lambda: iter(range(3)), "counting", codec=marshal, each=True)
    assert [child.receive() for _ in range(3)] == [0, 1, 2]
    with pytest.raises(ChildFailed, match="ended with status 0 and no answer"):
        child.receive()


def test_a_serving_child_answers_requests_until_closed():
    base = 10
    child = Child(lambda: "ready", "serving", serve=lambda n: base + n if n else 1 / n)
    assert not child.serving and child.result() == "ready" and child.serving
    assert child.ask(5) == 15 and child.ask(7) == 17
    with pytest.raises(ZeroDivisionError):
        child.ask(0)
    assert child.ask(1) == 11  # it still serves
    child.close()
    assert child.status == 0 and not child.serving
    _reaped(child.pid)
    child.close()  # idempotent
    child.cancel()


def test_a_later_child_does_not_hold_an_earlier_childs_pipes():
    """A child closes the ends this process holds for other children: closing the requests
    of the first reaches it (it leaves) while a second, forked after it, still runs."""
    first = Child(lambda: "first", "first", serve=lambda request: request)
    assert first.result() == "first"
    second = Child(lambda: time.sleep(30), "second")
    try:
        first.close(wait=False)
        deadline = time.monotonic() + 10
        while first.status is None:
            assert time.monotonic() < deadline, "the first child did not see its requests end"
            time.sleep(0.02)
            first.close(wait=False)
        assert first.status == 0
    finally:
        second.cancel()
    assert os.WIFSIGNALED(second.status)
    assert not forked._held  # every end held is closed


def test_cancel_stops_a_running_child_and_reaps_it():
    child = Child(lambda: time.sleep(60), "sleeping")
    child.cancel()
    assert os.WTERMSIG(child.status) == signal.SIGKILL
    _reaped(child.pid)
    child.cancel()  # idempotent
    with pytest.raises(ChildFailed):
        child.result()


def test_no_fork_while_another_thread_runs():
    assert can_fork()
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait)
    thread.start()
    try:
        assert not can_fork()
    finally:
        stop.set()
        thread.join()
    assert can_fork()


_SCRIPT = textwrap.dedent("""
    import os, signal, sys, time
    from suite.forked import Child, map_parts
    out = sys.argv[1]

    def work(k, part):
        signal.signal(signal.SIGINT, signal.SIG_IGN)  # only a kill ends it
        with open(os.path.join(out, f"child-{os.getpid()}"), "w"):
            pass
        time.sleep(60)

    print("buffered before the fork", end="")  # a pipe: block-buffered, not written yet
    if sys.argv[2] == "map":
        try:
            map_parts(work, [0, 1])
        except KeyboardInterrupt:
            print(" interrupted", end="")
            sys.exit(130)
    else:
        child = Child(lambda: "listed", "serving", serve=lambda r: r)
        child.result()
        with open(os.path.join(out, f"child-{child.pid}"), "w"):
            pass
        time.sleep(60)
""")


def _start(tmp_path, mode):
    proc = subprocess.Popen([sys.executable, "-c", _SCRIPT, str(tmp_path), mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    deadline = time.monotonic() + 60
    want = 2 if mode == "map" else 1
    while len(pids := [int(n.split("-")[1]) for n in os.listdir(tmp_path)
                       if n.startswith("child-")]) < want:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline
        time.sleep(0.05)
    return proc, pids


def _gone(pids, seconds=10):
    deadline = time.monotonic() + seconds
    while any(pid_alive(pid) for pid in pids):
        assert time.monotonic() < deadline, "a child is left"
        time.sleep(0.05)


def test_ctrl_c_in_the_parent_kills_and_reaps_the_children(tmp_path):
    """Ctrl-C to the process group while two children work (ignoring SIGINT): the parent
    kills and reaps them and goes on with its KeyboardInterrupt; what it had buffered before
    the forks is written once."""
    proc, pids = _start(tmp_path, "map")
    try:
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    assert out == "buffered before the fork interrupted"
    _gone(pids)


def test_a_child_leaves_when_its_parent_dies(tmp_path):
    """The parent killed (no cleanup of its own): the child waiting for requests reads their
    end and leaves."""
    proc, pids = _start(tmp_path, "serve")
    try:
        proc.kill()
        proc.communicate(timeout=60)
        _gone(pids)
    finally:
        for pid in pids:
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_only_threads_marked_harmless_leave_forking_allowed():
    release = threading.Event()
    other = threading.Thread(target=release.wait)
    marked = forked.harmless_at_fork(threading.Thread(target=release.wait))
    try:
        marked.start()
        assert forked.can_fork()
        other.start()
        assert not forked.can_fork()
    finally:
        release.set()
        for t in (other, marked):
            if t.ident is not None:  # started
                t.join()
    assert forked.can_fork()


_HELD_BACK = textwrap.dedent("""
    import os, signal, sys, time
    from suite.forked import Child, map_parts

    # a Ctrl-C that comes while the fork of child number argv[2] is under way (SIGINT held
    # back): sent here by this process itself right after that fork, so that it is
    # delivered when SIGINT is let through again, every time
    forks = [0]

    def after_fork():
        forks[0] += 1
        if forks[0] == int(sys.argv[2]):
            os.kill(os.getpid(), signal.SIGINT)

    os.register_at_fork(after_in_parent=after_fork)
    try:
        if sys.argv[1] == "map":
            map_parts(lambda k, part: time.sleep(60), [0, 1, 2])
        else:
            Child(lambda: time.sleep(60), "sleeping")
        print("not interrupted")
    except KeyboardInterrupt:
        try:
            os.waitpid(-1, os.WNOHANG)
            print("a child is left", flush=True)
            os.killpg(0, signal.SIGKILL)  # it and this process: its pipes are not waited for
        except ChildProcessError:
            print("interrupted, no child left")
""")


@pytest.mark.parametrize("mode, at", [("map", 1), ("map", 2), ("map", 3), ("child", 1)])
def test_ctrl_c_held_back_during_a_fork_leaves_no_child(mode, at):
    """A Ctrl-C that comes while a child is forked is held back until the fork is done; when
    it is let through, that child is stopped and reaped too (it was left running, unreaped:
    `suite status --parallel 2` exited on Ctrl-C with a worker still running, when the
    signal came while the second worker was forked)."""
    proc = subprocess.Popen([sys.executable, "-c", _HELD_BACK, mode, str(at)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert out == "interrupted, no child left\n", out + err
