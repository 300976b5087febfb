"""Objects of slotted classes made without ``__init__``: the native ``suite._slots.maker``
against its reference ``suite.slotnew.maker_python`` on generated classes, slot names and
values (the same objects, the same TypeError for what either refuses), references held and
released; and the jobs and views suite makes with it."""

import abc
import gc
import os
import subprocess
import sys
import weakref

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from suite import native, slotnew
from suite.job import Job
from suite.synced import SyncedDict
from tests.suite.test_native import need

slots = native.load("suite._slots")

NAMES = st.sampled_from(["a", "b", "_c", "d_", "x"])


def make_classes(base_slots, own_slots):
    """A base class and a subclass with those slots (duplicates dropped: Python refuses a
    slot named twice in one class, and a subclass repeating its base's slot shadows it)."""
    base = type("Base", (), {"__slots__": tuple(dict.fromkeys(base_slots))})
    own = [n for n in dict.fromkeys(own_slots) if n not in base_slots]
    return type("Child", (base,), {"__slots__": tuple(own), "method": lambda self: 1,
                                   "plain": 5})


def outcome(maker, cls, names, values):
    """``("made", {slot: value or missing})`` or ``("refused at make|call", TypeError)``."""
    try:
        make = maker(cls, names)
    except TypeError:
        return ("refused at make",)
    try:
        obj = make(*values)
    except TypeError:
        return ("refused at call",)
    assert type(obj) is cls
    state = {}
    for name in ("a", "b", "_c", "d_", "x"):
        try:
            state[name] = getattr(obj, name)
        except AttributeError:
            state[name] = "missing"
    return ("made", state)


@settings(max_examples=300, deadline=None)
@given(base_slots=st.lists(NAMES, max_size=3), own_slots=st.lists(NAMES, max_size=3),
       names=st.lists(NAMES | st.sampled_from(["method", "plain", "__init__"])
                      | st.integers(), max_size=4),
       values=st.lists(st.integers() | st.text(max_size=2) | st.none(), max_size=5))
def test_native_maker_agrees_with_the_reference(base_slots, own_slots, names, values):
    cls = make_classes(base_slots, own_slots)
    fast = outcome(need(slots).maker, cls, names, values)
    assert fast == outcome(slotnew.maker_python, cls, names, values)
    right = len(values) == len(names)
    if fast[0] == "made" and right:
        expected = dict(zip(names, values, strict=True))  # a name given twice: the last value
        assert {k: v for k, v in fast[1].items() if v != "missing"} == expected


class Other:
    __slots__ = ("a",)


class Abstract(abc.ABC):
    __slots__ = ("a",)

    @abc.abstractmethod
    def f(self):
        pass


class OwnNew:
    __slots__ = ("a",)

    def __new__(cls):
        return super().__new__(cls)


class Borrowing:
    """A member descriptor of another class as its attribute: its offset is not this
    class's (writing there would write outside the object)."""
    __slots__ = ()
    a = Other.a


class WithDict:
    pass


@pytest.mark.parametrize("cls, names", [
    (3, ("a",)), (int, ()), (OwnNew, ("a",)), (Abstract, ("a",)), (Borrowing, ("a",)),
    (WithDict, ("a",)), (Other, ("a", 1)), (Other, "ab"), (Other, ("__class__",)),
])
def test_both_refuse_what_they_cannot_make(cls, names):
    for maker in (need(slots).maker, slotnew.maker_python):
        with pytest.raises(TypeError):
            maker(cls, names)


def test_both_refuse_a_call_with_another_number_of_values_or_keywords():
    for maker in (need(slots).maker, slotnew.maker_python):
        make = maker(Other, ("a",))
        for args, kwargs in (((), {}), ((1, 2), {}), ((1,), {"a": 2})):
            with pytest.raises(TypeError):
                make(*args, **kwargs)
        assert make(7).a == 7


def test_made_objects_hold_their_values_and_release_them():
    need(slots)
    value = object()
    before = sys.getrefcount(value)
    make = slots.maker(Other, ("a",))
    made = [make(value) for _ in range(100)]
    assert sys.getrefcount(value) == before + 100
    del made
    assert sys.getrefcount(value) == before
    # a name given twice: the first value is released, the second kept
    first, second = object(), object()
    counts = sys.getrefcount(first), sys.getrefcount(second)
    obj = slots.maker(Other, ("a", "a"))(first, second)
    assert obj.a is second
    assert (sys.getrefcount(first), sys.getrefcount(second)) == (counts[0], counts[1] + 1)


def test_a_maker_kept_on_its_class_does_not_keep_the_class_alive():
    need(slots)
    cls = type("Gone", (), {"__slots__": ("a",)})
    cls.make = slots.maker(cls, ("a",))
    assert cls.make(1).a == 1
    ref = weakref.ref(cls)
    del cls
    gc.collect()
    assert ref() is None


def test_maker_is_the_native_one_unless_switched_off():
    assert slotnew.maker is need(slots).maker
    code = "from suite import slotnew; print(slotnew.maker is None)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "SUITE_PURE_PYTHON": "1"}, check=True).stdout
    assert out.strip() == "True"


def test_jobs_and_views_made_by_it_behave_as_before(project):
    job = project.open_job({"a": 1, "b": {"c": 2}}).init()
    job.doc.step = 1
    found = list(project)
    assert found == [job] and type(found[0]) is Job
    got = found[0]
    assert got.id == job.id and got.path == job.path and got.sp() == {"a": 1, "b": {"c": 2}}
    assert type(got.sp) is SyncedDict and got.sp.b.c == 2 and got.doc() == {"step": 1}
    got.sp.a = 3  # a change through the view moves the job, as before
    assert got.sp() == {"a": 3, "b": {"c": 2}} and os.path.isdir(got.path)
    assert not os.path.isdir(job.path)
    got.doc.more = 2
    assert project.open_job(id=got.id).doc() == {"step": 1, "more": 2}
