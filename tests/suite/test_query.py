"""The query language, evaluated through the index (SQL) and in Python; both must agree."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import suite
from suite.index import to_sql
from suite.query import compile_filter, evaluate, parse_cli_filter


def ids(project, flt):
    return set(project.find_jobs(flt).ids())


def python_ids(project, flt):
    tree = compile_filter(flt)
    return {j.id for j in project if evaluate(tree, j.sp(), j.doc())}


@pytest.mark.parametrize(
    "flt, count",
    [
        ({"a": 1}, 6),
        ({"sp.a": 1}, 6),
        ({"a": 1.0}, 6),
        ({"flag": True}, 12),
        ({"flag": 1}, 0),  # booleans are never numbers
        ({"b.c": 2}, 8),
        ({"b": {"c": 2}}, 8),
        ({"b": {"c": 2, "d": "xx"}}, 8),
        ({"a": {"$gt": 1}}, 12),
        ({"a": {"$gte": 1, "$lt": 3}}, 12),
        ({"a": {"$ne": 1}}, 18),
        ({"a": {"$in": [0, 3]}}, 12),
        ({"a": {"$nin": [0, 3]}}, 12),
        ({"b.d": {"$regex": "^x+$"}}, 16),
        ({"b.d": {"$type": "str"}}, 24),
        ({"a": {"$type": "int"}}, 24),
        ({"a": {"$type": "float"}}, 0),
        ({"b.e": {"$exists": False}}, 24),
        ({"b.c": {"$exists": True}}, 24),
        ({"a": {"$near": [2.0000000001]}}, 6),
        ({"a": {"$near": [2.1, 0.1]}}, 6),
        ({"$or": [{"a": 0}, {"b.c": 0}]}, 12),
        ({"$and": [{"a": 0}, {"b.c": 0}]}, 2),
        ({"$not": {"a": 0}}, 18),
        ({"a": {"$not": {"$lt": 2}}}, 12),
        ({"a": {"$or": [{"$lt": 1}, {"$gt": 2}]}}, 12),
        ({"doc.score": {"$gte": 30}}, 6),
        ({"doc.tag": "odd", "a": {"$lt": 2}}, 6),
        ({"doc.missing": {"$exists": True}}, 0),
        ({"b": {"c": 0, "d": ""}, "flag": False}, 4),
        ({}, 24),
        (None, 24),
    ],
)
def test_operators(sweep, flt, count):
    found = ids(sweep, flt)
    assert len(found) == count
    assert found == python_ids(sweep, flt)


@pytest.mark.parametrize(
    "flt, match",
    [
        ({"a": {"$foo": 1}}, "unknown operator"),
        ({"$foo": 1}, "unknown operator"),
        ({"a": {"$gt": [1]}}, "needs a number or a string"),
        ({"a": {"$in": 1}}, "needs a list"),
        ({"a": {"$regex": 1}}, "needs a string"),
        ({"a": {"$regex": "("}}, "invalid regular expression"),
        ({"a": {"$type": "complex"}}, "must be one of"),
        ({"a": {"$exists": "yes"}}, "true or false"),
        ({"a": {"$near": "x"}}, "needs a finite number"),
        ({"$and": {"a": 1}}, "list of filters"),
        ([1], "JSON object"),
        ({"a..b": 1}, "empty component"),
    ],
)
def test_bad_filters(sweep, flt, match):
    with pytest.raises(suite.FilterError, match=match):
        sweep.find_jobs(flt)


def test_no_operator_evaluates_code(sweep):
    # a string that would be code is only ever a regular expression or a literal
    assert ids(sweep, {"b.d": {"$regex": "__import__('os')"}}) == set()
    assert ids(sweep, {"b.d": "__import__('os').system('false')"}) == set()


def test_cli_grammar():
    assert parse_cli_filter(["a", "1", "b.c", "3"]) == {"a": 1, "b.c": 3}
    assert parse_cli_filter(["a.$gt", "1", "a.$lt", "5"]) == {"a": {"$gt": 1, "$lt": 5}}
    assert parse_cli_filter(["a"]) == {"a": {"$exists": True}}
    assert parse_cli_filter(["name", "/^r/"]) == {"name": {"$regex": "^r"}}
    assert parse_cli_filter(["s", "hello", "t", "true", "n", "null"]) == {
        "s": "hello", "t": True, "n": None}
    assert parse_cli_filter(['{"a": {"$in": [1, 2]}}']) == {"a": {"$in": [1, 2]}}
    with pytest.raises(suite.FilterError):
        parse_cli_filter(["{bad json"])
    with pytest.raises(suite.FilterError):
        parse_cli_filter(["a", "1", "a", "2"])


# beyond SQLite's 64-bit integers and a float's exact 2**53, neighbours a float cannot tell apart
huge = st.sampled_from([2 ** 63, 2 ** 63 + 1, -(2 ** 64), 10 ** 20, 10 ** 20 + 1, 1e20,
                        2 ** 53 + 1, 10 ** 400])
values = st.one_of(
    st.integers(-3, 3), huge, st.sampled_from([0.5, 1.0, -2.0]), st.booleans(), st.none(),
    st.sampled_from([float("nan"), float("inf"), -float("inf")]),
    st.sampled_from(["", "x", "xx", "y"]), st.lists(st.integers(0, 2), max_size=2),
)
keys = st.sampled_from(["a", "b.c", "b.d", "flag", "doc.score", "doc.tag", "doc.b", "b", "zz"])
leaf = st.one_of(
    st.builds(lambda k, v: {k: v}, keys, values),
    st.builds(lambda k, op, v: {k: {op: v}}, keys,
              st.sampled_from(["$gt", "$gte", "$lt", "$lte"]),
              st.one_of(st.integers(-3, 40), huge, st.sampled_from(["", "x", "odd"]))),
    st.builds(lambda k, v: {k: {"$in": v}}, keys, st.lists(values, max_size=3)),
    st.builds(lambda k, v: {k: {"$nin": v}}, keys, st.lists(values, max_size=3)),
    st.builds(lambda k, v: {k: {"$exists": v}}, keys, st.booleans()),
    st.builds(lambda k, v: {k: {"$type": v}}, keys,
              st.sampled_from(["int", "float", "str", "bool", "null", "list", "dict"])),
    st.builds(lambda k, v: {k: {"$ne": v}}, keys, values),
    st.builds(lambda k, v: {k: {"$regex": v}}, keys, st.sampled_from(["^x", "d", "^$"])),
    st.builds(lambda k, v: {k: {"$near": v}}, keys,
              st.sampled_from([0.5, [1.0, 0.5], [30, 0.1, 2], [1e308, 1.0]])),
)
filters = st.recursive(
    leaf,
    lambda inner: st.one_of(
        st.builds(lambda a: {"$and": a}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda a: {"$or": a}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda a: {"$not": a}, inner),
    ),
    max_leaves=5,
)


@pytest.fixture
def sweep_nonfinite(sweep):
    """The sweep plus jobs whose documents hold NaN and Infinity, written as signac does, and
    jobs holding integers beyond 2**63."""
    for k, (score, tag) in enumerate([("NaN", "Infinity"), ("-Infinity", "[NaN, 1]"),
                                      ("[Infinity, 2]", "{\"c\": NaN}")]):
        job = sweep.open_job({"a": 10 + k, "b": {"c": k, "d": "x"}}).init()
        with open(job.fn("signac_job_document.json"), "w") as f:
            f.write(f'{{"score": {score}, "tag": {tag}, "b": NaN}}')
    for k, value in enumerate([10 ** 20, 10 ** 20 + 1, -(2 ** 64), 2 ** 63 + 1, 10 ** 400]):
        job = sweep.open_job({"a": value, "b": {"c": k, "d": "y"}}).init()
        job.doc.update({"score": value, "b": [value]})
    return sweep


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flt=filters)
def test_index_agrees_with_python_evaluation(sweep_nonfinite, flt):
    assert to_sql(compile_filter(flt)) is not None
    assert ids(sweep_nonfinite, flt) == python_ids(sweep_nonfinite, flt)
