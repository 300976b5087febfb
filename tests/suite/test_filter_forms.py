"""Filters in every form signac 2.4.1 accepts give the same jobs in suite; anything suite
cannot interpret is an error naming the part (never silently zero matches)."""

import pytest

import suite

signac = pytest.importorskip("signac")


@pytest.fixture(scope="module")
def both(tmp_path_factory):
    """One project made by signac, opened by both tools."""
    path = tmp_path_factory.mktemp("forms")
    sp_project = signac.init_project(str(path))
    for a in range(4):
        for c in range(2):
            job = sp_project.open_job({"a": a, "b": {"c": c, "s": f"x{a}"}}).init()
            job.doc.d = a * 2 + c
            job.doc.n = {"m": c}
    return sp_project, suite.get_project(path)


FORMS = [
    {"a.$lt": 2},
    {"sp.a.$lt": 2},
    {"sp": {"a": 0}},
    {"sp": {"a": {"$gte": 2}}},
    {"doc": {"d": 0}},
    {"doc": {"n": {"m": 1}}},
    {"doc.d.$gte": 5},
    {"doc.n.m.$ne": 0},
    {"b": {"c.$gt": 0}},
    {"sp.b": {"c": 1}},
    {"a": {"$lt": 2, "b": 3}},
    {"a": {"$exists": True, "$lt": 2}},
    {"$and": [{"a": 1}]},
    {"$and": [{}]},
    {"$or": [{}]},
    {"$or": [{"a": 0}, {"doc.d": 7}]},
    {"$not": {}},
    {"$not": {"a.$in": [1, 2]}},
    {"b.s": {"$regex": "^x[12]$"}},
    {"a": {"$near": [2, 0.01]}},
    {"b.c": {"$type": "int"}},
    {"doc.d": {"$nin": [0, 1, 2]}},
]


@pytest.mark.parametrize("flt", FORMS, ids=[str(f) for f in FORMS])
def test_signac_forms_give_the_same_jobs(both, flt):
    sp_project, project = both
    expected = {j.id for j in sp_project.find_jobs(flt)}
    assert set(project.find_jobs(flt).ids()) == expected


def test_tuples_and_mappings_are_accepted_like_signac(both):
    from types import MappingProxyType

    sp_project, project = both
    flt = {"$and": ({"a": 1},)}
    assert set(project.find_jobs(flt).ids()) == {j.id for j in sp_project.find_jobs(flt)}
    assert len(project.find_jobs(MappingProxyType({"a": MappingProxyType({"$lt": 1})}))) == 2


@pytest.mark.parametrize(
    "flt, match",
    [
        ({"$and": []}, r"\$and.*cannot be empty"),
        ({"$or": []}, r"\$or.*cannot be empty"),
        ({"a": {"$or": []}}, r"\$or.*cannot be empty"),
        ({"a": {"$where": "lambda x: x < 2"}}, r"\$where.*evaluates code"),
        ({"a.$where": "lambda x: x < 2"}, r"\$where.*evaluates code"),
        ({"a.$lt.$gt": 1}, "one operator"),
        ({"a.$foo": 1}, r"unknown operator '\$foo'"),
        ({"sp": 1}, "'sp' alone"),
        ({"doc": {"$exists": True}}, "'doc' alone"),
        ({"sp.$and": [{"a": 1}]}, r"\$and"),
    ],
)
def test_what_cannot_be_interpreted_is_an_error(both, flt, match):
    _, project = both
    with pytest.raises(suite.FilterError, match=match):
        project.find_jobs(flt)


def test_cli_accepts_the_dotted_operator_form(both):
    from click.testing import CliRunner

    from suite.cli import cli

    sp_project, project = both
    import os

    old = os.getcwd()
    os.chdir(project.path)
    try:
        out = CliRunner().invoke(cli, ["find", '{"a.$lt": 1, "doc": {"d": 1}}'])
    finally:
        os.chdir(old)
    assert out.exit_code == 0, out.output
    assert out.output.split() == [j.id for j in sp_project.find_jobs({"a": 0, "doc.d": 1})]


@pytest.mark.parametrize("flt", ["a 1", "b.c 1 a.$lt 3", "doc.d 5", "b.s /^x[01]$/", "a",
                                 [("a", 2)], (("sp.b.c", 0), ("doc.d", 4))],
                         ids=str)
def test_strings_and_pairs_like_signac(both, flt):
    sp_project, project = both
    expected = {j.id for j in sp_project.find_jobs(flt)}
    assert set(project.find_jobs(flt).ids()) == expected and expected


def test_a_json_string_is_a_whole_filter(both):
    _, project = both
    assert len(project.find_jobs('{"a": {"$in": [1, 2]}}')) == 4


@pytest.fixture(scope="module")
def uneven(tmp_path_factory):
    """A project made by signac whose jobs lack some keys, opened by both tools."""
    path = tmp_path_factory.mktemp("uneven")
    sp_project = signac.init_project(str(path))
    for sp in [{"a": 1}, {"a": 2}, {"a": None}, {"a": {"b": 1}}, {"b": 1}, {"b": {"c": 2}}]:
        job = sp_project.open_job(sp).init()
        if "a" in sp:
            job.doc.d = sp["a"]
    return sp_project, suite.get_project(path)


# signac's $ne and $nin match only jobs that have the key (a job without it is not "not
# equal": it has no value); $not and $exists false do match them
MISSING_KEY_FORMS = [
    {"a": {"$ne": 1}},
    {"a": {"$ne": None}},
    {"a.$ne": 2},
    {"a": {"$nin": [1, None]}},
    {"a": {"$nin": []}},
    {"b.c": {"$ne": 3}},
    {"doc.d": {"$ne": 1}},
    {"doc": {"d": {"$nin": [2]}}},
    {"doc.zz": {"$ne": 1}},
    {"$not": {"a": 1}},
    {"$not": {"a": {"$ne": 1}}},
    {"a": {"$exists": False}},
    {"$or": [{"a": {"$ne": 1}}, {"b": 1}]},
]


@pytest.mark.parametrize("flt", MISSING_KEY_FORMS, ids=[str(f) for f in MISSING_KEY_FORMS])
def test_jobs_without_the_key_match_as_in_signac(uneven, flt):
    sp_project, project = uneven
    expected = {j.id for j in sp_project.find_jobs(flt)}
    assert set(project.find_jobs(flt).ids()) == expected
    # the index (SQL) and the Python evaluator agree on them too
    from suite.query import compile_filter, evaluate

    tree = compile_filter(flt)
    assert {j.id for j in project if evaluate(tree, j.sp(), j.doc())} == expected


def test_ne_skips_jobs_without_the_key_on_the_command_line(uneven):
    sp_project, project = uneven
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "suite", "find", "a.$ne", "1"],
                         cwd=project.path, capture_output=True, text=True, check=True)
    assert set(out.stdout.split()) == {j.id for j in sp_project.find_jobs({"a": {"$ne": 1}})}
    assert len(out.stdout.split()) == 3
