"""$regex has a time limit: a catastrophically backtracking pattern is stopped with an error
naming it, through the index (SQL) and in the Python evaluator alike."""

import subprocess

import pytest

import suite
from suite import query
from suite.query import compile_filter, evaluate

SLOW = "(a|aa)+$"  # exponential on "aaa...a!" for a backtracking engine
VALUE = "a" * 41 + "!"


@pytest.fixture
def project_slow(project):
    project.open_job({"s": VALUE}).init().doc.s = VALUE
    project.open_job({"s": "b"}).init()
    return project


@pytest.mark.parametrize("key", ["s", "doc.s"])
def test_slow_pattern_is_stopped_through_the_index(project_slow, key):
    # the error is the limit's own (a pattern run to its end would take hours, not fail)
    with pytest.raises(suite.FilterError, match=r"\$regex .*\(a\|aa\)\+\$.*took more than"):
        project_slow.find_jobs({key: {"$regex": SLOW}}).ids()
    # the index still answers afterwards
    assert len(project_slow.find_jobs({key: {"$regex": "^a+!$"}})) == 1


def test_slow_pattern_is_stopped_in_python():
    tree = compile_filter({"s": {"$regex": SLOW}})
    with pytest.raises(suite.FilterError, match="took more than"):
        evaluate(tree, {"s": VALUE}, {})
    assert evaluate(compile_filter({"s": {"$regex": "^a"}}), {"s": VALUE}, {})


def test_time_limit_is_per_value(monkeypatch, project_slow):
    monkeypatch.setattr(query, "REGEX_TIMEOUT", 0.05)
    with pytest.raises(suite.FilterError, match="0.05 s"):
        project_slow.find_jobs({"s": {"$regex": SLOW}}).ids()


def test_cli_prints_one_line(project_slow):
    r = subprocess.run(["suite", "find", "s", f"/{SLOW}/"], cwd=project_slow.path,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1
    assert r.stderr.count("\n") == 1 and "took more than" in r.stderr
