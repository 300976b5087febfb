"""Path schemas: parsing, formatting, reading back, collisions (shared by archive and views)."""

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from suite.pathschema import (
    PathSchema,
    SchemaCollisionError,
    SchemaError,
    escape_component,
    unescape_component,
)
from suite.query import equal

json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-10**12, 10**12),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
)
json_values = st.one_of(json_scalars, st.lists(json_scalars, max_size=3),
                        st.dictionaries(st.text(min_size=1, max_size=4), json_scalars, max_size=2))


@given(json_values)
def test_component_round_trip_keeps_type(value):
    text = escape_component(value)
    assert "/" not in text and text not in ("", ".", "..")
    back = unescape_component(text)
    assert back == value and type(back) is type(value)


@given(st.dictionaries(st.sampled_from(["a", "b", "c"]), json_scalars, min_size=3, max_size=3),
       st.sampled_from(["<a>/<b>/<c>", "a_<a>/b-<b>,c=<c>", "x/<a>/<b>_<c>/end", "<a>.<b>.<c>"]))
def test_format_then_match_recovers_statepoint(sp, text):
    schema = PathSchema.parse(text)
    try:
        paths = schema.check([("0" * 32, sp)])
    except SchemaError:
        # only allowed when a value holds a separator that cannot be escaped (numbers)
        assert any(not isinstance(v, str) for v in sp.values())
        return
    parsed, job_id = schema.match(paths["0" * 32])
    assert job_id is None
    assert all(equal(parsed[k], sp[k]) and type(parsed[k]) is type(sp[k]) for k in sp)


def test_readable_paths():
    schema = PathSchema.parse("T_<T>/p_<p>/<model>")
    assert schema.format("x", {"T": 1.5, "p": 2, "model": "ising"}) == "T_1.5/p_2/ising"
    assert schema.format("x", {"T": 1.0, "p": "2", "model": "a/b"}) == "T_1.0/p_'2/a%2Fb"


def test_types_recovered_from_foreign_paths():
    schema = PathSchema.parse("<a>/<b>/<c>/<d>")
    assert schema.match("1e-3/-2.5/true/null")[0] == {"a": 0.001, "b": -2.5, "c": True, "d": None}
    assert schema.match("-/./ spaced /x")[0] == {"a": "-", "b": ".", "c": " spaced ", "d": "x"}
    assert schema.match("1/2") is None
    with pytest.raises(SchemaError, match="non-finite"):
        schema.match("inf/1/2/3")
    typed = PathSchema.parse("<a:str>/<b:float>/<c:int>/<d:str>")
    assert typed.match("1/2/3/inf")[0] == {"a": "1", "b": 2.0, "c": 3, "d": "inf"}
    with pytest.raises(SchemaError, match="not an int"):
        typed.match("1/2/x/y")


def test_nested_keys_and_id_and_signac_alias():
    schema = PathSchema.parse("{a}/<b.c>/<id>")
    path = schema.format("f" * 32, {"a": 1, "b": {"c": "x"}})
    assert path == f"1/x/{'f' * 32}"
    assert schema.match(path) == ({"a": 1, "b": {"c": "x"}}, "f" * 32)
    assert schema.fields == ["a", "b.c", "id"]


@pytest.mark.parametrize("text", ["", "/abs/<a>", "plain", "<a><b>", "<a:complex>", "<>",
                                  "a/../<b>", "<a", "x>"])
def test_bad_schemas(text):
    with pytest.raises(SchemaError):
        PathSchema.parse(text)


def test_collisions_are_refused_naming_jobs():
    schema = PathSchema.parse("<a>")
    with pytest.raises(SchemaCollisionError, match="j1.*j2"):
        schema.check([("j1", {"a": 1, "b": 1}), ("j2", {"a": 1, "b": 2})])
    nested = PathSchema.parse("<a>/<b>")
    # a "/" inside a value is escaped, so it cannot make one job's path a parent of another's
    paths = nested.check([("j1", {"a": "x", "b": "y"}), ("j2", {"a": "x/y", "b": "z"})])
    assert paths == {"j1": "x/y", "j2": "x%2Fy/z"}


def test_auto_schema():
    sps = {"i1": {"a": 1, "b": {"c": 2}, "k": 0}, "i2": {"a": 2, "b": {"c": 2}, "k": 0},
           "i3": {"a": 2, "b": {"c": 3}, "k": 0}}
    schema = PathSchema.auto(sps)
    assert str(schema) == "a/<a>/b.c/<b.c>"
    assert schema.format("i3", sps["i3"]) == "a/2/b.c/3"
    assert str(PathSchema.auto({"x": {"a": 1}})) == "<id>"
    hetero = {"i1": {"a": 1}, "i2": {"a": 1, "extra": True}}
    schema = PathSchema.auto(hetero)
    assert schema.format("i1", hetero["i1"]) == "extra/~"
    assert schema.match("extra/~")[0] == {}


@given(st.lists(st.dictionaries(st.sampled_from(["a", "b", "c"]), json_scalars, min_size=2,
                                max_size=3), min_size=1, max_size=8),
       st.sampled_from(["<a>/<b>/<c>", "a_<a>/b-<b>,c=<c>", "x/<a>/<b>_<c>/end", "<a>.<b>.<c>",
                        "<a>/<b>/<b.x>", "<a>/x_<a>", "<a:str>/<b:int>/<c>", "<a:float>/<b>"]))
@example([{"a": 1, "b": 2}, {"a": "1", "b": 3}], "<a:str>/<b:int>/<c>")  # "1" reads as a string
def test_verify_by_levels_agrees_with_reading_whole_paths(sps, text):
    """verify reads each level text once (for schemas whose keys do not overlap); it must
    accept and refuse exactly what reading each whole path back with match would."""
    schema = PathSchema.parse(text)
    statepoints = {f"{i:032x}": sp for i, sp in enumerate(sps)}
    paths = {}
    for job_id, sp in statepoints.items():
        try:
            paths[job_id] = schema.format(job_id, sp)
        except SchemaError:
            return  # a value that no path can hold
    expected_ok = True
    for job_id, path in paths.items():
        try:
            back = schema.match(path)
        except SchemaError:
            back = None
        if back is None or any(not equal(back[0].get(k), statepoints[job_id].get(k))
                               and k in text for k in ("a", "b", "c")):
            expected_ok = False
    try:
        schema.verify(paths, statepoints)
        ok = True
    except SchemaError:
        ok = False
    assert ok == expected_ok


@given(st.lists(st.dictionaries(st.sampled_from(["a", "b", "c"]),
                                st.one_of(json_scalars, st.sampled_from([0.0, -0.0, 1, 1.0, True,
                                                                         "1", "x_y", "x/y",
                                                                         float("inf")])),
                                min_size=1, max_size=3), min_size=1, max_size=8),
       st.sampled_from(["<a>/<b>/<c>", "a_<a>/b-<b>,c=<c>", "x/<a>/<b>_<c>/end", "<a>.<b>.<c>",
                        "<a>/<b>/<b.x>", "<a>/x_<a>", "<a:str>/<b:int>/<c>", "<a:float>/<b>",
                        "a/<a>/<id>", "j<id>_<a>/<b>"]))
@example([{"a": 0.0}, {"a": -0.0}], "<a>/<b>/<c>")  # equal keys, different texts
@example([{"b": float("inf")}, {"a": float("inf")}], "<a>/<b>/<c>")  # the first job's error
@example([{"a": 1}, {"a": 1}, {"b": float("inf")}], "<a>/<b>")  # the collision comes first
@example([{"a": 1, "b": 2}, {"a": "1", "b": 3}], "<a:str>/<b:int>/<c>")
def test_check_by_distinct_values_agrees_with_format_and_verify(sps, text):
    """check formats and reads back each level once per distinct value; its paths and its
    answer (accept, or the same error) must be those of format per job and verify."""
    _assert_check_agrees(sps, text)


one_str = st.sampled_from(["1", "x_y", "x/y", "inf", "", "null", "a,b", "é", "x.y", "-0"])


# no deadline: each example makes a project of up to 12 jobs, which took 289 ms at a load of
# 20 under SUITE_PURE_PYTHON=1 (hypothesis' default deadline is 200 ms)
@settings(deadline=None)
@given(st.data(), st.integers(1, 12),
       st.sampled_from(["<a>/<b>/<c>", "a_<a>/b-<b>,c=<c>", "<a>.<b>.<c>", "<a>/<b>/<b.x>",
                        "<a:str>/<b:int>/<c>", "<a>/<b.x>/<id>", "<b.x>/<a>", "<a>/x_<a>"]))
def test_check_of_one_type_columns_agrees_with_format_and_verify(data, n, text):
    """Columns of ints only or of strings only (check's shortcuts: one text per distinct
    value, a column taken without a call per job), with keys missing and ``b`` sometimes a
    dict: the same paths and errors as format per job and verify."""
    # the strings drawn directly: a mix of both filtered to them was refused by the health check
    # (filter_too_much) in a run of SUITE_PURE_PYTHON=1
    kinds = {k: data.draw(st.sampled_from([st.integers(-3, 3), one_str])) for k in "abcx"}
    sps = []
    for _ in range(n):
        sp = {k: data.draw(kinds[k]) for k in "abc" if data.draw(st.integers(0, 5))}
        if data.draw(st.booleans()):
            sp["b"] = {"x": data.draw(kinds["x"])} if data.draw(st.integers(0, 5)) else {}
        sps.append(sp)
    _assert_check_agrees(sps, text)


def _assert_check_agrees(sps, text):
    schema = PathSchema.parse(text)
    statepoints = {f"{i:032x}": sp for i, sp in enumerate(sps)}
    try:
        expected, owner = {}, {}
        for i, sp in statepoints.items():
            expected[i] = path = schema.format(i, sp)
            if path in owner:
                raise SchemaCollisionError(
                    f"schema {text!r} maps jobs {owner[path]} and {i} onto the same path "
                    f"{path!r}; add fields (or <id>) to tell them apart")
            owner[path] = i
        schema.verify(expected, statepoints)
    except SchemaError as exc:
        expected = (type(exc), str(exc))
    try:
        got = schema.check(statepoints.items())
    except SchemaError as exc:
        got = (type(exc), str(exc))
    assert got == expected


@given(st.lists(st.dictionaries(st.sampled_from(["a", "b", "c"]), json_scalars, min_size=1,
                                max_size=3), min_size=1, max_size=8))
def test_auto_paths_are_those_of_its_schema(sps):
    """auto's remembered paths are what formatting each job with its schema gives."""
    statepoints = {f"{i:032x}": sp for i, sp in enumerate(sps)}
    schema = PathSchema.auto(statepoints, verify=True)
    assert schema.paths == {i: schema.format(i, sp) for i, sp in statepoints.items()}


@given(st.lists(st.dictionaries(st.sampled_from(["a", "b", "c", "", "a.b", "c:int"]),
                                st.one_of(json_values, st.dictionaries(
                                    st.sampled_from(["a", "x", " x"]), json_values, max_size=2)),
                                max_size=3), max_size=8))
def test_leaf_values_by_column_agree_with_leaves_of_each_statepoint(sps):
    """auto's column-wise count of distinct leaf values equals the one state point at a time
    (suite.pathschema._leaves, the reference): the counts, which are all auto reads (a column
    of one type keeps its values untagged)."""
    from suite.pathschema import _hashable, _leaf_values, _leaves

    values, present = {}, {}
    _leaf_values(sps, "", values, present)
    ref_values, ref_present = {}, {}
    for sp in sps:
        for key, value in _leaves(sp):
            ref_values.setdefault(key, set()).add(_hashable(value))
            ref_present[key] = ref_present.get(key, 0) + 1
    assert {k: len(v) for k, v in values.items()} == {k: len(v) for k, v in ref_values.items()}
    assert present == ref_present


ODD_KEYS = ["", "a:b", "a/b", "a.", ".a", "a..b", " a", "a ", "a.b", "<a>", "{a}", "a%b", "ü"]


@given(st.lists(st.dictionaries(st.one_of(st.sampled_from(ODD_KEYS), st.text(max_size=4)),
                                json_scalars, min_size=1, max_size=3), min_size=1, max_size=6))
def test_auto_takes_any_keys_and_reads_back(sps):
    """Keys no field can name (empty, with ':', '/', '<', an empty dotted part, spaces at
    the ends, a dot in a key of its own) are left out of auto's schema, never a SchemaError:
    an export's default layout must exist for every project. What it names reads back."""
    statepoints = {f"{i:032x}": sp for i, sp in enumerate(sps)}
    schema = PathSchema.auto(statepoints, verify=True)
    assert len(set(schema.paths.values())) == len(statepoints)
    for key in schema.fields:
        assert key == "id" or all(part and part == part.strip() for part in key.split("."))


def test_auto_leaves_out_keys_it_cannot_name():
    sps = {"1" * 32: {"": 1, "a:b": 1, "a.b": 1, "k": 1}, "2" * 32: {"": 2, "a:b": 2, "a.b": 2,
                                                                      "k": 1}}
    assert str(PathSchema.auto(sps, verify=True)) == "<id>"
    sps["2" * 32]["k"] = 2
    assert str(PathSchema.auto(sps, verify=True)) == "k/<k>"
