"""Path schemas: human-readable paths for jobs, and back (export, import, linked views).

A schema is text with fields: ``<key>`` inserts a state point value, ``<b.c>`` a nested one,
``<id>`` the job id; ``<a:int>``, ``<a:float>``, ``<a:str>`` force the type when reading paths
back; everything else is literal, and ``/`` separates directories. signac's ``{key}`` is an
alias for ``<key>``. Example: ``T_<temperature>/p_<pressure>``.

Values become file-name components reversibly, so the JSON type survives a round trip:

* ``null``, ``true``, ``false``; integers in decimal (``-3``); floats as Python's ``repr``
  (``1.0``, ``0.001``, ``1e+20``: always with ``.`` or ``e``, so never read as an integer);
* strings as they are, except that ``%``, ``/``, ``\\``, ``'``, ``=``, ``~``, control characters
  and ``: * ? " < > |`` are written ``%XX`` (UTF-8 bytes), as are literal characters that
  separate two fields in one component; a string that would read as another type (``"1"``,
  ``"true"``, ``""``, ``"."``, ``"inf"``) gets a leading ``'``;
* lists and dicts as ``=`` followed by their escaped JSON;
* a key missing from a job's state point as ``~``.
"""

import itertools
import json
import math
import operator
import re

from .errors import SuiteError
from .query import MISSING, resolve

_FIELD = re.compile(r"<([^<>{}]+)>|\{([^<>{}]+)\}")
_TYPES = ("int", "float", "str")
_ALWAYS = set("%/\\'=~:*?\"<>|") | {chr(c) for c in range(32)} | {"\x7f"}
_INT = re.compile(r"-?(0|[1-9][0-9]*)\Z")
# what a key of a state point may not hold to be named by a field: the schema's own syntax
# (a "." would read as nesting, ":" as a type, "/" as a directory, the field delimiters)
_NOT_IN_FIELD = re.compile(r"[.:/<>{}]")
_FLOAT = re.compile(r"-?([0-9]+\.[0-9]*|\.[0-9]+|[0-9]+)([eE][-+]?[0-9]+)?\Z")
# strings that need neither escaping nor a type marker: start with a letter or "_", no specials
_PLAIN = re.compile(r"[A-Za-z_][^%/\\'=~:*?\"<>|\x00-\x1f\x7f]*\Z")
_WORDS = ("true", "false", "null")
_NONFINITE = {"inf", "-inf", "+inf", "nan", "-nan", "infinity", "-infinity", "+infinity"}


class SchemaError(SuiteError):
    """A schema that cannot be parsed or applied, or a path that does not fit it."""


class SchemaCollisionError(SchemaError):
    """Two jobs map onto one path, or one job's path is a parent of another's."""


def _pct(text, extra=()):
    out = []
    for ch in text:
        if ch in _ALWAYS or ch in extra:
            out.append("".join(f"%{b:02X}" for b in ch.encode()))
        else:
            out.append(ch)
    return "".join(out)


def _unpct(text):
    try:
        return re.sub(
            r"(%[0-9A-Fa-f]{2})+",
            lambda m: bytes.fromhex(m.group(0).replace("%", "")).decode(),
            text,
        )
    except UnicodeDecodeError as exc:
        raise SchemaError(f"invalid escape in path component {text!r}: {exc}") from None


def escape_component(value, extra=()):
    """The file-name component for a JSON value (see the module docstring)."""
    if value is MISSING:
        return "~"
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise SchemaError(f"{value!r} cannot appear in a path (not JSON)")
        return repr(value)
    if isinstance(value, str):
        body = _pct(value, extra)
        if value in ("", ".", "..") or not isinstance(_literal(value), str):
            return "'" + body
        return body
    if isinstance(value, (list, dict)):
        return "=" + _pct(json.dumps(value, sort_keys=True, separators=(",", ":")), extra)
    raise SchemaError(f"a value of type {type(value).__name__} cannot appear in a path")


def _literal(text):
    """Read an unmarked component: null/true/false, integer, float, else string."""
    if text in ("null", "true", "false"):
        return {"null": None, "true": True, "false": False}[text]
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    if text.lower() in _NONFINITE:
        return _NonFinite(text)
    return text


class _NonFinite:
    def __init__(self, text):
        self.text = text


def unescape_component(text, type=None):
    """The JSON value written by :func:`escape_component` (``type`` forces int/float/str)."""
    if text == "":
        raise SchemaError("empty path component")
    if type == "str":
        return _unpct(text[1:] if text.startswith("'") else text)
    if type in ("int", "float"):
        raw = _unpct(text)
        try:
            value = int(raw) if type == "int" else float(raw)
        except ValueError:
            raise SchemaError(f"{text!r} is not {'an int' if type == 'int' else 'a float'}") from None
        if type == "float" and not math.isfinite(value):
            raise SchemaError(f"{text!r}: infinity and NaN are not JSON values")
        return value
    if text == "~":
        return MISSING
    if text.startswith("'"):
        return _unpct(text[1:])
    if text.startswith("="):
        try:
            return json.loads(_unpct(text[1:]))
        except ValueError:
            raise SchemaError(f"{text!r} does not hold valid JSON") from None
    value = _literal(text)
    if isinstance(value, _NonFinite):
        raise SchemaError(
            f"{text!r} reads as a non-finite float, which is not JSON; "
            "use a <key:str> field to read it as a string"
        )
    return _unpct(value) if isinstance(value, str) else value


class PathSchema:
    """A parsed path schema. Build with :meth:`parse` or :meth:`auto`."""

    def __init__(self, text, components):
        self.text = text
        self._components = components  # list of lists of ("lit", text) / ("field", key, type)
        #: ``{job id: path}`` of the jobs :meth:`auto` chose this schema for (already checked)
        self.paths = None

    def __str__(self):
        return self.text

    def __repr__(self):
        return f"PathSchema({self.text!r})"

    @property
    def fields(self):
        """The field keys in order (``"id"`` for ``<id>``)."""
        return [p[1] for comp in self._components for p in comp if p[0] == "field"]

    @classmethod
    def parse(cls, text):
        """Parse schema text; raises :class:`SchemaError` for bad schemas."""
        if not isinstance(text, str) or not text.strip("/"):
            raise SchemaError("a path schema needs at least one field, e.g. '<a>/<b>'")
        if text.startswith("/"):
            raise SchemaError(f"path schema {text!r} must be relative (no leading '/')")
        components = []
        for raw in text.strip("/").split("/"):
            if raw in ("", ".", ".."):
                raise SchemaError(f"path schema {text!r} has an empty, '.' or '..' directory")
            parts, pos = [], 0
            for m in _FIELD.finditer(raw):
                if m.start() > pos:
                    parts.append(("lit", raw[pos:m.start()]))
                elif parts and parts[-1][0] == "field":
                    raise SchemaError(
                        f"fields {parts[-1][1]!r} and {m.group(0)!r} in {text!r} need literal "
                        "text between them"
                    )
                spec = m.group(1) or m.group(2)
                key, _, typ = spec.partition(":")
                key = key.strip()
                if typ and typ not in _TYPES:
                    raise SchemaError(f"unknown type {typ!r} in {m.group(0)!r}; use int, float or str")
                if not key or any(not k for k in key.split(".")):
                    raise SchemaError(f"empty key in {m.group(0)!r}")
                parts.append(("field", key, typ or None))
                pos = m.end()
            if pos < len(raw):
                parts.append(("lit", raw[pos:]))
            for p in parts:
                if p[0] == "lit" and any(c in p[1] for c in "<>{}"):
                    raise SchemaError(f"unbalanced '<', '>', '{{' or '}}' in {text!r}")
            components.append(parts)
        schema = cls(text, components)
        if not schema.fields:
            raise SchemaError(f"path schema {text!r} has no field such as <key> or <id>")
        return schema

    @classmethod
    def auto(cls, statepoints, verify=False):
        """The default schema ``key/<key>/...`` over the dotted keys whose values vary among
        ``statepoints`` (``{id: sp}``); ``<id>`` alone when nothing varies, and ``<id>``
        appended when the varying keys do not make paths unique. Its :attr:`paths` are the
        jobs' paths, checked as :meth:`check` does (``verify``: read back too).

        Keys no field can name (empty, with ``.:/<>{}`` or white space at an end: see
        :func:`_nameable`) are left out, with what lies under them.

        Keys are ordered by their number of distinct values, fewest first, then by name: the
        tree branches late, so it has few directories and related jobs sit side by side.
        Raises :class:`SchemaError` (``verify``) when a path would not read back."""
        values, present = {}, {}
        _leaf_values(list(statepoints.values()), "", values, present)
        n = len(statepoints)
        varying = sorted((k for k, v in values.items() if len(v) > 1 or present[k] != n),
                         key=lambda k: (len(values[k]) + (present[k] != n), k))
        text = "/".join(f"{_pct(k, set('<>{}'))}/<{k}>" for k in varying) or "<id>"
        schema = cls.parse(text)
        try:
            schema.paths = schema.check(statepoints.items(), verify=verify)
        except SchemaCollisionError:
            schema = cls.parse(text + "/<id>")
            schema.paths = schema.check(statepoints.items(), verify=verify)
        return schema

    def _extra(self, comp):
        # characters of literals between two fields in one component are escaped in values
        key = id(comp)
        cache = self.__dict__.setdefault("_extra_cache", {})
        if key not in cache:
            if sum(1 for p in comp if p[0] == "field") < 2:
                cache[key] = frozenset()
            else:
                cache[key] = frozenset(c for p in comp if p[0] == "lit" for c in p[1])
        return cache[key]

    def _parts(self, comp):
        """The component ``comp`` as parts to format: ``(0, text, None)`` for a literal,
        ``(1, None, None)`` for ``<id>``, ``(2, key tuple, extra)`` for a field."""
        extra = self._extra(comp)
        return [(0, p[1], None) if p[0] == "lit" else (1, None, None) if p[1] == "id"
                else (2, tuple(p[1].split(".")), extra) for p in comp]

    def _plan(self):
        plan = self.__dict__.get("_plan_cache")
        if plan is None:
            plan = []
            for comp in self._components:
                plan.extend(self._parts(comp))
                plan.append((0, "/", None))
            plan.pop()
            self._plan_cache = plan
        return plan

    def _level_plans(self):
        """Per directory level: ``(text, None)`` for a literal level, else ``(None, parts)``
        (:meth:`_parts`)."""
        return [("".join(p[1] for p in comp), None) if all(p[0] == "lit" for p in comp)
                else (None, self._parts(comp)) for comp in self._components]

    def format(self, job_id, sp):
        """The relative POSIX path of the job with ``job_id`` and state point ``sp``."""
        out = []
        for kind, arg, extra in self._plan():
            if kind == 0:
                out.append(arg)
            elif kind == 1:
                out.append(job_id)
            else:
                value = sp
                for part in arg:
                    value = value.get(part, MISSING) if type(value) is dict else MISSING
                out.append(_text(value, extra))
        return "".join(out)

    def _level_patterns(self):
        """The regex text of each directory level (fields never hold ``/``)."""
        pieces = []
        for comp in self._components:
            extra = self._extra(comp)
            excluded = re.escape("".join(sorted(extra | {"/"})))
            piece = []
            for p in comp:
                if p[0] == "lit":
                    piece.append(re.escape(p[1]))
                else:
                    piece.append(f"([^{excluded}]+)")
            pieces.append("".join(piece))
        return pieces

    def _regex(self):
        if not hasattr(self, "_compiled"):
            self._compiled = re.compile("/".join(self._level_patterns()) + r"\Z")
        return self._compiled

    @property
    def depth(self):
        """Number of directory levels a job path has."""
        return len(self._components)

    def match(self, path):
        """Read a job path back: ``(sp, job_id)`` (``job_id`` is None without ``<id>``), or
        None when the path does not fit the schema. Raises :class:`SchemaError` for a
        component that fits but cannot be read (e.g. ``inf``)."""
        m = self._regex().match(path.strip("/"))
        if m is None:
            return None
        fields = [p for comp in self._components for p in comp if p[0] == "field"]
        sp, job_id = {}, None
        for (_, key, typ), text in zip(fields, m.groups(), strict=True):
            if key == "id":
                job_id = text
                continue
            value = unescape_component(text, typ)
            if value is MISSING:
                continue
            node = sp
            *parents, last = key.split(".")
            for part in parents:
                node = node.setdefault(part, {})
                if not isinstance(node, dict):
                    raise SchemaError(f"{path!r}: key {key!r} conflicts with another field")
            if last in node and node[last] != value:
                raise SchemaError(f"{path!r}: field {key!r} has two different values")
            node[last] = value
        return sp, job_id

    def verify(self, paths, statepoints):
        """Raise :class:`SchemaError` unless every path of ``paths`` (``{job_id: path}``, as
        :meth:`check` returns) reads back to its job's values in ``statepoints``
        (``{job_id: sp}``).

        Each directory level is read back once per distinct text (a schema whose fields share
        no key reads every level on its own): at 10,000 jobs a level like ``a/<a>`` has far
        fewer texts than jobs. Schemas whose fields overlap (``<b>`` and ``<b.c>``) are read
        back whole, job by job."""
        levels = self._levels() if self._independent() else None
        read = {}
        for job_id, path in paths.items():
            sp = statepoints[job_id]
            if levels is None or not _levels_agree(levels, path, sp, read):
                back = self.match(path)  # also the judge of whatever the shortcut refused
                if back is None or not _agrees(self, back[0], sp):
                    raise SchemaError(
                        f"schema {self.text!r}: the path {path!r} of job {job_id} cannot be "
                        "read back unambiguously (a value contains a separator of the schema);"
                        " separate fields by other text or by '/'"
                    )

    def _independent(self):
        """True if no field's key equals, or lies inside, another's (then levels read back
        independently and never conflict)."""
        keys = [f for f in self.fields if f != "id"]
        return not any(a == b or b.startswith(a + ".")
                       for i, a in enumerate(keys) for j, b in enumerate(keys) if i != j)

    def _levels(self):
        """Per directory level: its own regex and its fields as ``(key tuple, type)``."""
        return [(re.compile(rx), [(None if p[1] == "id" else tuple(p[1].split(".")), p[2])
                                  for p in comp if p[0] == "field"])
                for rx, comp in zip(self._level_patterns(), self._components, strict=True)]

    def _add_path(self, owner, path, job_id):
        """Note ``owner[path] = job_id``; raise :class:`SchemaCollisionError` if taken."""
        if path in owner:
            raise SchemaCollisionError(
                f"schema {self.text!r} maps jobs {owner[path]} and {job_id} onto the same "
                f"path {path!r}; add fields (or <id>) to tell them apart"
            )
        owner[path] = job_id

    def check(self, items, verify=True):
        """Format every ``(job_id, sp)``; return ``{job_id: path}``. Raises
        :class:`SchemaCollisionError` naming the jobs when two share a path or one path is a
        parent directory of another, and (``verify``) :class:`SchemaError` when a path would
        not read back to the same values.

        A directory level's text depends only on its fields' values, so each level is
        formatted, and (``verify``, schemas whose keys do not overlap) read back, once per
        distinct value: at 10,000 jobs ``a/<a>`` has far fewer values than jobs. A level that
        does not read back has its path judged whole by :meth:`verify`, the reference."""
        by_level = verify and self._independent()
        levels = self._levels() if by_level else None
        items = items if isinstance(items, (list, tuple)) else list(items)
        ids = [job_id for job_id, _ in items]
        unread = set()  # jobs a level of which did not read back: judged whole by verify
        columns = []  # one list of texts per level (one comprehension each: cheap per job)
        try:
            for i, (literal, parts) in enumerate(self._level_plans()):
                if literal is not None:
                    columns.append(itertools.repeat(literal))
                else:
                    columns.append(_level_texts(parts, items, levels and levels[i], unread))
        except SchemaError:  # a value no path holds: refused as job by job (its job, or an
            owner = {}       # earlier collision, first)
            for job_id, sp in items:
                self._add_path(owner, self.format(job_id, sp), job_id)
            raise
        texts = list(map("/".join, zip(*columns, strict=False)))
        owner = dict(zip(texts, ids, strict=True))
        if len(owner) != len(ids):  # a collision: found again job by job, to name the jobs
            owner = {}
            for job_id, path in zip(ids, texts, strict=True):
                self._add_path(owner, path, job_id)
        paths = dict(zip(ids, texts, strict=True))
        if verify:
            judged = items if not by_level else [items[n] for n in sorted(unread)]
            if judged:
                self.verify({job_id: paths[job_id] for job_id, _ in judged}, dict(judged))
        if len({path.count("/") for path in owner}) <= 1:
            return paths  # paths of one depth: none can be another's parent directory
        dirs = {}
        for path, job_id in owner.items():
            parts = path.split("/")
            for i in range(1, len(parts)):
                dirs.setdefault("/".join(parts[:i]), job_id)
        for path, job_id in owner.items():
            if path in dirs:
                raise SchemaCollisionError(
                    f"schema {self.text!r}: the path {path!r} of job {job_id} is also a parent "
                    f"directory of job {dirs[path]}; use a schema with the same depth for all jobs"
                )
        return paths


def _level_texts(parts, items, level, unread):
    """The texts of one directory level (``parts`` as in ``PathSchema._plan``) for each
    ``(job_id, sp)`` of ``items``, each distinct value formatted once; with ``level`` (its
    regex and fields), each distinct text is read back once and the positions of jobs whose
    text does not read back are added to ``unread``."""
    fields = [p for p in parts if p[0] == 2]
    if len(parts) == 1 and fields:  # a lone field, the common case (every automatic schema)
        _, keys, extra = parts[0]
        values = [sp for _, sp in items]
        for key in keys:  # a column at a time: _lookup for every job at once
            values = _column(values, key)
        # an integer's decimal text reads back as that integer in an untyped lone field
        # (_INT matches it, nothing is escaped): proven once, here, not read back per job
        proven = level is None or level[1][0][1] is None
        kinds = set(map(type, values))
        if kinds == {int} and proven:
            return list(map(str, values))
        if kinds == {str}:  # one text (and read back) per distinct value; else job by job
            texts = _distinct_texts(values, extra, level)
            if texts is not None:
                return texts
        memo, texts = {}, []
        for n, value in enumerate(values):
            if type(value) is int and proven:
                texts.append(str(value))
                continue
            k = _memo_key(value)
            text = memo.get(k) if k is not None else None
            if text is None:
                text = _text(value, extra)
                if level is not None and not _level_reads_back(level, text, [value]):
                    unread.add(n)
                elif k is not None:
                    memo[k] = text
            texts.append(text)
        return texts
    memo, texts = {}, []
    for n, (job_id, sp) in enumerate(items):
        values = [_lookup(sp, p[1]) for p in fields]
        key = None
        if len(fields) == sum(1 for p in parts if p[0] != 0):  # no <id> in this level
            key = tuple(_memo_key(v) for v in values)
            if None in key:
                key = None
        text = memo.get(key) if key is not None else None
        if text is None:
            text = "".join(arg if kind == 0 else job_id if kind == 1 else
                           _text(values[i], extra)
                           for i, (kind, arg, extra) in _numbered(parts))
            if level is not None and not _level_reads_back(level, text, values):
                unread.add(n)
            elif key is not None:
                memo[key] = text
        texts.append(text)
    return texts


def _column(values, key):
    """``value[key]`` of each of ``values`` (MISSING where it is not a dict holding key)."""
    if set(map(type, values)) == {dict}:
        try:  # every dict holds the key, the common case: no call per value
            return list(map(operator.itemgetter(key), values))
        except KeyError:
            pass
    return [v.get(key, MISSING) if type(v) is dict else MISSING for v in values]


def _distinct_texts(values, extra, level):
    """The texts of ``values`` (all str) formatted, and with ``level`` read back, once per
    distinct value; None if one does not read back (the caller then goes job by job)."""
    memo = {}
    for value in set(values):
        text = _text(value, extra)
        if level is not None and not _level_reads_back(level, text, [value]):
            return None
        memo[value] = text
    return list(map(memo.__getitem__, values))


def _lookup(sp, keys):
    value = sp
    for part in keys:
        value = value.get(part, MISSING) if type(value) is dict else MISSING
    return value


def _text(value, extra):
    """A field's text in a path (:func:`escape_component`, with the common cases first)."""
    if type(value) is int:
        return str(value)
    if (type(value) is str and not extra and _PLAIN.match(value)
            and value not in _WORDS and value.lower() not in _NONFINITE):
        return value
    return escape_component(value, extra)


def _memo_key(value):
    """A key under which ``value``'s text can be remembered (types kept apart: ``1``,
    ``1.0``, ``True`` and ``"1"`` differ), or None: lists, dicts and zero floats (``0.0``
    and ``-0.0`` are equal keys with different texts) are formatted every time."""
    t = type(value)
    if t is str or t is int or t is bool or value is None or value is MISSING:
        return (t, value)
    if t is float and value == value and value != 0.0:
        return (t, value)
    return None


def _numbered(parts):
    """``(index among the fields with a value, part)`` for each part."""
    n = 0
    for part in parts:
        yield n, part
        if part[0] == 2:
            n += 1


def _level_reads_back(level, text, values):
    """True if the level text ``text`` reads back (as :meth:`PathSchema.match` reads it) to
    ``values``, the values of its fields other than ``<id>`` (False: the caller asks the
    reference)."""
    got = _read_level(level, text)
    return got is not None and all(
        g == value for (_, g), value in zip(got, values, strict=True))


def _read_level(level, text):
    """``[(key tuple, value)]`` of the fields other than ``<id>`` that the level text ``text``
    holds (``level``: its regex and fields, :meth:`PathSchema._levels`), or None if it does
    not match or a value does not unescape."""
    rx, fields = level
    m = rx.fullmatch(text)
    if m is None:
        return None
    try:
        return [(key, unescape_component(t, typ))
                for (key, typ), t in zip(fields, m.groups(), strict=True) if key is not None]
    except SchemaError:
        return None


def _leaf_values(sps, prefix, values, present):
    """For the dotted keys of the leaves of ``sps`` (as :func:`_leaves` gives them): a set
    of as many items as they have distinct values (:func:`_hashable`) into ``values``, how
    many of ``sps`` hold them into ``present``. One key at a time (a column), not one state
    point at a time."""
    for key in dict.fromkeys(itertools.chain.from_iterable(sps)):
        if not _nameable(key):
            continue
        try:  # every state point holds the key, the common case: no call per value
            column = list(map(operator.itemgetter(key), sps))
        except KeyError:
            column = [sp[key] for sp in sps if key in sp]
        kinds = set(map(type, column))
        if dict in kinds:
            inner = [v for v in column if type(v) is dict and v]
            if inner:
                _leaf_values(inner, prefix + key + ".", values, present)
                column = [v for v in column if not (type(v) is dict and v)]
                kinds = set(map(type, column))
        if column:
            t = kinds.pop() if len(kinds) == 1 else dict
            if t is not dict and t is not list:  # one type: as many distinct values as
                values[prefix + key] = set(column)  # tagged ones (auto counts them only)
            else:
                values[prefix + key] = {(t, v) if (t := type(v)) is not dict and t is not list
                                        else _hashable(v) for v in column}
            present[prefix + key] = len(column)


def _hashable(value):
    """A set key that keeps JSON types apart (1, 1.0, True and "1" are four values)."""
    t = type(value)
    if t is dict or t is list:
        return ("json", json.dumps(value, sort_keys=True))
    return (t, value)


def _levels_agree(levels, path, sp, read):
    """True if every level of ``path`` reads back to the value ``sp`` holds (False: not
    shown, the caller decides); ``read`` caches each level text's values."""
    texts = path.split("/")
    if len(texts) != len(levels):
        return False
    for i, text in enumerate(texts):
        got = read.get((i, text))
        if got is None:
            got = _read_level(levels[i], text)
            if got is None:
                return False
            read[(i, text)] = got
        for key, value in got:
            if resolve(sp, key) != value:
                return False
    return True


def _agrees(schema, parsed, sp):
    for key in schema.fields:
        if key == "id":
            continue
        path = tuple(key.split("."))
        if resolve(parsed, path) != resolve(sp, path):
            return False
    return True


def _nameable(key):
    """Whether a field can name the state point key ``key`` (one level of it): not empty,
    no white space at its ends (a field's key is stripped), none of ``.:/<>{}``. auto leaves
    the others out: no schema text names them, and the jobs' paths then end in ``<id>``."""
    return bool(key) and key == key.strip() and not _NOT_IN_FIELD.search(key)


def _leaves(sp, prefix=""):
    for key, value in sp.items():
        if not _nameable(key):
            continue
        if isinstance(value, dict) and value:
            yield from _leaves(value, prefix + key + ".")
        else:
            yield prefix + key, value
