"""signac's path arguments (``export_to(path=)``, ``create_linked_view(path=)``,
``import_from(schema=)``) as suite path schemas (:mod:`suite.pathschema`).

signac's paths are Python format strings over the state point: ``{a}``, ``{job.sp.a}``,
``{job.id}``, and ``{{auto}}`` / ``{{auto:_}}`` for "the other varying keys" as a tree
(``key/value/...``) or joined by the separator. suite's schemas take the same fields
(``{a}`` is ``<a>``), so the translation is textual; what a schema cannot express (callables,
format specifications, document fields) raises :class:`UnsupportedError` naming the
alternative. Values are written with suite's reversible escaping: ``true``, not signac's
``True`` (docs/coming-from-signac.md).
"""

import re

from .pathschema import PathSchema, SchemaError
from .signac_compat import unsupported

_AUTO = re.compile(r"\{\{auto(?::([^{}]*))?\}\}")
_FIELD = re.compile(r"\{([^{}]*)\}")
_TYPES = ("int", "float", "str")


class SignacPathError(SchemaError, RuntimeError):
    """A signac path that gives no or duplicate paths (a RuntimeError, as in signac)."""


def _field(spec, what):
    """The suite field for the signac format field ``spec`` (without braces)."""
    name, _, fmt = spec.partition(":")
    name, fmt = name.strip(), fmt.strip()
    if "!" in name:
        unsupported(f"conversions in {what} fields ({{{spec}}})", "plain fields such as {a}")
    if name in ("job", "job.id", "job._id"):
        return "<id>"
    for prefix in ("job.sp.", "job.statepoint."):
        if name.startswith(prefix):
            name = name[len(prefix):]
    if name.startswith("job."):
        unsupported(f"{what} field {{{spec}}}",
                    "state point keys ({a}, {job.sp.a}) and {job.id}")
    if fmt and fmt not in _TYPES:
        unsupported(f"format specification {fmt!r} in {what} field {{{spec}}}",
                    "plain fields; suite writes values with its own reversible escaping")
    return f"<{name}:{fmt}>" if fmt else f"<{name}>"


def _strip_keys(sp, keys):
    out = dict(sp)
    for key in keys:
        *parents, last = key.split(".")
        node, copies = out, [out]
        for part in parents:
            child = node.get(part)
            if not isinstance(child, dict):
                break
            node[part] = child = dict(child)
            node = child
            copies.append(child)
        else:
            node.pop(last, None)
    return out


def _auto_keys(statepoints, used):
    """The varying keys not in ``used``, in suite's automatic order (fewest values first)."""
    rest = {i: _strip_keys(sp, used) for i, sp in statepoints.items()}
    return [k for k in PathSchema.auto(rest).fields if k != "id"]


def schema_text(path, statepoints, what="path"):
    """suite schema text for the signac ``path`` over ``{id: state point}``.

    ``None`` is suite's automatic schema, ``False`` the job id. Raises
    :class:`UnsupportedError` for callables and :class:`SignacPathError` for a path with no
    field (every job would get the same path).
    """
    if path is None:
        return str(PathSchema.auto(statepoints))
    if path is False:
        return "<id>"
    if callable(path):
        unsupported(f"a function as {what}",
                    "a path string such as 'a/{a}/b/{b}' or 'c_{c}/{{auto}}'")
    if not isinstance(path, str):
        raise ValueError(f"the {what} must be None, False or a string, not {path!r}")
    used = [_field(m.group(1), what)[1:-1].partition(":")[0] for m in _FIELD.finditer(
        _AUTO.sub("", path))]
    pieces, pos = [], 0
    for m in _AUTO.finditer(path):
        pieces.append(_FIELD.sub(lambda f: _field(f.group(1), what), path[pos:m.start()]))
        keys = _auto_keys(statepoints, [u for u in used if u != "id"])
        sep = m.group(1)
        if sep is None:
            pieces.append("/".join(f"{k}/<{k}>" for k in keys))
        else:
            sep = sep.strip() or "_"
            pieces.append(sep.join(f"{k}{sep}<{k}>" for k in keys))
        pos = m.end()
    pieces.append(_FIELD.sub(lambda f: _field(f.group(1), what), path[pos:]))
    text = "".join(pieces).replace("//", "/").strip("/")
    if "<" not in text:
        raise SignacPathError(f"the {what} {path!r} has no field: every job would get the "
                              "same path; add fields such as {a} or {job.id}")
    return text


def check(schema, statepoints):
    """``{id: path}`` of the jobs; duplicate paths raise :class:`SignacPathError`."""
    try:
        return schema.check(statepoints.items(), verify=False)
    except SchemaError as exc:
        raise SignacPathError(f"{exc} (append '/{{job.id}}' to the path to make it unique)") \
            from None
