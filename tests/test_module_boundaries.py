"""No module reaches into another module's private names.

The rule, as this test applies it to every ``.py`` file of suite/, sync/, archive/ and
schedulers/ (bench/ and tests/ may use anything):

* A *private name* starts with one underscore (``_x``); names starting with two (dunders, and
  names Python mangles per class) are not checked.
* A private name is *defined as an attribute* in a file when that file gives it to a class or
  an object: a ``def``/``class``/assignment directly in a class body, an entry of a class's
  ``__slots__``, or an assignment to ``self._x`` / ``cls._x`` (also through ``setattr`` or
  ``object.__setattr__`` with the constant string ``"_x"``). A module-level function or
  variable ``_x`` is not an attribute definition (it is reached by name, never through an
  object of this module).
* ``obj._x`` (read, write, or ``getattr``/``hasattr``/``setattr``/``delattr`` with the
  constant string ``"_x"``) where ``obj`` is not ``self`` or ``cls`` is allowed only when
  ``_x`` is defined as an attribute in the same file: the same class's other instance (as in
  ``__eq__``) or a class of the same module. Everything else reaches into another module.
* ``self._x`` and ``cls._x`` are not checked: a subclass uses what its bases give it.
* ``from m import _x`` (and ``import m._x``) are not allowed; ``from m import x as _x`` is
  (the private name is this module's own).
* A few standard-library names that begin with an underscore but are documented, public
  interfaces are allowed by :data:`ALLOWED` (receiver, name), each with its reason. Nothing of
  this repository may be added there: give the thing a public name in its own module instead.

The failure names ``file:line`` and the expression of each use.
"""

import ast
import os

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PACKAGES = ("suite", "sync", "archive", "schedulers")

#: (receiver as written, name): standard-library interfaces whose names begin with "_"
ALLOWED = {
    # exit the process at once, without atexit handlers or flushing stdio: the documented way
    # for a forked child to end (the os module documents it for exactly that)
    ("os", "_exit"),
    # CPython's function that runs the atexit handlers; process.py calls it where present
    # (getattr with a default), so an interpreter without it still works
    ("atexit", "_run_exitfuncs"),
}

ACCESSORS = ("getattr", "hasattr", "setattr", "delattr")


def _private(name):
    return name.startswith("_") and not name.startswith("__")


def _python_files():
    for package in PACKAGES:
        for root, dirs, files in os.walk(os.path.join(REPO, package)):
            dirs[:] = sorted(d for d in dirs if d != "__pycache__")
            for name in sorted(files):
                if name.endswith(".py"):
                    yield os.path.join(root, name)


def _is_setattr(func):
    """``setattr`` or ``<something>.__setattr__``."""
    return (isinstance(func, ast.Name) and func.id == "setattr") or \
        (isinstance(func, ast.Attribute) and func.attr == "__setattr__")


def _attribute_definitions(tree):
    """Private names this file defines as attributes (see the module docstring)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef):
            for item in node.body:
                if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                    names.add(item.name)
                targets = item.targets if isinstance(item, ast.Assign) else \
                    [item.target] if isinstance(item, ast.AnnAssign) else []
                for target in targets:
                    for leaf in ast.walk(target):
                        if isinstance(leaf, ast.Name):
                            names.add(leaf.id)
                            if leaf.id == "__slots__" and isinstance(item.value,
                                                                     (ast.Tuple, ast.List)):
                                names.update(e.value for e in item.value.elts
                                             if isinstance(e, ast.Constant)
                                             and isinstance(e.value, str))
        elif isinstance(node, ast.Attribute) and isinstance(node.ctx, ast.Store) and \
                isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
            names.add(node.attr)
        elif isinstance(node, ast.Call) and len(node.args) >= 2 and _is_setattr(node.func) and \
                isinstance(node.args[0], ast.Name) and node.args[0].id in ("self", "cls") and \
                isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str):
            names.add(node.args[1].value)
    return {n for n in names if _private(n)}


def _uses(tree):
    """``(line, receiver, name, text)`` of each access to a private name through an object
    other than self/cls, and of each import of a private name."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and _private(node.attr):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            yield node.lineno, ast.unparse(node.value), node.attr, ast.unparse(node)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and \
                node.func.id in ACCESSORS and len(node.args) >= 2 and \
                isinstance(node.args[1], ast.Constant) and isinstance(node.args[1].value, str) \
                and _private(node.args[1].value):
            receiver = node.args[0]
            if isinstance(receiver, ast.Name) and receiver.id in ("self", "cls"):
                continue
            yield node.lineno, ast.unparse(receiver), node.args[1].value, ast.unparse(node)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if _private(alias.name) or any(_private(p) for p in (node.module or "").split(".")):
                    yield node.lineno, None, alias.name, \
                        f"from {'.' * node.level}{node.module or ''} import {alias.name}"
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if any(_private(p) for p in alias.name.split(".")):
                    yield node.lineno, None, alias.name, f"import {alias.name}"


def violations():
    """``file:line: text`` of every private name used across modules."""
    out = []
    for path in _python_files():
        with open(path, encoding="utf-8") as f:
            tree = ast.parse(f.read(), path)
        defined = _attribute_definitions(tree)
        for line, receiver, name, text in _uses(tree):
            if receiver is not None and (name in defined or (receiver, name) in ALLOWED):
                continue
            out.append((os.path.relpath(path, REPO), line, text))
    return [f"{path}:{line}: {text}" for path, line, text in sorted(out)]


def test_no_private_name_is_used_across_modules():
    found = violations()
    assert not found, (f"{len(found)} private names used across modules (give each a public "
                       "name in its own module):\n" + "\n".join(found))


def test_the_check_sees_each_kind_of_use():
    """The scanner itself: each form it must catch is caught, and each allowed form passes."""
    source = '''
from other import _hidden, shown as _mine
import pkg._inner
class A:
    _table = {}
    __slots__ = ("_slot",)
    def __init__(self):
        self._mine = 1
        object.__setattr__(self, "_set", 2)
    def __eq__(self, other):
        return other._mine == self._mine and other._slot and A._table and other._set
def f(runner, x):
    runner._todo()
    x.y._deep = 2
    getattr(runner, "_state", None)
    os._exit(0)
    super()._mine
    self._anything
'''
    tree = ast.parse(source)
    defined = _attribute_definitions(tree)
    assert defined == {"_table", "_slot", "_mine", "_set"}
    flagged = sorted(text for _, receiver, name, text in _uses(tree)
                     if receiver is None or (name not in defined
                                             and (receiver, name) not in ALLOWED))
    assert flagged == ["from other import _hidden", "getattr(runner, '_state', None)",
                       "import pkg._inner", "runner._todo", "x.y._deep"]
