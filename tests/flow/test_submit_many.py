"""Submitting many operations costs O(N): the book is kept in memory for the run and each
submission appended to a journal (not the whole book rewritten), and one Jinja environment
renders every script. What must still hold: a submission whose sbatch returned is in the book
even if the submitting process is killed right after; a template edited between two runs is
the one the second run uses."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import jinja2

import suite
from schedulers import Slurm, Submission
from suite import layout
from suite.flow import book
from tests.flow.sweep import WORKFLOW

#: an sbatch that hands out ids 1, 2, ... and, at call KILL_AT, kills the suite process that
#: called it (SIGKILL: no cleanup runs) before answering
SBATCH = textwrap.dedent('''\
    #!/bin/sh
    n=$(( $(cat "$0.count" 2>/dev/null || echo 0) + 1 ))
    echo $n > "$0.count"
    if [ "$n" -ge {kill_at} ]; then kill -9 $PPID; sleep 10; fi
    echo $n
''')


def _project(tmp_path, n):
    project = suite.init_project(tmp_path / "p")
    with suite.buffered():
        for i in range(n):
            project.open_job({"i": i}).init()
    (tmp_path / "p" / "workflow.py").write_text(WORKFLOW)
    return project


def test_a_killed_submit_keeps_every_recorded_submission(tmp_path):
    project = _project(tmp_path, 12)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sbatch = bin_dir / "sbatch"
    sbatch.write_text(SBATCH.format(kill_at=8))
    sbatch.chmod(0o755)
    (bin_dir / "squeue").write_text("#!/bin/sh\nexit 0\n")
    (bin_dir / "squeue").chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SUITE_SCHEDULER": "slurm"}
    r = subprocess.run([sys.executable, "-m", "suite", "submit", "--hold"], cwd=project.path,
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == -signal.SIGKILL, (r.returncode, r.stderr)
    # sbatch returned ids 1..7 before the 8th call killed the submit: all seven are recorded
    entries = book.load(project)
    assert sorted(entries, key=int) == [str(i) for i in range(1, 8)]
    pairs = [tuple(p) for e in entries.values() for p in e["pairs"]]
    assert len(set(pairs)) == 7 and all(op == "simulate" for op, _ in pairs)
    # what sync asks before skipping active jobs sees the book, too
    assert layout.has_submissions(project.path)
    # the next submit (a lock, then the book folded into submissions.json) takes it as it is
    sbatch.write_text(SBATCH.format(kill_at=1000))
    (bin_dir / "squeue").write_text(
        "#!/bin/sh\nfor i in 1 2 3 4 5 6 7; do echo \"$i PENDING\"; done\n")
    r = subprocess.run([sys.executable, "-m", "suite", "submit", "--hold"], cwd=project.path,
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    entries = book.load(project)
    assert len(entries) == 12  # the 7 still queued were not submitted again: 5 new ones
    assert len({tuple(p) for e in entries.values() for p in e["pairs"]}) == 12
    assert not os.path.exists(os.path.join(project.path, layout.SUBMISSIONS_JOURNAL))


def test_a_submit_failing_midway_writes_the_book_with_what_it_submitted(tmp_path):
    project = _project(tmp_path, 6)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    sbatch = bin_dir / "sbatch"
    sbatch.write_text(SBATCH.format(kill_at=1000).replace(
        'if [ "$n" -ge 1000 ]; then kill -9 $PPID; sleep 10; fi',
        'if [ "$n" -ge 4 ]; then echo "sbatch: error: QOSMaxSubmitJobPerUserLimit" >&2; '
        'exit 1; fi'))
    sbatch.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "SUITE_SCHEDULER": "slurm"}
    r = subprocess.run([sys.executable, "-m", "suite", "submit", "--hold"], cwd=project.path,
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and "QOSMaxSubmitJobPerUserLimit" in r.stderr, r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert not os.path.exists(os.path.join(project.path, layout.SUBMISSIONS_JOURNAL))
    with open(os.path.join(project.path, layout.SUBMISSIONS)) as f:
        assert sorted(json.load(f), key=int) == ["1", "2", "3"]


def test_the_journal_is_folded_into_the_book_and_old_books_are_read(tmp_path):
    project = suite.init_project(tmp_path / "p")
    path = os.path.join(project.path, layout.SUBMISSIONS)
    os.makedirs(os.path.dirname(path))
    with open(path, "w") as f:  # a book as earlier versions wrote it (pretty-printed)
        f.write('{\n "41": {\n  "pairs": [["work", "j0"]],\n  "scheduler": "slurm",\n'
                '  "time": 1.0\n }\n}')
    with book.locked(project):
        b = book.load(project)
        book.append(project, {"42": book.record(project, b, "42", "slurm", [["work", "j1"]], 2.0)})
    journal = os.path.join(project.path, layout.SUBMISSIONS_JOURNAL)
    with open(journal, "a") as f:
        f.write('{"id": "43", "entr')  # a write cut short: no newline, not taken
    assert sorted(book.load(project)) == ["41", "42"]
    with book.locked(project):  # the next record is not glued to the cut line
        b = book.load(project)
        book.append(project, {"44": book.record(project, b, "44", "slurm", [["work", "j2"]], 3.0)})
    assert sorted(book.load(project)) == ["41", "42", "44"]
    with book.locked(project):
        book.save(project, book.load(project))
    assert not os.path.exists(journal)
    assert sorted(book.load(project)) == ["41", "42", "44"]
    assert book.load(project)["42"]["pairs"] == [["work", "j1"]]


def _render_project(tmp_path):
    project = suite.init_project(tmp_path / "p")
    os.makedirs(project.fn("templates"))
    return project


def test_a_template_edited_between_two_runs_is_used_by_the_second(tmp_path):
    project = _render_project(tmp_path)
    sub = Submission("one", ["echo hi"])
    shipped = Slurm().render(sub, project.path)
    assert "#SBATCH" in shipped
    # a project template appearing after a first render replaces the shipped one
    tpl = os.path.join(project.fn("templates"), "slurm.sh.j2")
    with open(tpl, "w") as f:
        f.write('{% extends "suite/slurm.sh.j2" %}\n{% block header %}'
                '{{ super() }}# first\n{% endblock %}\n')
    assert "# first" in Slurm().render(sub, project.path)
    with open(tpl, "w") as f:  # same length, edited
        f.write('{% extends "suite/slurm.sh.j2" %}\n{% block header %}'
                '{{ super() }}# again\n{% endblock %}\n')
    script = Slurm().render(sub, project.path)
    assert "# again" in script and "# first" not in script
    os.remove(tpl)
    assert Slurm().render(sub, project.path) == shipped


def test_many_scripts_compile_each_template_once(tmp_path, monkeypatch):
    project = _render_project(tmp_path)
    with open(os.path.join(project.fn("templates"), "slurm.sh.j2"), "w") as f:
        f.write('{% extends "suite/slurm.sh.j2" %}\n')
    compiled = []
    real = jinja2.Environment.compile

    def counting(self, source, *args, **kwargs):
        compiled.append(1)
        return real(self, source, *args, **kwargs)

    monkeypatch.setattr(jinja2.Environment, "compile", counting)
    scheduler = Slurm()
    scripts = [scheduler.render(Submission(f"s{i}", [f"echo {i}"]), project.path)
               for i in range(200)]
    assert all(f"echo {i}" in s for i, s in enumerate(scripts))
    # the project's slurm.sh.j2, the shipped one it extends, and base.sh.j2 that extends:
    # once each, not once per script
    assert len(compiled) == 3
