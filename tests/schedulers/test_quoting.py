"""Every value that reaches a shell is quoted: a project path with spaces, quotes and
``$(...)`` neither breaks a submission nor runs anything from the path."""

import os
import re
import shlex
import subprocess
import sys
import textwrap

import pytest

import suite
from schedulers import SCHEDULERS, Slurm, Submission

from .live import suite_cmd, wait_for

HOSTILE = "my proj 'q' \"dq\" $(touch pwned) `touch pwned2` ;x"

WORKFLOW = textwrap.dedent('''
    from suite.flow import Workflow

    class Q(Workflow):
        pass

    @Q.post.isfile("done.txt")
    @Q.operation(cmd=True, directives={"np": 1, "walltime": 0.1})
    def work(job):
        return "touch done.txt"
''')


@pytest.fixture
def hostile_project(tmp_path, monkeypatch):
    root = tmp_path / HOSTILE
    root.mkdir()
    project = suite.init_project(root / "project")
    for a in range(2):
        project.open_job({"a": a}).init()
    with open(project.fn("workflow.py"), "w") as f:
        f.write(WORKFLOW)
    monkeypatch.chdir(tmp_path)  # a stray $(touch pwned) would land here or in the project
    return project


def pwned(tmp_path):
    """Files a command substitution from the path would have made, anywhere under tmp_path."""
    return [os.path.join(d, f) for d, _, files in os.walk(tmp_path) for f in files
            if f.startswith("pwned")]


@pytest.mark.parametrize("name", sorted(SCHEDULERS))
def test_pretend_scripts_quote_the_project_path(name, hostile_project, tmp_path):
    r = suite_cmd(hostile_project, "submit", "--pretend", "--scheduler", name)
    assert r.returncode == 0, r.stderr
    scripts = ["#!/bin/bash" + s for s in r.stdout.split("#!/bin/bash")[1:]]
    assert len(scripts) == 2
    for script in scripts:
        assert f"cd {shlex.quote(hostile_project.path)} && " in script
        # the script runs as the scheduler would run it: from another directory
        run = subprocess.run(["bash", "-c", script], cwd=tmp_path, capture_output=True,
                             text=True)
        assert run.returncode == 0, run.stderr
    assert all(j.isfile("done.txt") for j in hostile_project)
    assert pwned(tmp_path) == []


def test_pretend_shows_a_shell_line_for_the_submit_command(hostile_project):
    r = suite_cmd(hostile_project, "submit", "--pretend", "--scheduler", "slurm")
    shown = [line[2:] for line in r.stdout.splitlines() if line.startswith("# sbatch")]
    assert len(shown) == 2
    for line in shown:
        path = shlex.split(line)[-1]
        assert path.startswith(hostile_project.path) and path.endswith(".sh")


def test_template_values_are_quoted():
    sub = Submission("x;touch pwned", ["true"], {"np": 2, "omp_num_threads": 2,
                                                 "pe": "smp $(touch pwned)"})
    for cls in SCHEDULERS.values():
        script = cls().render(sub)
        assert "$(touch pwned)" not in script.replace("'smp $(touch pwned)'", "")
        assert not re.search(r"[ =]x;touch pwned", script), (cls.name, script)
    # a plain name stays unquoted, so directive parsers see what they always saw
    assert "#SBATCH --job-name=suite-work-1\n" in Slurm().render(
        Submission("suite-work-1", ["true"], {"np": 1}))


def test_live_slurm_submission_from_a_hostile_path(slurm, hostile_project, tmp_path):
    r = suite_cmd(hostile_project, "submit", "--scheduler", "slurm")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("submitted 2 script")
    assert wait_for(lambda: all(j.isfile("done.txt") for j in hostile_project), timeout=90)
    assert pwned(tmp_path) == []


def submit_direct(project, tmp_path, monkeypatch):
    """``suite submit --scheduler direct`` of the two jobs; returns once both are done."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "suite", "submit", "--scheduler", "direct"],
                       cwd=project.path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("submitted 2 script")
    assert wait_for(lambda: all(j.isfile("done.txt") for j in project), timeout=30)
    assert pwned(tmp_path) == []


def test_direct_submission_from_a_hostile_path(hostile_project, tmp_path, monkeypatch):
    submit_direct(hostile_project, tmp_path, monkeypatch)


def test_numeric_directives_must_be_numbers():
    from schedulers import SchedulerError

    with pytest.raises(SchedulerError, match="'np' must be a number"):
        Slurm().render(Submission("x", ["true"], {"np": "1; touch pwned"}))


def test_live_sge_submission_from_a_hostile_path(sge, hostile_project, tmp_path):
    r = suite_cmd(hostile_project, "submit", "--scheduler", "sge")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("submitted 2 script")
    assert wait_for(lambda: all(j.isfile("done.txt") for j in hostile_project), timeout=90)
    assert pwned(tmp_path) == []


HOSTILE_OP = "fit/a b;$(touch pwned)"


def test_an_operation_name_with_slashes_and_shell_words_submits(tmp_path, monkeypatch):
    """signac-flow lets ``@operation(name=...)`` be any text: the script's file name and the
    scheduler's job name are made from it, so a ``/`` once sent the script into a missing
    directory and shell words would have reached the submit command."""
    project = suite.init_project(tmp_path / "project")
    for a in range(2):
        project.open_job({"a": a}).init()
    with open(project.fn("workflow.py"), "w") as f:
        f.write(WORKFLOW.replace("@Q.operation(cmd=True,",
                                 f"@Q.operation(name={HOSTILE_OP!r}, cmd=True,"))
    monkeypatch.chdir(tmp_path)
    submit_direct(project, tmp_path, monkeypatch)
    scripts = os.path.join(project.path, ".suite", "flow", "scripts")
    names = [n for n in os.listdir(scripts) if n.endswith(".sh")]
    assert len(names) == 2, names  # both in the scripts directory, none in a subdirectory
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+\.sh", n) for n in names), names
    assert all(n.startswith("suite-fit_a_b_") for n in names), names
    # and what ran is the operation of that name
    r = suite_cmd(project, "status", "--json")
    assert r.returncode == 0, r.stderr
    assert HOSTILE_OP in r.stdout


@pytest.mark.parametrize("name", ["two\nlines;$(touch pwned)", "bad\udcffbyte\n"],
                         ids=["newline", "undecodable"])
def test_an_operation_name_with_a_newline_or_undecodable_bytes_submits(tmp_path, monkeypatch,
                                                                       name):
    """A name may hold a newline, or bytes that are not UTF-8 (a surrogate, as Python decodes
    a file name): the script carries them as they are (an undecodable byte as that byte, so
    the ``suite exec`` it runs gets back the same name); it once failed with a
    UnicodeEncodeError before anything was submitted."""
    project = suite.init_project(tmp_path / "project")
    for a in range(2):
        project.open_job({"a": a}).init()
    with open(project.fn("workflow.py"), "w", errors="surrogateescape") as f:
        f.write(WORKFLOW.replace("@Q.operation(cmd=True,",
                                 f"@Q.operation(name={name!r}, cmd=True,"))
    monkeypatch.chdir(tmp_path)
    submit_direct(project, tmp_path, monkeypatch)
    # through a scheduler's template too (a fake sbatch: the script is what is checked)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "sbatch").write_text("#!/bin/sh\necho 77\n")
    (bin_dir / "sbatch").chmod(0o755)
    for job in project:
        os.remove(job.fn("done.txt"))
    r = subprocess.run([sys.executable, "-m", "suite", "submit", "--scheduler", "slurm", "-n",
                        "1"], cwd=project.path, capture_output=True, text=True,
                       env={**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"})
    assert r.returncode == 0 and "submitted 1 script" in r.stdout, r.stderr
    scripts = os.path.join(project.path, ".suite", "flow", "scripts")
    texts = []
    for n in os.listdir(scripts):
        with open(os.path.join(scripts, n), "rb") as f:
            texts.append(f.read())
    (raw,) = [t for t in texts if b"#SBATCH" in t]  # the direct scheduler's have none
    assert name.encode("utf-8", "surrogateescape") in raw
