"""What a command imports at start: ``suite find FILTER...`` (the command users time) runs
without click and without the thread pool's logging; every other form of ``find`` still gets
click's options, usage errors and help; ``suite --version`` needs no package metadata."""

import json
import os
import re
import subprocess
import sys

import pytest

import suite
from suite import layout

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# runs the CLI as the console script does, and writes the modules it loaded as it ends
WITH_MODULES = """import atexit, json, sys
def report():
    with open(sys.argv[1], "w") as f:
        json.dump(sorted(sys.modules), f)
atexit.register(report)
from suite.cli import main
sys.exit(main(sys.argv[2:]))
"""


@pytest.fixture
def no_click(tmp_path):
    """An environment in which ``import click`` fails."""
    blocker = tmp_path / "blocker"
    blocker.mkdir()
    (blocker / "click.py").write_text("raise ImportError('no click for plain find')\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), REPO])}


def suite_run(args, cwd, env=None):
    return subprocess.run([sys.executable, "-m", "suite", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


def loaded_modules(args, cwd, tmp_path):
    script, report = tmp_path / "with_modules.py", tmp_path / "modules.json"
    script.write_text(WITH_MODULES)
    r = subprocess.run([sys.executable, str(script), str(report), *args], cwd=cwd,
                       capture_output=True, text=True, timeout=120)
    return r, set(json.loads(report.read_text()))


@pytest.mark.parametrize("args", [["find", "a", "1"], ["find", "doc.tag", "odd"], ["find"]])
def test_plain_find_loads_neither_click_nor_a_thread_pool(sweep, tmp_path, args):
    r, modules = loaded_modules(args, sweep.path, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == sweep.find_jobs(suite_filter(args[1:])).ids()
    leaked = {m for m in modules if m.split(".")[0] in
              ("click", "concurrent", "logging", "h5py", "sync", "archive", "inspect")}
    assert not leaked, leaked


def suite_filter(words):
    from suite.query import parse_cli_filter

    return parse_cli_filter(words)


CLICK_FORM = "import sys; from suite.cli.group import run; sys.exit(run(sys.argv[1:]))"


def both_forms(args, cwd):
    """``args`` run by ``suite`` (the plain form for a plain find) and through click's group."""
    plain = suite_run(args, cwd)
    clicked = subprocess.run([sys.executable, "-c", CLICK_FORM, *args], cwd=cwd,
                             capture_output=True, text=True, timeout=120)
    return plain, clicked


def test_plain_find_answers_as_click_does(sweep, no_click):
    """The same ids, notes and problems on stderr, exit statuses (3 for an unreadable state
    point); and the ids without click at all."""
    bad = sweep.find_jobs({"a": 0, "flag": True}).ids()[0]
    cases = [["find", "b.c", "1"], ["find", "zzz", "1"], ["find", "flg", "true"], ["find"]]
    seen = {}
    for args in cases:
        plain, clicked = both_forms(args, sweep.path)
        assert (plain.returncode, plain.stdout, plain.stderr) == (
            clicked.returncode, clicked.stdout, clicked.stderr), args
        seen[" ".join(args)] = plain
    assert "did you mean 'flag'?" in seen["find flg true"].stderr
    assert len(seen["find b.c 1"].stdout.split()) == 8 and len(seen["find"].stdout.split()) == 24
    without = suite_run(["find", "b.c", "1"], sweep.path, env=no_click)
    assert without.returncode == 0, without.stderr
    assert without.stdout.split() == sweep.find_jobs({"b.c": 1}).ids() and without.stderr == ""
    with open(os.path.join(sweep.workspace, bad, layout.STATEPOINT), "w") as f:
        f.write("{broken")
    os.unlink(sweep.index.path)  # so the state point is read again
    plain, clicked = both_forms(["find", "flag", "true"], sweep.path)
    assert plain.returncode == clicked.returncode == 3
    assert f"{bad}: corrupt file" in plain.stderr and plain.stderr == clicked.stderr
    assert plain.stdout == clicked.stdout and len(plain.stdout.split()) == 11


@pytest.mark.parametrize("args, expect", [
    (["find", "--help"], "Print the ids of the jobs matching FILTER"),
    (["find", "a", "1", "--bogus"], "No such option '--bogus'"),
    (["find", "a", "1", "--sp", "a"], '{"a": 1}'),
    (["find", "--", "a", "1"], "the ids of a = 1"),
])
def test_other_forms_of_find_go_through_click(sweep, no_click, args, expect):
    with_click = suite_run(args, sweep.path)
    if expect == "the ids of a = 1":
        assert with_click.stdout.split() == sweep.find_jobs({"a": 1}).ids()
    else:
        assert expect in with_click.stdout + with_click.stderr
    without = suite_run(args, sweep.path, env=no_click)
    assert without.returncode != 0 and "no click for plain find" in without.stderr


def test_version_is_the_packages_without_metadata(tmp_path):
    with open(os.path.join(REPO, "pyproject.toml")) as f:
        declared = re.search(r'^version = "([^"]+)"$', f.read(), re.M).group(1)
    assert suite.__version__ == declared
    r, modules = loaded_modules(["--version"], tmp_path, tmp_path)
    assert r.returncode == 0 and r.stdout == f"suite, version {declared}\n"
    assert "importlib.metadata" not in modules


# without site (-S): this machine's .pth hooks import shutil themselves
NEW_MODULES = """import sys
before = set(sys.modules)
from suite.cli import main
try:
    main(sys.argv[1:])
finally:
    sys.stderr.write(" ".join(sorted(set(sys.modules) - before)))
"""


@pytest.mark.parametrize("args", [["find", "a", "1"], ["find", "doc.tag", "odd"]])
def test_plain_find_loads_no_archive_or_copying_modules(sweep, args):
    """shutil (with fnmatch, bz2, lzma) is loaded where a job is removed or copied, not by
    every start: ~8 M instructions; the report of unreadable jobs (suite.jobfiles with
    suite.dirscan) where a job could not be read."""
    r = subprocess.run([sys.executable, "-S", "-c", NEW_MODULES, *args], cwd=sweep.path,
                       env={**os.environ, "PYTHONPATH": REPO}, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    loaded = set(r.stderr.split())
    assert "suite.index" in loaded
    assert not loaded & {"shutil", "fnmatch", "bz2", "lzma", "suite.jobfiles",
                         "suite.dirscan"}, loaded
