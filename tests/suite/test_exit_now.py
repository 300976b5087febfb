"""The console script ends ``suite find`` without the interpreter's teardown
(:func:`suite.cli.console`, :func:`suite.process.exit_now`): the same exit statuses, every
byte of the output in a pipe and in a file, exit handlers run; the normal exit when a thread
still runs, and never inside a caller of :func:`suite.cli.main`."""

import os
import subprocess
import sys

import pytest

import suite
from suite.query import parse_cli_filter

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# what the console script generated from pyproject.toml runs, with a hook before it: PRELUDE
CONSOLE = """import sys
{prelude}
from suite.cli import console
sys.argv[0] = "suite"
sys.exit(console())
"""

# an object of the main module freed by the teardown only: its __del__ says whether it ran
FREED = """class Freed:
    def __del__(self):
        sys.stderr.write("torn down\\n")
freed = Freed()
"""


def console(args, cwd, prelude="", stdout=subprocess.PIPE):
    return subprocess.run([sys.executable, "-c", CONSOLE.format(prelude=prelude), *args],
                          cwd=cwd, stdout=stdout, stderr=subprocess.PIPE, text=True,
                          timeout=120)


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    """3,000 jobs: the ids of a find fill more than a pipe's 64 KiB buffer."""
    path = tmp_path_factory.mktemp("many")
    project = suite.init_project(str(path))
    with suite.buffered():
        for i in range(3000):
            job = project.open_job({"i": i, "odd": i % 2})
            job.init()
            if i % 3 == 0:
                job.doc.third = True
    return project


def expected(project, flt):
    return sorted(job.id for job in project.find_jobs(flt))


def test_the_console_script_is_console():
    with open(os.path.join(REPO, "pyproject.toml")) as f:
        assert 'suite = "suite.cli:console"' in f.read()


@pytest.mark.parametrize("words", [["odd", "1"], ["doc.third", "true"], []])
def test_find_output_is_whole_in_a_pipe_and_the_teardown_skipped(many, words):
    r = console(["find", *words], many.path, prelude=FREED)
    assert r.returncode == 0, r.stderr
    flt = parse_cli_filter(words) if words else None
    assert sorted(r.stdout.split()) == expected(many, flt)
    if not words:
        assert len(r.stdout) > 65536  # more than a pipe holds: the reader had to keep up
    assert "torn down" not in r.stderr  # the fast end was taken


def test_find_output_is_whole_in_a_file(many, tmp_path):
    out = tmp_path / "ids.txt"
    with open(out, "w") as f:
        r = console(["find", "odd", "0"], many.path, prelude=FREED, stdout=f)
    assert r.returncode == 0, r.stderr
    assert sorted(out.read_text().split()) == expected(many, {"odd": 0})
    assert "torn down" not in r.stderr


def test_exit_handlers_run_before_the_end_and_their_output_is_flushed(many, tmp_path):
    mark = tmp_path / "mark"
    prelude = ("import atexit\n"
               f"atexit.register(lambda: open({str(mark)!r}, 'w').write('ran'))\n"
               "atexit.register(lambda: print('handler says bye'))\n"
               "def fails():\n    raise RuntimeError('handler failed')\n"
               "atexit.register(fails)\n")
    r = console(["find", "odd", "1"], many.path, prelude=prelude)
    assert r.returncode == 0, r.stderr
    assert mark.read_text() == "ran"
    assert r.stdout.endswith("handler says bye\n")  # printed after the ids, still flushed
    assert "handler failed" in r.stderr  # reported as the interpreter reports it


def test_exit_statuses_and_messages_are_those_of_main(many, tmp_path):
    outside = tmp_path / "nowhere"
    outside.mkdir()
    cases = [(["find", "odd", "1"], many.path), (["find"], str(outside)),
             (["find", "--no-such-option"], many.path), (["find", "odd", "{"], many.path)]
    for args, cwd in cases:
        fast = console(args, cwd)
        plain = subprocess.run(
            [sys.executable, "-c", "import sys; from suite.cli import main; "
             "sys.argv[0] = 'suite'; sys.exit(main())", *args],
            cwd=cwd, capture_output=True, text=True, timeout=120)
        assert (fast.returncode, fast.stdout, fast.stderr) == \
            (plain.returncode, plain.stdout, plain.stderr), args
    assert console(["find"], str(outside)).returncode == 1


def test_python_m_suite_ends_find_the_same_way(many):
    r = subprocess.run([sys.executable, "-m", "suite", "find", "odd", "1"], cwd=many.path,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert sorted(r.stdout.split()) == expected(many, {"odd": 1})


def test_a_running_thread_takes_the_normal_exit(many, tmp_path):
    """The interpreter waits for a thread that is not a daemon: so does the console."""
    prelude = FREED + ("import threading, time\n"
                       "def late():\n    time.sleep(0.5)\n    print('thread done', flush=True)\n"
                       "threading.Thread(target=late).start()\n")
    r = console(["find", "odd", "1"], many.path, prelude=prelude)
    assert r.returncode == 0, r.stderr
    assert r.stdout.endswith("thread done\n")
    assert "torn down" in r.stderr  # the teardown ran


def test_other_commands_and_main_keep_the_teardown(many):
    r = console(["schema"], many.path, prelude=FREED)
    assert r.returncode == 0, r.stderr
    assert "torn down" in r.stderr
    code = ("import sys\nfrom suite.cli import main\n"
            "try:\n    main(['find', 'odd', '1'])\nexcept SystemExit as exc:\n"
            "    print('main returned', exc.code)\nelse:\n    print('main returned')\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=many.path, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1].startswith("main returned")


@pytest.mark.parametrize("code, status", [(None, 0), (0, 0), (3, 3), (255, 255)])
def test_exit_now_statuses(code, status):
    r = subprocess.run([sys.executable, "-c", "import sys; from suite.process import exit_now; "
                        f"print('out', end=''); exit_now({code!r})"],
                       capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stdout) == (status, "out")


@pytest.mark.parametrize("code, status, err", [("'a message'", 1, "a message\n"),
                                               (256, 0, ""), (-1, 255, ""), (True, 1, "")])
def test_exit_now_leaves_other_codes_to_the_interpreter(code, status, err):
    r = subprocess.run([sys.executable, "-c", "import sys; from suite.process import exit_now; "
                        f"exit_now({code})"], capture_output=True, text=True, timeout=60)
    assert (r.returncode, r.stderr) == (status, err)


def closed_pipe_run(script, cwd):
    """``script find`` writing into a pipe whose reading end is closed."""
    read, write = os.pipe()
    os.close(read)
    try:
        return subprocess.run([sys.executable, "-c", script, "find"], cwd=cwd, stdout=write,
                              stderr=subprocess.PIPE, text=True, timeout=120)
    finally:
        os.close(write)


def test_a_closed_pipe_ends_as_before(many):
    """stdout's reader gone: the status and messages main's caller gets (the error, and the
    interpreter's report of the failed flush at its exit) are the console's too."""
    main_script = "import sys; from suite.cli import main; sys.argv[0] = 'suite'; sys.exit(main())"
    fast = closed_pipe_run(CONSOLE.format(prelude=""), many.path)
    plain = closed_pipe_run(main_script, many.path)
    assert (fast.returncode, fast.stderr) == (plain.returncode, plain.stderr)
    assert fast.returncode != 0 and "Broken pipe" in fast.stderr


MAIN = "import sys; from suite.cli import main; sys.argv[0] = 'suite'; sys.exit(main())"


def test_find_into_head_gives_the_first_id_and_ends_as_main_does(many):
    """``suite find | head -1``: head takes one line and leaves; suite's write then fails
    (EPIPE: Python ignores SIGPIPE) and it ends with main's status and messages."""
    runs = []
    for script in (CONSOLE.format(prelude=""), MAIN):
        suite_proc = subprocess.Popen([sys.executable, "-c", script, "find"], cwd=many.path,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        head = subprocess.run(["head", "-1"], stdin=suite_proc.stdout, capture_output=True,
                              timeout=120)
        suite_proc.stdout.close()
        err = suite_proc.stderr.read().decode()
        suite_proc.stderr.close()
        runs.append((suite_proc.wait(timeout=120), err, head.stdout.decode()))
    (fast_code, fast_err, first), (plain_code, plain_err, plain_first) = runs
    assert first == plain_first and first.strip() in expected(many, None)
    assert len(first.split()) == 1
    assert (fast_code, fast_err) == (plain_code, plain_err)


def test_a_full_disk_on_stdout_ends_as_main_does(many):
    """stdout on /dev/full (every write fails with ENOSPC): the console's status and
    messages are main's, and not a success."""
    runs = []
    for script in (CONSOLE.format(prelude=""), MAIN):
        with open("/dev/full", "w") as full:
            runs.append(subprocess.run([sys.executable, "-c", script, "find", "odd", "1"],
                                       cwd=many.path, stdout=full, stderr=subprocess.PIPE,
                                       text=True, timeout=120))
    fast, plain = runs
    assert (fast.returncode, fast.stderr) == (plain.returncode, plain.stderr)
    assert fast.returncode != 0 and "No space left on device" in fast.stderr


# Ctrl-C while the document check's threads run: the first part begun, by whichever thread,
# sends SIGINT to this process (the KeyboardInterrupt is raised in the calling thread). Not
# "the calling thread's first part": under load the other threads took every part before the
# calling thread asked for one, no signal was sent, and find answered (mend3, session 17)
INTERRUPT = """import os, signal, threading
from suite import native
native.THREADS_MIN = 1  # threads at 3,000 jobs too
real = native.in_threads
first = threading.Lock()
def in_threads(fn, n, ways=native.IO_THREADS):
    def part(lo, hi):
        if first.acquire(blocking=False):
            os.kill(os.getpid(), signal.SIGINT)
        return fn(lo, hi)
    return real(part, n, ways)
native.in_threads = in_threads
"""


def test_ctrl_c_in_the_document_check_ends_as_an_interrupt(many):
    outs = []
    for script in (CONSOLE.format(prelude=INTERRUPT), INTERRUPT + MAIN):
        # a document changed: the check runs (and is not answered from a fresh index)
        job = next(iter(many.find_jobs({"odd": 1})))
        job.doc.touched = len(outs)
        r = subprocess.run([sys.executable, "-c", script, "find", "doc.third", "true"],
                           cwd=many.path, capture_output=True, text=True, timeout=120)
        outs.append((r.returncode, r.stdout, r.stderr))
    assert outs[0] == outs[1]
    assert outs[0] == (130, "", "suite: interrupted\n")


GC_STATE = ("import atexit, gc, sys\n"
            "atexit.register(lambda: sys.stderr.write(f'collector {gc.isenabled()}\\n'))\n")


def test_the_collector_is_off_for_find_in_the_console_only(many):
    """Find, which runs no user code and ends with its process, makes no collections; other
    commands and callers of main keep the collector."""
    r = console(["find", "odd", "1"], many.path, prelude=GC_STATE)
    assert r.returncode == 0 and r.stderr.endswith("collector False\n"), r.stderr
    assert sorted(r.stdout.split()) == expected(many, {"odd": 1})
    r = console(["schema"], many.path, prelude=GC_STATE)
    assert r.returncode == 0 and r.stderr.endswith("collector True\n"), r.stderr
    r = subprocess.run([sys.executable, "-c", GC_STATE + MAIN, "find", "odd", "1"],
                       cwd=many.path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and r.stderr.endswith("collector True\n"), r.stderr
