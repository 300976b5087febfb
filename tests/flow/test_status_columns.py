"""status's column path (pure built-in conditions judged per column) against the general one,
and its chunks (jobs made and judged a chunk at a time) against one chunk of all jobs."""

import shutil
import tempfile

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import suite
from suite.flow import Runner, Workflow, scan

KEYS = ("a", "b", "n.c")
VALUES = st.one_of(st.none(), st.booleans(), st.integers(-1, 1), st.text(max_size=1),
                   st.lists(st.integers(0, 1), max_size=1))
# "callable": a user's condition (doc key truthy through job.doc), judged by the general path
CONDITION = st.tuples(st.sampled_from(["true", "false", "isfile", "callable"]),
                      st.sampled_from(KEYS))
OPERATION = st.tuples(st.lists(CONDITION, max_size=3), st.lists(CONDITION, max_size=3))
JOB = st.tuples(st.dictionaries(st.sampled_from(["a", "b", "n"]),
                                st.one_of(VALUES, st.fixed_dictionaries({"c": VALUES})),
                                max_size=3),
                st.sets(st.sampled_from(KEYS), max_size=2),
                st.booleans())  # False: no document file at all


class GeneralRunner(Runner):
    """The reference: every operation judged by the general per-unit path."""

    def _column_conditions(self, op):
        return None


def _reads(key):
    def cond(job):
        node = job.doc
        for part in key.split("."):
            if not hasattr(node, "get") or part not in node:
                return False
            node = node[part]
        return bool(node)

    return cond


def workflow(operations):
    class W(Workflow):
        pass

    for k, (pre, post) in enumerate(operations):
        def func(job):
            pass

        func.__name__ = func.__qualname__ = f"op{k}"
        W.operation(func)
        for where, conds in (("pre", pre), ("post", post)):
            for kind, key in conds:
                if kind == "callable":
                    getattr(W, where)(_reads(key))(func)
                else:
                    getattr(getattr(W, where), kind)(key)(func)

    @W.label
    def has_a(job):
        return "a" in job.doc

    @W.label
    def parity(job):  # a label with a value: "parity=even"
        return "even" if job.sp.i % 2 == 0 else False

    return W


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(OPERATION, min_size=1, max_size=3), st.lists(JOB, min_size=1, max_size=6),
       st.integers(1, 4))
def test_columns_agree_with_the_general_path(operations, jobs, chunk):
    root = tempfile.mkdtemp()
    try:
        project = suite.init_project(root)
        for i, (doc, files, has_doc) in enumerate(jobs):
            job = project.open_job({"i": i}).init()
            if has_doc:
                job.doc.update(doc)
            for name in files:
                with open(job.fn(name), "w") as f:
                    f.write("x")
        W = workflow(operations)
        general = GeneralRunner(W, project).status()
        scan.CHUNK, whole = chunk, scan.CHUNK  # several chunks against one
        try:
            fast = Runner(W, project).status()
            chunked_general = GeneralRunner(W, project).status()
        finally:
            scan.CHUNK = whole
        for other in (fast, chunked_general):
            assert other.operations == general.operations
            assert other.jobs == general.jobs
            assert dict(other.jobs.items()) == dict(general.jobs.items())
            assert other.labels == general.labels
        assert fast.to_json() == general.to_json()
        assert fast.format(detailed=True) == general.format(detailed=True)
        # the column path was taken where it applies (otherwise this test compares nothing)
        if any(post and all(k != "callable" for k, _ in pre + post) for pre, post in operations):
            r = Runner(W, project)
            assert any(r._column_conditions(op) is not None for op in W.operation_table.values())
    finally:
        shutil.rmtree(root)


def test_columns_count_one_workflow(project):
    """A fixed case with known counts: complete, eligible and blocked jobs."""
    for i in range(4):
        job = project.open_job({"i": i}).init()
        job.doc.step = i % 2 == 1
        if i == 3:
            open(job.fn("second.txt"), "w").close()

    class W(Workflow):
        pass

    @W.pre.true("step")
    @W.post.isfile("second.txt")
    @W.operation
    def second(job):
        pass

    status = Runner(W, project).status()
    assert status.operations["second"] == {"eligible": 1, "complete": 1}
    assert [j for j, info in status.jobs.items() if info["eligible"]] == [
        project.open_job({"i": 1}).id]


JSON_OBJECTS = st.dictionaries(st.text(max_size=3), st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
              st.text(max_size=3)),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=2), inner,
                                                                max_size=2), max_leaves=4),
    max_size=3)


@given(objects=st.lists(JSON_OBJECTS, max_size=6),
       spaces=st.lists(st.sampled_from(["", " ", "\n", "\t "]), min_size=12, max_size=12),
       extra=st.sampled_from([None, "{}, {}", "{} trailing", "[1]"]))
def test_loads_many_reads_what_loads_reads(objects, spaces, extra):
    """The texts parsed as one array give what parsing each gives, also when a text would
    not fit in an array as one element (then each is parsed alone)."""
    import json

    texts = [spaces[2 * k % 12] + json.dumps(o) + spaces[(2 * k + 1) % 12]
             for k, o in enumerate(objects)]
    if extra is not None:
        texts.insert(len(texts) // 2, extra)
    assert scan.loads_many(texts) == [scan.loads(t) for t in texts]
