"""The far side's start: ``suite _sync-server PATH [--init]`` runs once per sync and per
``status``/``submit``/``run --on``, so it is served without importing click; any other form of
the command still gets click's usage errors and help."""

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

import suite
import sync
from sync import protocol

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture
def no_click(tmp_path):
    """An environment in which ``import click`` fails (a module of that name that raises)."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "click.py").write_text("raise ImportError('click is not for the far side')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), REPO])}
    return blocker, env


def _far_commands(blocker):
    prefix = f"env PYTHONPATH={blocker}{os.pathsep}{REPO}"
    commands = [f"{prefix} {sys.executable} -m suite"]
    script = shutil.which("suite")
    if script:  # the console script, as a user's shell finds it
        commands.append(f"{prefix} {script}")
    return commands


def test_sync_whose_far_side_cannot_import_click(tmp_path, no_click):
    blocker, env = no_click
    here = suite.init_project(tmp_path / "here")
    for i in range(3):
        job = here.open_job({"i": i}).init()
        job.doc.step = i
        with open(job.fn("out.txt"), "w") as f:
            f.write(f"result {i}")
    for n, command in enumerate(_far_commands(blocker)):
        there = tmp_path / f"there{n}"
        result = sync.sync(here, str(there), ssh="local", remote_suite=command, init=True)
        assert result.exit_status == 0, command
        copy = suite.get_project(there)
        assert sorted(j.id for j in copy) == sorted(j.id for j in here)
        assert copy.open_job({"i": 2}).doc.step == 2
        assert sync.sync(here, str(there), ssh="local", remote_suite=command).exit_status == 0


FAR_SIDE = """import atexit, json, os, sys
def report():
    with open(sys.argv[1] + ".tmp", "w") as f:
        json.dump(sorted(sys.modules), f)
    os.replace(sys.argv[1] + ".tmp", sys.argv[1])
atexit.register(report)
from suite.cli import main
main(sys.argv[2:])
"""


def test_far_side_of_a_sync_imports_neither_click_nor_the_workflow_package(tmp_path):
    # the far side as started by a sync, reporting its modules as it ends: a first sync and
    # one with nothing to do (where the far side tells it has no submission book)
    here = suite.init_project(tmp_path / "here")
    here.open_job({"i": 1}).init().doc.step = 1
    wrapper = tmp_path / "far_side.py"
    wrapper.write_text(FAR_SIDE)
    for n in range(2):
        report = tmp_path / f"modules{n}.json"
        command = f"{sys.executable} {wrapper} {report}"
        result = sync.sync(here, str(tmp_path / "there"), ssh="local", remote_suite=command,
                           init=True)
        assert result.exit_status == 0
        modules = set(json.loads(_written(report)))
        assert "sync.server" in modules
        leaked = {m for m in modules if m.split(".")[0] == "click"
                  or m.startswith(("suite.flow", "schedulers"))}
        assert not leaked, leaked
        # the far side needs the replica, not the engine; dataclasses brings inspect, ast
        # and dis (a third of the far side's imports): keep such imports in the functions
        # that need them
        assert not modules & {"sync.engine", "suite.diff", "dataclasses", "inspect"}


def _written(path, within=60.0):
    """The far side ends by itself after the client has gone (it updates its index first)."""
    end = time.monotonic() + within
    while not path.exists():
        assert time.monotonic() < end, f"the far side did not end within {within} s"
        time.sleep(0.05)
    return path.read_text()


def _server(args, env, stdin=b""):
    return subprocess.run([sys.executable, "-m", "suite", "_sync-server", *args], input=stdin,
                          capture_output=True, env=env, timeout=60)


def test_far_server_hello_and_refusal_without_click(tmp_path, no_click):
    _, env = no_click
    made = _server([str(tmp_path / "new"), "--init"], env)
    assert made.returncode == 0, made.stderr
    header, _ = protocol.read_frame(_Reader(made.stdout))
    assert header["ok"] and header["version"] == protocol.VERSION
    assert os.path.isfile(tmp_path / "new" / ".signac" / "config")
    # --init first works too (click accepts options before the argument)
    assert _server(["--init", str(tmp_path / "new2")], env).returncode == 0
    refused = _server([str(tmp_path / "absent")], env)
    assert refused.returncode == 1
    header, _ = protocol.read_frame(_Reader(refused.stdout))
    assert not header["ok"] and "--init" in header["error"]
    assert not os.path.exists(tmp_path / "absent")


@pytest.mark.parametrize("args, message", [
    ([], "Missing argument 'PATH'"),
    (["--bogus", "p"], "No such option '--bogus'"),
    (["a", "b"], "Got unexpected extra argument (b)"),
])
def test_far_server_usage_errors_as_click_gives(args, message):
    run = _server(args, os.environ)
    assert run.returncode == 2
    err = run.stderr.decode()
    assert err.startswith("Usage: suite _sync-server [OPTIONS] PATH")
    assert f"Error: {message}" in err


def test_far_server_help_is_kept(tmp_path):
    run = _server(["--help"], os.environ)
    assert run.returncode == 0
    assert "Serve sync requests for the project at PATH" in run.stdout.decode()
    assert "--init" in run.stdout.decode()


def test_everything_else_still_parses_with_click(tmp_path):
    run = subprocess.run([sys.executable, "-m", "suite", "nosuch"], capture_output=True,
                         timeout=60)
    assert run.returncode == 2 and "No such command 'nosuch'" in run.stderr.decode()
    run = subprocess.run([sys.executable, "-m", "suite", "find"], capture_output=True,
                         cwd=tmp_path, timeout=60)
    assert run.returncode == 1
    assert run.stderr.decode().startswith("suite: error: no project in ")
    assert len(run.stderr.decode().splitlines()) == 1
    assert json.loads(subprocess.run(
        [sys.executable, "-c", "import sys, suite.cli; "
         "print(__import__('json').dumps('click' in sys.modules))"],
        capture_output=True, timeout=60, check=True).stdout) is False


class _Reader:
    def __init__(self, data):
        self.data, self.pos = data, 0

    def read(self, n):
        out = self.data[self.pos:self.pos + n]
        self.pos += len(out)
        return out
