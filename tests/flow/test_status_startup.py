"""``suite status`` alone (the form users time) starts without click and without provenance's
capture (getpass, platform): it records nothing. It prints what click's group prints, errors
included; every other form of status still goes through click."""

import pytest

from tests.suite.test_startup import both_forms, loaded_modules, no_click, suite_run  # noqa: F401

WORKFLOW = '''
from suite.flow import Workflow

class W(Workflow):
    pass

@W.label("odd\\x1b[2J")
def odd(job):
    return job.sp.a % 2 == 1

@W.label
def started(job):
    return "step" in job.doc

@W.post.true("step")
@W.operation
def first(job):
    job.doc.step = 1
'''


@pytest.fixture
def flow_sweep(sweep):
    with open(sweep.fn("workflow.py"), "w") as f:
        f.write(WORKFLOW)
    return sweep


def test_plain_status_loads_neither_click_nor_the_capture(flow_sweep, tmp_path):
    r, modules = loaded_modules(["status"], flow_sweep.path, tmp_path)
    assert r.returncode == 0, r.stderr
    assert "first" in r.stdout and "label odd\\x1b[2J: 12" in r.stdout
    leaked = {m for m in modules if m.split(".")[0] in ("click", "getpass", "platform", "h5py")
              or m == "suite.provenance.capture"}
    assert not leaked, leaked


def test_plain_status_answers_as_click_does(flow_sweep, no_click):  # noqa: F811
    plain, clicked = both_forms(["status"], flow_sweep.path)
    assert (plain.returncode, plain.stdout, plain.stderr) == (
        clicked.returncode, clicked.stdout, clicked.stderr)
    assert plain.returncode == 0 and "\x1b" not in plain.stdout
    without = suite_run(["status"], flow_sweep.path, env=no_click)
    assert (without.returncode, without.stdout) == (0, plain.stdout), without.stderr
    with open(flow_sweep.fn("workflow.py"), "w") as f:  # a workflow that does not load
        f.write("raise RuntimeError('broken workflow')\n")
    plain = suite_run(["status"], flow_sweep.path)
    clicked = suite_run(["status", "--no-last"], flow_sweep.path)  # a form click parses
    assert plain.returncode == clicked.returncode == 1
    assert plain.stderr == clicked.stderr and "broken workflow" in plain.stderr
    assert len(plain.stderr.splitlines()) == 1 and plain.stdout == ""


@pytest.mark.parametrize("args, expect", [(["status", "--detailed"], "labels: odd"),
                                          (["status", "-o", "first"], "first"),
                                          (["status", "--help"], "Show, per operation")])
def test_other_forms_of_status_go_through_click(flow_sweep, no_click, args, expect):  # noqa: F811
    with_click = suite_run(args, flow_sweep.path)
    assert with_click.returncode == 0 and expect in with_click.stdout, with_click.stderr
    without = suite_run(args, flow_sweep.path, env=no_click)
    assert without.returncode != 0 and "no click for plain find" in without.stderr
