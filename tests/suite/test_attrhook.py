"""Attribute access without a dropped AttributeError: the native ``suite._attrhook`` lookup
against its reference ``suite.attrhook.getattr_python`` and against Python's own lookup, on
generated classes, objects and names (the same value, or the same exception type and
message); and the views of state points and documents that use it."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import suite
from suite import attrhook, native
from suite.synced import JSONDict, SyncedDict
from tests.suite.test_native import need

hook = native.load("suite._attrhook")

NAMES = st.sampled_from(["a", "b", "x", "prop", "bad_prop", "method", "plain", "slot",
                         "missing", "__class__", "__len__", "__nothing__", "raises_type",
                         "é", ""])


def make_class(kind):
    """A slotted class with a property, a property raising AttributeError, a method, a class
    attribute, a slot and a ``__getattr__`` of the given ``kind``."""

    def getattr_(self, name):
        if kind == "raise":
            raise AttributeError(f"no {name}")
        if name == "raises_type":
            raise TypeError("not this one")
        if name.startswith("__") or name == "slot":  # an unset slot comes here too
            raise AttributeError(name)
        return ("from __getattr__", name, self.slot)

    def bad_prop(self):
        raise AttributeError("bad_prop inside")

    return type("Probe", (), {"__slots__": ("slot",), "__getattr__": getattr_,
                              "prop": property(lambda self: ("prop", self.slot)),
                              "bad_prop": property(bad_prop),
                              "method": lambda self: 1, "plain": 5})


def outcome(fn, obj, name):
    try:
        value = fn(obj, name)
    except Exception as exc:  # noqa: BLE001 - the exception is the outcome compared
        return ("raised", type(exc), str(exc))
    if value is type(obj):  # each object's own class (two classes of one making)
        return ("its class",)
    if callable(value) and getattr(value, "__self__", None) is obj:  # a bound method
        return ("bound", value.__func__)
    return ("value", value)


@settings(max_examples=200, deadline=None)
@given(kind=st.sampled_from(["answer", "raise"]), names=st.lists(NAMES, max_size=6),
       slot=st.one_of(st.none(), st.integers(), st.text(max_size=3)), set_slot=st.booleans())
def test_native_lookup_answers_as_python_and_the_reference(kind, names, slot, set_slot):
    need(hook)
    plain, hooked = make_class(kind), make_class(kind)
    hook.install(hooked)
    objs = []
    for cls in (plain, hooked):
        obj = cls()
        if set_slot:
            obj.slot = slot
        objs.append(obj)
    for name in names:
        python = outcome(getattr, objs[0], name)
        python = python if python[0] != "bound" else ("bound", python[1])
        native_ = outcome(getattr, objs[1], name)
        reference = outcome(attrhook.getattr_python, objs[0], name)
        if python[0] == "bound":  # the same function, each bound to its own object
            assert native_[0] == reference[0] == "bound"
            assert python[1].__name__ == native_[1].__name__ == reference[1].__name__
        else:
            assert native_ == python == reference, name
        assert outcome(hasattr, objs[1], name) == outcome(hasattr, objs[0], name)


def test_install_refuses_other_classes():
    need(hook)

    class NoGetattr:
        pass

    class OwnGetattribute:
        def __getattribute__(self, name):
            return 1

        def __getattr__(self, name):
            return 2

    for cls in (NoGetattr, OwnGetattribute, int, 5):
        with pytest.raises(TypeError):
            hook.install(cls)


def test_a_later_getattr_and_subclasses_use_pythons_own_lookup():
    need(hook)
    cls = make_class("answer")
    hook.install(cls)
    sub = type("Sub", (cls,), {"__slots__": ()})
    obj = sub()
    obj.slot = 3
    assert obj.x == ("from __getattr__", "x", 3)
    cls.__getattr__ = lambda self, name: "replaced"
    assert cls().x == "replaced" and obj.x == "replaced"
    del cls.__getattr__
    with pytest.raises(AttributeError):
        cls().x  # noqa: B018 - the access is what is tested


def test_views_answer_through_it(tmp_path):
    """``job.sp.key`` and ``job.doc.key``: values, nested views, and the AttributeError of a
    missing key, as before."""
    p = suite.init_project(tmp_path / "p")
    job = p.open_job({"a": 1, "b": {"c": [1, 2]}, "keys": "k"}).init()
    job.doc.x = {"y": 2}
    assert job.sp.a == 1 and job.sp.b.c() == [1, 2] and job.doc.x.y == 2
    assert callable(job.sp.keys)  # a method of the view comes first, as before
    assert job.sp["keys"] == "k"
    for view in (job.sp, job.doc, job.sp.b):
        with pytest.raises(AttributeError, match="missing"):
            view.missing  # noqa: B018 - the access is what is tested
        assert not hasattr(view, "__missing_dunder__")
    job.sp.a = 2  # setting through the view moves the job, as before
    assert p.open_job({"a": 2, "b": {"c": [1, 2]}, "keys": "k"}).id == job.id
    d = JSONDict(str(tmp_path / "d.json"))
    d.z = 5
    assert d.z == 5 and type(d).__getattr__ is SyncedDict.__getattr__
