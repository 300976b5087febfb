"""A test that leaves a file in $TMPDIR fails (tests/conftest.py), and a run that leaves
anything new in the shared temporary directories ends with a failure: each a pytest run of
its own on a small test file, with this repository's conftest as a plugin."""

import os
import subprocess
import sys
import time

from tests.conftest import REPO


def _pytest(tmp_path, body, alone=False):
    (tmp_path / "test_case.py").write_text(body)
    env = {**os.environ, "SUITE_REQUIRE_SERVICES": "1" if alone else "0"}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "tests.conftest",
         "--rootdir", str(tmp_path), str(tmp_path / "test_case.py")],
        cwd=REPO, capture_output=True, text=True, timeout=120, env=env)


def test_a_file_left_in_tmpdir_fails_its_test_and_is_removed(tmp_path):
    got = _pytest(tmp_path, "import os, tempfile\n"
                            "def test_leaves():\n"
                            "    open(os.path.join(os.environ['TMPDIR'], 'left'), 'w').close()\n"
                            "    assert tempfile.gettempdir() == os.environ['TMPDIR']\n"
                            "def test_clean(tmp_path):\n"
                            "    (tmp_path / 'mine').write_text('x')\n")
    assert got.returncode == 1, got.stdout + got.stderr
    assert "2 passed, 1 error" in got.stdout  # the error: test_leaves's teardown
    assert "the test left ['left'] in $TMPDIR" in got.stdout


def test_a_run_leaving_a_shared_temporary_file_fails_where_the_machine_is_its_own(tmp_path):
    left = f"/dev/shm/suite-left-{os.getpid()}" if os.path.isdir("/dev/shm") else \
        f"/tmp/suite-left-{os.getpid()}"
    try:
        for alone, status in ((True, 1), (False, 0)):
            got = _pytest(tmp_path, f"def test_leaves():\n    open({left!r}, 'w').close()\n",
                          alone)
            assert got.returncode == status, got.stdout + got.stderr
            assert "1 passed" in got.stdout and repr(left) in got.stdout
            os.unlink(left)
    finally:
        if os.path.exists(left):
            os.unlink(left)


def test_a_killed_run_leaves_no_tmpdir(tmp_path):
    (tmp_path / "test_case.py").write_text(
        "import os, time\n"
        "def test_sleeps():\n"
        "    open(os.path.join(os.environ['TMPDIR'], 'f'), 'w').close()\n"
        "    print(os.environ['TMPDIR'], flush=True)\n"
        "    time.sleep(600)\n")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-s", "-p", "no:cacheprovider", "-p",
         "tests.conftest", "--rootdir", str(tmp_path), str(tmp_path / "test_case.py")],
        cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        run_tmpdir = ""
        for line in proc.stdout:
            if "suite-tests-" in line:
                run_tmpdir = line.strip().lstrip(".")
                break
        assert os.path.isfile(os.path.join(run_tmpdir, "f"))
    finally:
        proc.kill()  # as SIGKILL ends pytest: no sessionfinish
        proc.wait()
    deadline = time.monotonic() + 20
    while os.path.exists(run_tmpdir) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(run_tmpdir)
