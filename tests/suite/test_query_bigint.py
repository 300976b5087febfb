"""Integers beyond SQLite's 64-bit range (and beyond a float's exact 2**53) in state points,
documents and filters: the index answers exactly as the Python evaluator does."""

import subprocess

import pytest

import suite
from suite.query import compile_filter, evaluate

HUGE = 99999999999999999999  # float(HUGE) == 1e20 == float(10 ** 20 + 1)
VALUES = [HUGE, 10 ** 20 + 1, 10 ** 20, 2 ** 63, 2 ** 63 + 1, 2 ** 53, 2 ** 53 + 1, -(2 ** 70) - 1,
          -(2 ** 70), 10 ** 400, -(10 ** 400), 3, 1e20, 2.0 ** 70, "x"]


@pytest.fixture
def big(project):
    for k, value in enumerate(VALUES):
        project.open_job({"a": value, "k": k}).init().doc.v = value
    return project


def python_ids(project, flt):
    tree = compile_filter(flt)
    return {j.id for j in project if evaluate(tree, j.sp(), j.doc())}


def job_with(project, value):
    k = next(k for k, v in enumerate(VALUES) if v == value and type(v) is type(value))
    return project.open_job({"a": value, "k": k}).id


FILTERS = [
    lambda v: v,
    lambda v: {"$eq": v},
    lambda v: {"$ne": v},
    lambda v: {"$in": [v, 5]},
    lambda v: {"$nin": [v]},
    lambda v: {"$gt": v},
    lambda v: {"$gte": v},
    lambda v: {"$lt": v},
    lambda v: {"$lte": v},
]
OPERANDS = [HUGE, 10 ** 20 + 1, 10 ** 20, 2 ** 63, 2 ** 64, 2 ** 53 + 1, 2 ** 53, -(2 ** 70) - 1,
            10 ** 400, -(10 ** 401), 1e20, 2.0 ** 63, 9007199254740993.0, 0.5]


@pytest.mark.parametrize("key", ["a", "doc.v"])
@pytest.mark.parametrize("make", FILTERS)
def test_huge_integers_match_the_python_evaluator(big, key, make):
    for operand in OPERANDS:
        flt = {key: make(operand)}
        assert set(big.find_jobs(flt).ids()) == python_ids(big, flt), flt


@pytest.mark.parametrize("key", ["a", "doc.v"])
def test_the_exact_value_is_found_and_its_float_neighbours_not(big, key):
    assert big.find_jobs({key: HUGE}).ids() == [job_with(big, HUGE)]
    assert big.find_jobs({key: {"$in": [10 ** 20 + 1]}}).ids() == [job_with(big, 10 ** 20 + 1)]
    # 1e20 the float equals the integer 10**20 exactly, as in Python
    assert set(big.find_jobs({key: 10 ** 20}).ids()) == {job_with(big, 10 ** 20),
                                                         job_with(big, 1e20)}
    assert set(big.find_jobs({key: {"$gt": HUGE, "$lt": 10 ** 21}}).ids()) == {
        job_with(big, 10 ** 20 + 1), job_with(big, 10 ** 20), job_with(big, 1e20)}
    assert big.find_jobs({key: {"$type": "int", "$lt": -(2 ** 70)}}).ids() == sorted(
        [job_with(big, -(2 ** 70) - 1), job_with(big, -(10 ** 400))])


def test_document_values_of_huge_integers_are_exact(big):
    values = big.index.document_values("v")
    for value in VALUES:
        assert values[job_with(big, value)] == value
        assert type(values[job_with(big, value)]) is type(value)


def test_near_on_an_integer_no_float_holds(big):
    # math.isclose takes floats: an integer beyond the largest float is close to nothing
    flt = {"a": {"$near": [1e308, 1.0]}}
    assert set(big.find_jobs(flt).ids()) == python_ids(big, flt)
    with pytest.raises(suite.FilterError, match=r"\$near"):
        big.find_jobs({"a": {"$near": 10 ** 400}})


def test_cli_finds_a_huge_integer(big):
    for args in (["a", str(HUGE)], [f'{{"doc.v": {{"$in": [{HUGE}]}}}}'],
                 ["a.$gt", str(2 ** 64)]):
        r = subprocess.run(["suite", "find", *args], cwd=big.path, capture_output=True,
                           text=True)
        assert r.returncode == 0, r.stderr
        assert "Traceback" not in r.stderr
        flt = suite.query.parse_cli_filter(args)
        assert set(r.stdout.split()) == python_ids(big, flt) != set()
