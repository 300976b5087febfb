"""The workflow model: operations with pre- and postconditions, labels and directives.

An operation is eligible for a job when all its preconditions hold and not all of its
postconditions hold (an operation without postconditions is eligible until it has completed
once, as recorded in the job's provenance log).
"""

import functools
from dataclasses import dataclass, field

from . import conditions as C


@dataclass
class Operation:
    """A registered operation."""

    name: str
    func: object
    pre: list = field(default_factory=list)
    post: list = field(default_factory=list)
    cmd: bool = False
    with_job: bool = False
    directives: dict = field(default_factory=dict)
    aggregator: object = None


@dataclass
class Group:
    """Operations run (and submitted) as one unit; conditions are re-checked between them."""

    name: str
    operations: list = field(default_factory=list)
    directives: dict = field(default_factory=dict)

    def __call__(self, func):
        self.operations.append(getattr(func, "__name__", func))
        return func


class _ConditionDecorator:
    """``@Flow.pre(cond)``, ``@Flow.pre.isfile(name)``, ``.true(key)``, ``.false(key)``,
    ``.after(*operations)``, ``.not_(cond)``."""

    def __init__(self, kind):
        self.kind = kind
        self.owner = None

    def __set_name__(self, owner, name):
        self.owner = owner

    def __get__(self, instance, owner):
        bound = _ConditionDecorator(self.kind)
        bound.owner = owner
        return bound

    def _add(self, cond):
        cond = C.wrap(cond)

        def decorate(func):
            # written above @operation (applied after it): update the registered operation;
            # written below it: remembered on the function until it is registered
            for op in (self.owner._operations if self.owner else {}).values():
                if op.func is func:
                    getattr(op, self.kind).insert(0, cond)
                    return func
            pending = func.__dict__.setdefault("_suite_flow_conditions", {"pre": [], "post": []})
            pending[self.kind].insert(0, cond)
            return func

        return decorate

    def __call__(self, cond):
        return self._add(cond)

    def isfile(self, name):
        return self._add(C.isfile(name))

    def true(self, key):
        return self._add(C.true(key))

    def false(self, key):
        return self._add(C.false(key))

    def not_(self, cond):
        return self._add(C.not_(cond))

    def after(self, *operations):
        names = [getattr(op, "__name__", op) for op in operations]
        owner = self.owner

        def done(job, docs):
            completed = owner._completed(job)
            return all(n in completed for n in names)

        return self._add(C.Condition(done, f"after {', '.join(names)}", "after", names))


class Workflow:
    """Base class of workflows: subclass it and register operations with the decorators."""

    _operations: dict = {}
    _labels: dict = {}
    _groups: dict = {}
    pre = _ConditionDecorator("pre")
    post = _ConditionDecorator("post")

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._operations = dict(cls._operations)
        cls._labels = dict(cls._labels)
        cls._groups = dict(cls._groups)

    @classmethod
    def operation(cls, func=None, *, name=None, cmd=False, with_job=False, directives=None,
                  aggregator=None):
        """Register ``func`` (a function of the job; with ``cmd=True`` it returns a shell
        command run in the job directory). With an ``aggregator`` (see
        :mod:`suite.flow.aggregates`) it is called with several jobs at once."""
        if func is None:
            return functools.partial(cls.operation, name=name, cmd=cmd, with_job=with_job,
                                     directives=directives, aggregator=aggregator)
        pending = func.__dict__.get("_suite_flow_conditions", {"pre": [], "post": []})
        op = Operation(name or func.__name__, func, list(pending["pre"]), list(pending["post"]),
                       cmd, (with_job or cmd) and aggregator is None, dict(directives or {}),
                       aggregator)
        if op.name in cls._operations:
            raise ValueError(f"operation {op.name!r} is registered twice")
        cls._operations[op.name] = op
        return func

    @classmethod
    def make_group(cls, name, directives=None):
        """A group: decorate operations with it (``@group`` above ``@Flow.operation``)."""
        if name in cls._operations or name in cls._groups:
            raise ValueError(f"{name!r} is already an operation or a group")
        group = Group(name, [], dict(directives or {}))
        cls._groups[name] = group
        return group

    @classmethod
    def label(cls, func=None, *, name=None):
        """Register a label: a function of the job returning True (shown) or a string."""
        if func is None:
            return functools.partial(cls.label, name=name)
        cls._labels[name or func.__name__] = func
        return func

    @classmethod
    def _completed(cls, job):
        from .provenance import completed_operations

        return completed_operations(job)
