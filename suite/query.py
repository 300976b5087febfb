"""The query language: compile filters to a small tree and evaluate it on plain data.

A filter is a JSON object. Keys are dotted paths (``b.c``) into the state point, or into the
document with the ``doc.`` prefix (``sp.`` is optional). A value is either a literal (equality)
or an object of operators: ``$eq $ne $gt $gte $lt $lte $in $nin $regex $type $exists $near``,
combined with ``$and $or $not`` at the top level or under a key. Nested plain objects are
flattened (``{"b": {"c": 1}}`` means ``{"b.c": 1}``). Numbers compare numerically (``1`` equals
``1.0``) but booleans are never numbers. No operator evaluates user-provided code.

The compiled tree has the node forms ``("and", [nodes])``, ``("or", [nodes])``,
``("not", node)`` and ``("cmp", src, path, op, operand)`` with ``src`` ``"sp"`` or ``"doc"``.
"""

import json
import math
import re

from .errors import FilterError

COMPARISONS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in", "$nin", "$regex", "$type",
               "$exists", "$near")
TYPE_NAMES = ("int", "float", "bool", "str", "list", "dict", "null", "number")
MISSING = object()


def compile_filter(filter):
    """Validate ``filter`` (a dict or None) and return its tree. Raises :class:`FilterError`."""
    if filter is None:
        return ("and", [])
    if not isinstance(filter, dict):
        raise FilterError(f"a filter must be a JSON object, not {type(filter).__name__}")
    nodes = []
    for key, value in filter.items():
        if not isinstance(key, str):
            raise FilterError(f"filter key {key!r} is not a string")
        if key in ("$and", "$or"):
            if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
                raise FilterError(f"{key} takes a list of filters")
            nodes.append((key[1:], [compile_filter(v) for v in value]))
        elif key == "$not":
            nodes.append(("not", compile_filter(value)))
        elif key.startswith("$"):
            raise FilterError(f"unknown operator {key!r} at the top level of the filter")
        else:
            src, path = _split_key(key)
            nodes.append(_compile_value(src, path, value))
    return nodes[0] if len(nodes) == 1 else ("and", nodes)


def _split_key(key):
    parts = key.split(".")
    src = "sp"
    if parts[0] in ("sp", "doc") and len(parts) > 1:
        src, parts = parts[0], parts[1:]
    if any(p == "" for p in parts):
        raise FilterError(f"filter key {key!r} has an empty component")
    return src, tuple(parts)


def _compile_value(src, path, value):
    if isinstance(value, dict) and value and any(str(k).startswith("$") for k in value):
        if not all(str(k).startswith("$") for k in value):
            raise FilterError(
                f"filter on {'.'.join(path)!r} mixes operators and plain keys: {sorted(value)}"
            )
        nodes = [_compile_op(src, path, op, operand) for op, operand in value.items()]
        return nodes[0] if len(nodes) == 1 else ("and", nodes)
    if isinstance(value, dict) and value:
        nodes = [_compile_value(src, path + (k,), v) for k, v in value.items()]
        return nodes[0] if len(nodes) == 1 else ("and", nodes)
    _check_literal(value, path)
    return ("cmp", src, path, "$eq", value)


def _compile_op(src, path, op, operand):
    where = ".".join(path)
    if op in ("$and", "$or"):
        if not isinstance(operand, list) or not all(isinstance(v, dict) for v in operand):
            raise FilterError(f"{op} under {where!r} takes a list of operator objects")
        return (op[1:], [_compile_value(src, path, v) for v in operand])
    if op == "$not":
        if not isinstance(operand, dict):
            raise FilterError(f"$not under {where!r} takes an operator object")
        return ("not", _compile_value(src, path, operand))
    if op not in COMPARISONS:
        raise FilterError(f"unknown operator {op!r} on key {where!r}")
    if op in ("$gt", "$gte", "$lt", "$lte"):
        if not (_is_number(operand) or isinstance(operand, str)):
            raise FilterError(f"{op} on {where!r} needs a number or a string, got {operand!r}")
    elif op in ("$in", "$nin"):
        if not isinstance(operand, list):
            raise FilterError(f"{op} on {where!r} needs a list, got {operand!r}")
        for item in operand:
            _check_literal(item, path)
    elif op == "$regex":
        if not isinstance(operand, str):
            raise FilterError(f"$regex on {where!r} needs a string, got {operand!r}")
        try:
            operand = re.compile(operand)
        except re.error as exc:
            raise FilterError(f"$regex on {where!r}: invalid regular expression: {exc}") from None
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


def _near_operand(operand, where):
    """``$near``: ``x`` or ``[x]``, ``[x, rel_tol]``, ``[x, rel_tol, abs_tol]`` (math.isclose)."""
    items = operand if isinstance(operand, list) else [operand]
    if not 1 <= len(items) <= 3 or not all(_is_number(v) for v in items):
        raise FilterError(f"$near on {where!r} needs a number or [number, rel_tol, abs_tol]")
    ref, rel, absolute = (list(items) + [1e-9, 0.0][len(items) - 1:])[:3]
    return (float(ref), float(rel), float(absolute))


def _check_literal(value, path):
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        raise FilterError(
            f"filter value {value!r} on {'.'.join(path)!r} is not a JSON value"
        ) from None


def _is_number(v):
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
    if _is_number(a):
        return _is_number(b) and a == b
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
        return op in ("$ne", "$nin") or (op == "$exists" and not operand)
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
        if _is_number(operand):
            if not _is_number(value):
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
        return isinstance(value, str) and operand.search(value) is not None
    if op == "$type":
        name = type_name(value)
        return name == operand or (operand == "number" and name in ("int", "float"))
    if op == "$near":
        ref, rel, absolute = operand
        return _is_number(value) and math.isclose(value, ref, rel_tol=rel, abs_tol=absolute)
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
