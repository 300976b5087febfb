"""Objects of slotted classes made without their ``__init__``: ``maker(cls, names)`` is a
callable ``make(*values)`` giving an object of ``cls`` whose slots ``names`` hold ``values``.

For the objects made once per job of an iteration or a status (a :class:`~suite.job.Job`,
the views ``job.sp`` and ``job.doc``, a document root): a Python ``__init__`` or a loop of
the slots' setters was the largest part of each (``job.sp``: 1.2 of 2.4 µs). In C
(``suite._slots``) where it was built; :func:`maker_python` is its reference (for the tests:
without the C module the callers use the classes' ``__init__``).
"""

from types import MemberDescriptorType

from . import native

_slots = native.load("suite._slots")

_IS_ABSTRACT = 1 << 20  # Py_TPFLAGS_IS_ABSTRACT: what object.__new__ refuses to make


def _check_class(cls):
    if not isinstance(cls, type):
        raise TypeError(f"maker needs a class, not {type(cls).__name__}")
    if (cls.__flags__ & _IS_ABSTRACT
            or any("__new__" in vars(k) for k in cls.__mro__ if k is not object)):
        raise TypeError(f"{cls.__name__} is not made by object.__new__")


def _setter(cls, name):
    if not isinstance(name, str):
        raise TypeError(f"slot names must be str, not {type(name).__name__}")
    descr = getattr(cls, name, None)
    owner = getattr(descr, "__objclass__", None)
    if (type(descr) is not MemberDescriptorType or not issubclass(cls, owner)
            or "__slots__" not in vars(owner) or vars(owner).get(name) is not descr):
        raise TypeError(f"{name!r} is not a writable object slot of {cls.__name__}")
    return descr.__set__


def maker_python(cls, names):
    """``make(*values)``: ``object.__new__(cls)`` with the slot ``names[i]`` set to
    ``values[i]`` (no ``__init__``, no ``__setattr__``). The reference of the native
    ``suite._slots.maker``.

    Raises TypeError for a class not made by ``object.__new__`` (one defining ``__new__``,
    an abstract one), a name that is not a slot of ``cls`` or its bases, and for a call with
    another number of values (or keyword arguments)."""
    _check_class(cls)
    setters = tuple(_setter(cls, name) for name in names)
    new, count = object.__new__, len(setters)

    def make(*values):
        if len(values) != count:
            raise TypeError(f"a maker of {cls.__name__} takes {count} values, "
                            f"{len(values)} given")
        obj = new(cls)
        for setter, value in zip(setters, values, strict=True):
            setter(obj, value)
        return obj

    return make


#: the C :func:`maker_python` where built, else None: the callers then make their objects as
#: before, by the classes' own ``__init__`` (faster in Python than this generic reference,
#: whose loop of setters made iterating 100,000 jobs 40 % slower)
maker = _slots.maker if _slots is not None else None
