"""The query language: compile filters to a small tree and evaluate it on plain data.

A filter is a JSON object. Keys are dotted paths (``b.c``) into the state point, or into the
document with the ``doc.`` prefix (``sp.`` is optional; ``{"doc": {"d": 0}}`` is
``{"doc.d": 0}``). A value is either a literal (equality) or an object of operators (an
operator may also end the key: ``{"a.$lt": 5}``): ``$eq $ne $gt $gte $lt $lte $in $nin $regex $type $exists $near``,
combined with ``$and $or $not`` at the top level or under a key. Nested plain objects are
flattened (``{"b": {"c": 1}}`` means ``{"b.c": 1}``). Numbers compare numerically (``1`` equals
``1.0``) but booleans are never numbers. No operator evaluates user-provided code.

The compiled tree has the node forms ``("and", [nodes])``, ``("or", [nodes])``,
``("not", node)`` and ``("cmp", src, path, op, operand)`` with ``src`` ``"sp"`` or ``"doc"``.
"""

import json
import math
from collections.abc import Mapping

from .errors import FilterError

COMPARISONS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$regex", "$type",
               "$exists", "$near")
TYPE_NAMES = ("int", "float", "bool", "str", "list", "dict", "null", "number")
MISSING = object()
#: seconds one ``$regex`` search may take on one value before the query stops with an error
REGEX_TIMEOUT = 1.0


def compile_filter(filter):
    """Validate ``filter`` (a mapping or None) and return its tree.

    Accepts every form signac 2.4.1 accepts: ``{"a": {"$lt": 5}}`` or ``{"a.$lt": 5}``;
    namespaces as prefixes (``{"doc.d": 0}``) or as objects (``{"doc": {"d": 0}}``); plain keys
    and operators mixed in one object (all must hold); tuples for lists; a string in the
    command-line grammar (``"a 1 b.$lt 3"``, see :func:`parse_cli_filter`); a sequence of
    ``(key, value)`` pairs. Raises
    :class:`FilterError` naming the part it cannot interpret (an unknown operator, an operand
    of the wrong type, an empty ``$and``/``$or``, ``$where``), never matching nothing instead.
    """
    if filter is None:
        return ("and", [])
    if isinstance(filter, str):
        text = filter.strip()
        filter = parse_cli_filter([text] if text.startswith("{") else text.split()) or {}
    elif not isinstance(filter, Mapping):
        try:
            filter = dict(filter)
        except (TypeError, ValueError):
            raise FilterError(f"a filter must be a JSON object (or a sequence of key, value "
                              f"pairs), not {type(filter).__name__}") from None
    return _compile_object(_normalise(filter), None, ())


def _normalise(value):
    # what signac gets from its JSON round trip: mappings become dicts, tuples lists
    if isinstance(value, Mapping):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_normalise(v) for v in value]
    return value


def _compile_object(obj, src, path):
    """The tree of a filter object: at the top (``src`` None) or under a key (``path``)."""
    nodes = []
    for key, value in obj.items():
        if not isinstance(key, str):
            raise FilterError(f"filter key {key!r} is not a string")
        if src is None and key in ("$and", "$or", "$not"):
            nodes.append(_logical(key, value, "the top level", compile_filter))
            continue
        if src is not None and path and key.startswith("$"):
            nodes.append(_compile_op(src, path, key, value))
            continue
        parts = key.split(".")
        if any(p == "" for p in parts):
            raise FilterError(f"filter key {key!r} has an empty component")
        ops = [i for i, p in enumerate(parts) if p.startswith("$")]
        if len(ops) > 1 or (ops and ops[0] != len(parts) - 1):
            raise FilterError(f"filter key {key!r}: one operator per key, at its end "
                              "(as in a.$lt)")
        key_src = src
        if src is None:
            key_src = "sp"
            if parts[0] in ("sp", "doc"):
                if len(parts) == 1 or parts[1].startswith("$"):
                    nodes.append(_namespace(parts[0], key, value))
                    continue
                key_src, parts = parts[0], parts[1:]
        if ops:
            if not path and len(parts) == 1:
                raise FilterError(f"unknown operator {key!r} at the top level of the filter")
            nodes.append(_compile_op(key_src, path + tuple(parts[:-1]), parts[-1], value))
        else:
            nodes.append(_compile_value(key_src, path + tuple(parts), value))
    return nodes[0] if len(nodes) == 1 else ("and", nodes)


def _namespace(name, key, value):
    """``{"sp": {...}}`` / ``{"doc": {...}}``: keys of that namespace."""
    if isinstance(value, dict) and value and not any(str(k).startswith("$") for k in value):
        return _compile_object(value, name, ())
    what = "state point" if name == "sp" else "document"
    raise FilterError(
        f"filter key {key!r}: {name!r} alone names the {what}; give an object of its keys, "
        f"as in {{\"{name}\": {{\"a\": 0}}}} or {{\"{name}.a\": 0}} (a state point key "
        f"named {name!r} is sp.{name})")


def _logical(op, value, where, compile_one):
    """``$and`` / ``$or`` / ``$not`` with their operand compiled by ``compile_one``."""
    if op == "$not":
        if not isinstance(value, dict):
            raise FilterError(f"$not at {where} takes an object")
        return ("not", compile_one(value))
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise FilterError(f"{op} at {where} takes a list of filters")
    if not value:
        # signac refuses these too: an empty $or would silently match nothing
        raise FilterError(f"{op} at {where} cannot be empty: give at least one filter")
    return (op[1:], [compile_one(v) for v in value])


def _compile_value(src, path, value):
    if isinstance(value, dict) and value:
        return _compile_object(value, src, path)
    _check_literal(value, path)
    return ("cmp", src, path, "$eq", value)


def _compile_op(src, path, op, operand):
    where = ".".join(path)
    if op in ("$and", "$or", "$not"):
        return _logical(op, operand, f"key {where!r}",
                        lambda v: _compile_value(src, path, v))
    if op == "$where":
        raise FilterError(f"$where on {where!r} is refused: it evaluates code taken from the "
                          "filter; use $regex, $in, $type or comparisons instead")
    if op not in COMPARISONS:
        raise FilterError(f"unknown operator {op!r} on key {where!r}")
    if op in ("$gt", "$gte", "$lt", "$lte"):
        if not (is_number(operand) or isinstance(operand, str)):
            raise FilterError(f"{op} on {where!r} needs a number or a string, got {operand!r}")
    elif op in ("$in", "$nin"):
        if not isinstance(operand, list):
            raise FilterError(f"{op} on {where!r} needs a list, got {operand!r}")
        for item in operand:
            _check_literal(item, path)
    elif op == "$regex":
        if not isinstance(operand, str):
            raise FilterError(f"$regex on {where!r} needs a string, got {operand!r}")
        operand = _compile_regex(operand, where)
    elif op == "$type":
        if operand not in TYPE_NAMES:
            raise FilterError(f"$type on {where!r} must be one of {', '.join(TYPE_NAMES)}")
    elif op == "$exists":
        if not isinstance(operand, bool):
            raise FilterError(f"$exists on {where!r} needs true or false, got {operand!r}")
    elif op == "$near":
        operand = _near_operand(operand, where)
    else:
        _check_literal(operand, path)
    return ("cmp", src, path, op, operand)


def _compile_regex(pattern, where):
    return Pattern(pattern, where)


class Pattern:
    """A ``$regex`` operand: Python's regular expression syntax, searched with a time limit of
    :data:`REGEX_TIMEOUT` per value (the ``regex`` module, which can stop a search: ``re``
    cannot, and ``(a|aa)+$`` takes it minutes on 42 characters)."""

    def __init__(self, pattern, where):
        import regex

        self.pattern = pattern
        self.where = where
        try:
            self._compiled = regex.compile(pattern)
        except (regex.error, ValueError) as exc:
            raise FilterError(f"$regex on {where!r}: invalid regular expression: {exc}") from None

    def search(self, text):
        """True if the pattern occurs in ``text``; raises :class:`FilterError` past the limit."""
        try:
            return self._compiled.search(text, timeout=REGEX_TIMEOUT) is not None
        except TimeoutError:
            raise FilterError(
                f"$regex {self.pattern!r} on {self.where!r} took more than {REGEX_TIMEOUT} s on "
                f"one value and was stopped; nested repetition such as (a+)+ or (a|aa)+ "
                "backtracks exponentially: simplify the pattern") from None

    def __eq__(self, other):
        return isinstance(other, Pattern) and other.pattern == self.pattern

    def __hash__(self):
        return hash(self.pattern)

    def __repr__(self):
        return f"Pattern({self.pattern!r})"


def _near_operand(operand, where):
    """``$near``: ``x`` or ``[x]``, ``[x, rel_tol]``, ``[x, rel_tol, abs_tol]`` (math.isclose)."""
    items = operand if isinstance(operand, list) else [operand]
    try:
        if not 1 <= len(items) <= 3 or not all(is_number(v) and math.isfinite(v)
                                               for v in items):
            raise OverflowError
        ref, rel, absolute = (list(items) + [1e-9, 0.0][len(items) - 1:])[:3]
        return (float(ref), float(rel), float(absolute))
    except OverflowError:  # also an integer no float holds (math.isclose takes floats)
        raise FilterError(f"$near on {where!r} needs a finite number a float holds, or "
                          "[number, rel_tol, abs_tol]") from None


def _check_literal(value, path):
    try:
        json.dumps(value)  # NaN is taken, as in signac: it equals nothing
    except (TypeError, ValueError):
        raise FilterError(
            f"filter value {value!r} on {'.'.join(path)!r} is not a JSON value"
        ) from None


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def resolve(data, path):
    """Walk ``path`` in nested dicts; return :data:`MISSING` where it leads nowhere."""
    node = data
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        else:
            return MISSING
    return node


def equal(a, b):
    """JSON equality where booleans are never numbers and ``1 == 1.0``."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(equal, a, b))
    if is_number(a):
        return is_number(b) and a == b
    return type(a) is type(b) and a == b


def type_name(v):
    """The ``$type`` name of a JSON value."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "bool"
    if isinstance(v, int):
        return "int"
    if isinstance(v, float):
        return "float"
    if isinstance(v, str):
        return "str"
    if isinstance(v, list):
        return "list"
    return "dict"


def _compare(op, value, operand):
    if value is MISSING:
        # as signac: a job without the key matches no comparison, $ne and $nin included
        # (it has no value to differ); $exists false and $not are how to select it
        return op == "$exists" and not operand
    if op == "$exists":
        return operand
    if op == "$eq":
        return equal(value, operand)
    if op == "$ne":
        return not equal(value, operand)
    if op == "$in":
        return any(equal(value, o) for o in operand)
    if op == "$nin":
        return not any(equal(value, o) for o in operand)
    if op in ("$gt", "$gte", "$lt", "$lte"):
        if is_number(operand):
            if not is_number(value):
                return False
        elif not isinstance(value, str):
            return False
        if op == "$gt":
            return value > operand
        if op == "$gte":
            return value >= operand
        if op == "$lt":
            return value < operand
        return value <= operand
    if op == "$regex":
        return isinstance(value, str) and operand.search(value)
    if op == "$type":
        name = type_name(value)
        return name == operand or (operand == "number" and name in ("int", "float"))
    if op == "$near":
        ref, rel, absolute = operand
        try:
            return is_number(value) and math.isclose(value, ref, rel_tol=rel, abs_tol=absolute)
        except OverflowError:  # an integer beyond the largest float: close to no float
            return False
    raise FilterError(f"unknown operator {op!r}")


def evaluate(node, sp, doc):
    """Evaluate a compiled tree against a state point and a document (plain dicts)."""
    kind = node[0]
    if kind == "and":
        return all(evaluate(n, sp, doc) for n in node[1])
    if kind == "or":
        return any(evaluate(n, sp, doc) for n in node[1])
    if kind == "not":
        return not evaluate(node[1], sp, doc)
    _, src, path, op, operand = node
    return _compare(op, resolve(sp if src == "sp" else doc, path), operand)


def uses_document(node):
    """True if the tree refers to the document (so documents must be fresh)."""
    if node[0] in ("and", "or"):
        return any(uses_document(n) for n in node[1])
    if node[0] == "not":
        return uses_document(node[1])
    return node[1] == "doc"


def keys_of(node):
    """The ``(src, path)`` pairs a tree refers to, in order of appearance, without repeats."""
    if node[0] in ("and", "or"):
        out = []
        for n in node[1]:
            out += [k for k in keys_of(n) if k not in out]
        return out
    if node[0] == "not":
        return keys_of(node[1])
    return [(node[1], node[2])]


def parse_cli_filter(args):
    """Parse the short command-line grammar into a filter dict.

    ``a 1 b.c 3`` is ``{"a": 1, "b.c": 3}``; ``a.$gt 1`` is ``{"a": {"$gt": 1}}``; a bare key at
    the end means ``$exists``; ``/re/`` is a regular expression; values are JSON literals or else
    strings; a single argument starting with ``{`` is a whole JSON filter.
    """
    args = list(args)
    if not args:
        return None
    if len(args) == 1 and args[0].lstrip().startswith("{"):
        try:
            value = json.loads(args[0])
        except ValueError as exc:
            raise FilterError(f"the filter {args[0]!r} is not valid JSON: {exc}") from None
        compile_filter(value)
        return value
    result = {}
    i = 0
    while i < len(args):
        key = args[i]
        if i + 1 < len(args):
            value = _parse_cli_value(args[i + 1])
            i += 2
        else:
            value = {"$exists": True}
            i += 1
        parts = key.split(".")
        if parts[-1].startswith("$"):
            base, op = ".".join(parts[:-1]), parts[-1]
            if not base:
                raise FilterError(f"operator {op!r} needs a key before it, as in a.{op}")
            existing = result.setdefault(base, {})
            if not isinstance(existing, dict) or not all(k.startswith("$") for k in existing):
                raise FilterError(f"key {base!r} is given both a value and an operator")
            existing[op] = value
        else:
            if key in result:
                raise FilterError(f"key {key!r} is given twice")
            result[key] = value
    compile_filter(result)
    return result


def _parse_cli_value(text):
    if len(text) >= 2 and text.startswith("/") and text.endswith("/"):
        return {"$regex": text[1:-1]}
    try:
        return json.loads(text, parse_constant=_no_constant)
    except ValueError:
        return text


def _no_constant(name):
    raise ValueError(name)
