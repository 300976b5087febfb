"""The workflow model: operations with pre- and postconditions, labels and directives.

An operation is eligible for a job when all its preconditions hold and not all of its
postconditions hold (an operation without postconditions is eligible until it has completed
once, as recorded in the job's provenance log; in a :class:`~suite.flow.FlowProject`, as in
signac-flow, it is always eligible).
"""

import dataclasses
import functools
from dataclasses import dataclass, field

from suite.errors import FlowDefinitionError, SuiteError

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
    #: signac-flow's operation hooks: trigger (on_start, on_success, on_exception, on_exit)
    #: -> functions
    hooks: dict = field(default_factory=dict)

    @property
    def aggregate(self):
        """True when the operation takes several jobs at once."""
        return self.aggregator is not None


@dataclass
class Group:
    """Operations run (and submitted) as one unit; conditions are re-checked between them.

    With an ``aggregator`` the group runs on aggregates (every operation in it must then be
    an aggregate operation); without one, on one job at a time (no operation in it may be an
    aggregate operation, which would otherwise be called with single jobs)."""

    name: str
    operations: list = field(default_factory=list)
    directives: dict = field(default_factory=dict)
    aggregator: object = None
    owner: object = None
    #: directives an operation has only when run through this group: name -> dict
    operation_directives: dict = field(default_factory=dict)
    #: signac-flow's make_group(submit_options=, run_options=) given, which suite cannot
    #: apply: running (run_options) or submitting (submit_options) the group refuses them
    unapplied: dict = field(default_factory=dict)

    def __call__(self, func=None, /, *, directives=None):
        if func is None:
            return functools.partial(self, directives=directives)
        op = registered(self.owner, func) if self.owner is not None else None
        if op is None:
            if self.owner is not None and self.owner.signac_flow_rules:
                raise FlowDefinitionError(
                    f"group {self.name!r}: {getattr(func, '__name__', func)!r} is not an "
                    "operation; put @group above @Project.operation")
            self.operations.append(getattr(func, "__name__", func))
            return func
        if op.name in self.operations:
            raise FlowDefinitionError(f"operation {op.name!r} is in group {self.name!r} twice")
        if op.aggregate and self.aggregator is None:
            raise FlowDefinitionError(
                f"group {self.name!r} runs on one job at a time, but operation {op.name!r} "
                "takes aggregates: give the group the same aggregation, "
                "make_group(..., group_aggregator=aggregator(...))")
        if not op.aggregate and self.aggregator is not None:
            raise FlowDefinitionError(
                f"group {self.name!r} runs on aggregates (group_aggregator), but operation "
                f"{op.name!r} takes one job: make it an aggregate operation "
                "(@Project.operation(aggregator=...)) or put it in a group without "
                "group_aggregator")
        self.operations.append(op.name)
        if directives is not None:
            self.operation_directives[op.name] = dict(directives)
        return func


def registered(owner, func):
    """The operation of workflow class ``owner`` registered for ``func``, or None."""
    for op in owner.operation_table.values():
        if op.func is func or getattr(op.func, "__wrapped__", None) is func:
            return op
    return None


class _ConditionDecorator:
    """``@Flow.pre(cond)``, ``@Flow.pre.isfile(name)``, ``.true(key)``, ``.false(key)``,
    ``.not_(cond)``, ``.never``, ``.after(*operations)``, ``.succeeded(*operations)``,
    ``.copy_from(*operations)``."""

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
        owner = self.owner
        op = (registered(owner, cond) if owner is not None and owner.signac_flow_rules
              and not isinstance(cond, C.Condition) else None)
        if op is not None:
            # as signac-flow: it would be called (run) at every status
            name = op.name
            raise FlowDefinitionError(f"the operation {name!r} cannot be a {self.kind}condition; "
                                      f"to wait for it, use pre.after({name})")
        cond = C.wrap(cond)

        def decorate(func):
            # written above @operation (applied after it): update the registered operation;
            # written below it: remembered on the function until it is registered
            owner = self.owner
            for name, op in (owner.operation_table if owner else {}).items():
                if op.func is func:
                    if any(op is getattr(base, "operation_table", {}).get(name)
                           for base in owner.__mro__[1:]):
                        # inherited: the condition is this class's (and its subclasses'),
                        # not the parent's
                        op = dataclasses.replace(op, pre=list(op.pre), post=list(op.post))
                        _register(owner, "operation_table", name, op, replace=True)
                    getattr(op, self.kind).insert(0, cond)
                    return func
            if owner is not None and owner.signac_flow_rules:
                # as signac-flow: a condition goes above the operation it belongs to
                raise FlowDefinitionError(
                    f"the {self.kind}condition on {getattr(func, '__name__', func)!r}: it is "
                    f"not an operation of {owner.__name__}; write @{owner.__name__}."
                    f"{self.kind}(...) above @{owner.__name__}.operation")
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

    def never(self, func):
        """A precondition (or postcondition) that never holds."""
        return self._add(C.Condition(lambda job, docs: False, "never", "never", id(func)))(func)

    def after(self, *operations):
        """Holds when each of ``operations`` is complete: all its postconditions hold (one
        without postconditions counts as complete once it has succeeded, by the provenance
        log; in a FlowProject, as in signac-flow, it always counts as complete)."""
        ops = self._check_operations(operations, "pre.after")
        names = ", ".join(getattr(o, "__name__", o) for o in ops)
        return self._add(C.Condition(_evaluated_by_runner, f"after {names}", "after",
                                     tuple(ops)))

    def succeeded(self, *operations):
        """Holds when each of ``operations`` has succeeded on the job at least once, as its
        provenance log (``suite_flow_log.jsonl``) records; signac-flow has no such
        condition."""
        ops = self._check_operations(operations, "pre.succeeded")
        names = [getattr(o, "__name__", o) for o in ops]
        return self._add(C.Condition(_evaluated_by_runner, f"succeeded {', '.join(names)}",
                                     "succeeded", tuple(ops)))

    def copy_from(self, *operations):
        """Holds when all of this kind of conditions (pre or post) of ``operations`` hold."""
        ops = self._check_operations(operations, f"{self.kind}.copy_from")
        names = ", ".join(getattr(o, "__name__", o) for o in ops)
        return self._add(C.Condition(_evaluated_by_runner, f"{self.kind} of {names}",
                                     f"copy_{self.kind}", tuple(ops)))

    def _check_operations(self, operations, what):
        owner = self.owner
        if owner is not None and owner.signac_flow_rules:
            funcs = [op.func for op in owner.operation_table.values()]
            if not all(o in funcs for o in operations):
                raise FlowDefinitionError(f"the arguments to {what} must be operations "
                                          "registered before it")
        return operations


def _register(cls, table, name, value, replace=False):
    """``cls.<table>[name] = value``, and in each subclass made before (a subclass copies its
    parent's tables when it is made) that has no ``name`` of its own or, with ``replace``,
    has the value ``cls`` had: signac-flow collects a class's operations, labels and groups
    through its bases when a project is made, so later registrations on a base count."""
    old = getattr(cls, table).get(name)
    getattr(cls, table)[name] = value
    stack = list(cls.__subclasses__())
    while stack:
        sub = stack.pop()
        mine = getattr(sub, table)
        if name not in mine or (replace and old is not None and mine[name] is old):
            mine[name] = value
            stack.extend(sub.__subclasses__())


def _refuse_in_subclasses(cls, func):
    """A subclass of ``cls`` that registered ``func`` as its own operation holds it twice
    once ``cls`` registers it too: signac-flow refuses that subclass's projects (not
    ``cls``'s), so the error is kept on the subclass for :meth:`Workflow.definition_error`."""
    stack = list(cls.__subclasses__())
    while stack:
        sub = stack.pop()
        stack.extend(sub.__subclasses__())
        if registered(sub, func) is not None and sub.__dict__.get("_suite_twice") is None:
            sub._suite_twice = (
                f"the function {func.__name__!r} is an operation of {sub.__name__} and of its "
                f"base class {cls.__name__}: register it on {cls.__name__} only (a subclass "
                "inherits its operations)")


def _evaluated_by_runner(job, docs):
    raise SuiteError("this condition is evaluated by the workflow runner only")


class Workflow:
    """Base class of workflows: subclass it and register operations with the decorators."""

    operation_table: dict = {}
    label_table: dict = {}
    group_table: dict = {}
    #: signac-flow's rules (FlowProject): an operation without postconditions is never
    #: complete; a command runs in the caller's directory unless ``with_job``; definitions
    #: are checked as signac-flow checks them
    signac_flow_rules = False
    #: why a class's projects are refused (see _refuse_in_subclasses): kept on the class
    #: that holds the twice-registered function, read by definition_error
    _suite_twice = None
    pre = _ConditionDecorator("pre")
    post = _ConditionDecorator("post")
    #: the file defining this class, when it was loaded from one (``suite run --workflow``,
    #: or a project.py run through its ``main()``): a forked or submitted operation loads it
    #: again; None otherwise
    workflow_file = None

    @classmethod
    def definition_error(cls):
        """Why this class's workflow cannot run (a definition signac-flow refuses when its
        project is made), or None."""
        for klass in cls.__mro__:
            if klass.__dict__.get("_suite_twice") is not None:
                return klass.__dict__["_suite_twice"]
        return None

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.operation_table = dict(cls.operation_table)
        cls.label_table = dict(cls.label_table)
        cls.group_table = dict(cls.group_table)

    @classmethod
    def operation(cls, func=None, *, name=None, cmd=False, with_job=False, directives=None,
                  aggregator=None):
        """Register ``func`` (a function of the job; with ``cmd=True`` it returns a shell
        command run in the job directory). With an ``aggregator`` (see
        :mod:`suite.flow.aggregates`) it is called with several jobs at once."""
        if isinstance(func, str):  # @Project.operation("name"), as signac-flow allows
            func, name = None, func
        if func is None:
            return functools.partial(cls.operation, name=name, cmd=cmd, with_job=with_job,
                                     directives=directives, aggregator=aggregator)
        if aggregator is not None and getattr(aggregator, "is_default", False):
            aggregator = None  # groupsof(1): one job at a time
        if aggregator is not None and with_job:
            raise FlowDefinitionError(f"operation {name or func.__name__!r}: with_job cannot "
                                      "be used with aggregation")
        pending = func.__dict__.get("_suite_flow_conditions", {"pre": [], "post": []})
        in_job = with_job if cls.signac_flow_rules else (with_job or cmd)
        op = Operation(name or func.__name__, func, list(pending["pre"]), list(pending["post"]),
                       cmd, in_job and aggregator is None, dict(directives or {}), aggregator)
        if op.name in cls.operation_table or op.name in cls.group_table:
            raise FlowDefinitionError(f"operation {op.name!r} is registered twice (or is the "
                                      "name of a group)")
        if cls.signac_flow_rules and registered(cls, func) is not None:
            raise FlowDefinitionError(f"the function {func.__name__!r} is already registered "
                                      "as an operation")
        if cls.signac_flow_rules:
            for other in cls.operation_table.values():
                if any(c.raw is func for c in other.pre + other.post):
                    raise FlowDefinitionError(
                        f"the function {func.__name__!r} is a condition of operation "
                        f"{other.name!r}; an operation cannot be a condition")
        if cls.signac_flow_rules:
            _refuse_in_subclasses(cls, func)
        _register(cls, "operation_table", op.name, op)
        return func

    @classmethod
    def make_group(cls, name, directives=None, group_aggregator=None):
        """A group: decorate operations with it (``@group`` above ``@Flow.operation``).
        ``group_aggregator`` makes it run on aggregates (see :class:`Group`); raises
        FlowDefinitionError for a name that is taken."""
        if name in cls.operation_table or name in cls.group_table:
            raise FlowDefinitionError(f"{name!r} is already an operation or a group")
        if group_aggregator is not None and group_aggregator.is_default:
            group_aggregator = None
        group = Group(name, [], dict(directives or {}), group_aggregator, cls)
        _register(cls, "group_table", name, group)
        return group

    @classmethod
    def label(cls, func=None, *, name=None):
        """Register a label: a function of the job returning True (shown) or a string.
        ``@Flow.label("name")`` names it."""
        if isinstance(func, str):
            func, name = None, func
        if func is None:
            return functools.partial(cls.label, name=name)
        _register(cls, "label_table", name or func.__name__, func)
        return func
