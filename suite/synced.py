"""JSON-backed mappings and lists with attribute and item access (``job.sp``, ``job.doc``).

A *root* owns the JSON value and knows how to read and write it; :class:`SyncedDict` and
:class:`SyncedList` are light views addressed by a path from the root, so nested access
(``job.doc.a.b[0]``) always sees current data. Every change re-reads the file if another process
changed it, applies the change and writes atomically. Inside :func:`buffered` writes are
collected and flushed once on exit, for bulk updates of many documents.
"""

import contextlib
import operator
import os
import threading

from . import native
from .attrhook import install as install_getattr
from .jsonio import ANY, dumps, read_json, write_atomic
from .slotnew import maker
from .statepoint import to_plain


class _Local(threading.local):
    # a class default: getattr(local, name, None) of an unset name raised and caught an
    # AttributeError, a tenth of `status` (every document read asks for the buffer)
    buffer = None


_local = _Local()


#: files a buffered block holds before it writes them out early (signac's name: capacity)
DEFAULT_BUFFER_CAPACITY = 10000
_capacity = [DEFAULT_BUFFER_CAPACITY]


def _buffer():
    return _local.buffer


@contextlib.contextmanager
def buffered(buffer_capacity=None):
    """Batch document writes: within the block, files read or changed are kept in memory (one
    copy per file, shared by every job object of it) and each changed file is written once
    (atomically) on exit. Nested use joins the outer block. ``buffer_capacity`` (a number of
    files, not bytes as in signac) sets :func:`get_buffer_capacity` for the block; a full
    buffer is written out and emptied. A file another process changed meanwhile is not
    overwritten: :class:`BufferedError` (after every other file is written) names it."""
    if _buffer() is not None:
        yield
        return
    saved = _capacity[0]
    if buffer_capacity is not None:
        _capacity[0] = int(buffer_capacity)
    _local.buffer = {}
    try:
        yield
    finally:
        _capacity[0] = saved
        pending = _local.buffer
        _local.buffer = None
        _flush_all(pending)


def _flush_all(pending):
    from .errors import BufferedError

    errors, changed = [], {}
    for root in pending.values():
        try:
            root.flush()
        except BufferedError as exc:
            changed.update(exc.files)
        except Exception as exc:  # flush every file before reporting
            errors.append(exc)
    if errors:
        raise errors[0]
    if changed:
        raise BufferedError(changed)


def is_buffered():
    """True inside a :func:`buffered` block (of this thread)."""
    return _buffer() is not None


def get_buffer_capacity():
    """How many files a :func:`buffered` block holds before writing them out early."""
    return _capacity[0]


def set_buffer_capacity(new_capacity):
    """Set :func:`get_buffer_capacity` (a positive number of files)."""
    if int(new_capacity) < 1:
        raise ValueError(f"the buffer capacity must be positive, not {new_capacity!r}")
    _capacity[0] = int(new_capacity)


def get_current_buffer_size():
    """How many files the current :func:`buffered` block holds (0 outside one)."""
    buf = _buffer()
    return 0 if buf is None else len(buf)


def _hold(root):
    """Put ``root`` in the buffer (by path, so all objects of one file share it)."""
    buf = _buffer()
    if len(buf) >= _capacity[0]:
        _flush_all(buf)
        buf.clear()
    buf[root.path] = root


class FileRoot:
    """A JSON object stored in one file; a missing file reads as ``{}``."""

    # status primes one per job: without a __dict__ each takes a third of the memory
    __slots__ = ("path", "job_id", "what", "_before_write", "_data", "_sig", "_dirty", "_fresh",
                 "__weakref__")

    def __init__(self, path, job_id=None, before_write=None, what="document"):
        self.path = path
        self.job_id = job_id
        self.what = what
        self._before_write = before_write
        self._data = None
        self._sig = None
        self._dirty = False
        self._fresh = False  # data just checked by the caller (the index): skip one stat

    def _known_sig(self):
        """The signature last seen. One given as the index's ``mtime:size:inode`` text (status
        primes a million views, most read once and never compared) is parsed when needed."""
        sig = self._sig
        if type(sig) is str:
            sig = self._sig = None if sig == "none" else tuple(map(int, sig.split(":")))
        return sig

    def _stat_sig(self):
        try:
            return _sig(os.stat(self.path))
        except FileNotFoundError:
            return None

    def data(self):
        buf = _local.buffer  # _buffer() written out: status asks once per job
        if buf is not None:
            holder = buf.get(self.path)
            if holder is self:
                return self._data
            if holder is not None:  # another object of the same file holds it
                return holder.data()
            data = self._load()
            _hold(self)
            return data
        if self._data is not None and (self._dirty or self._fresh):
            self._fresh = False
            return self._data
        return self._load()

    def _load(self):
        if self._fresh and self._data is not None:
            self._fresh = False
            return self._data
        sig = self._stat_sig()
        if self._data is None or sig != self._known_sig():
            if sig is None:
                self._data = {}
            else:
                data = read_json(self.path, self.job_id)
                if not isinstance(data, dict):
                    from .errors import CorruptFileError

                    raise CorruptFileError(self.path, "not a JSON object", self.job_id)
                self._data = data
            self._sig = sig
        return self._data

    def modify(self, fn):
        buf = _buffer()
        holder = buf.get(self.path) if buf is not None else None
        if holder is not None and holder is not self:
            return holder.modify(fn)
        while True:
            data = self.data()
            fn(data)
            if buf is not None and _buffer() is buf and buf.get(self.path) is self:
                self._dirty = True
                return
            if self._write(data, self._known_sig()):
                return
            # another process (a sync, another job) replaced the file after it was read:
            # apply the change again to that version instead of overwriting it
            self._data = None

    def flush(self):
        """Write buffered changes; a file changed on disk since it was read is left as it is
        (:class:`BufferedError`): overwriting it would lose the other writer's change."""
        if self._dirty:
            self._dirty = False
            # checked again by the write itself: a change landing after this stat is kept too
            expect = self._known_sig()
            if self._stat_sig() != expect or not self._write(self._data, expect):
                from .errors import BufferedError

                data, self._data = self._data, None
                raise BufferedError({self.path: data})

    def _write(self, data, expect=ANY):
        """Write ``data``; with ``expect`` (a signature, None: no file) only if the file is
        still that one. Return whether it was written."""
        if self._before_write is not None:
            self._before_write()
        try:
            # new values were checked by to_plain (no NaN); NaN or Infinity still here were
            # read from the file (signac writes them) and are kept, not refused
            st = write_atomic(self.path, dumps(data, keep_nonfinite=True).encode(),
                              expect=ANY if expect is ANY
                              else expect and (expect[1], expect[0], expect[2]))
        except BaseException:
            self._data = None  # do not trust the cache after a failed write
            raise
        if st is None:
            return False
        self._sig = _sig(st)
        return True



#: ``primed_file_root(path, job_id, before_write, data, sig)``: a document's root holding
#: ``data`` read by the caller with its signature ``sig`` (see :meth:`FileRoot._known_sig`),
#: trusted for the next read without a ``stat``. Status primes one per job: made without
#: ``__init__`` (suite.slotnew), it costs a fifth.
_new_primed = maker and maker(FileRoot, ("path", "job_id", "_before_write", "_data", "_sig",
                                          "what", "_dirty", "_fresh"))


def primed_file_root(path, job_id, before_write, data, sig):
    if _new_primed is not None:
        return _new_primed(path, job_id, before_write, data, sig, "document", False, True)
    root = FileRoot(path, job_id, before_write)
    root._data, root._sig, root._fresh = data, sig, True
    return root


def _sig(st):
    """What tells a changed file: its mtime, size and inode."""
    return st.st_mtime_ns, st.st_size, st.st_ino


_CONTAINERS = (dict, list)


def copy_json_python(value):
    """Deep copy of a JSON value (dicts, lists, scalars): much faster than ``copy.deepcopy``.
    Only dicts and lists of exactly those types are copied, everything else is shared; too
    deep a nesting raises RecursionError. The reference of the native ``suite._copyjson``."""
    if type(value) is dict:
        # a C copy, then only the nested containers again: half the time of a comprehension
        # (every `job.sp()` of an iteration copies its state point)
        out = value.copy()
        for k, v in out.items():
            if type(v) in _CONTAINERS:
                out[k] = copy_json_python(v)
        return out
    if type(value) is list:
        return [copy_json_python(v) if type(v) in _CONTAINERS else v for v in value]
    return value


_copyjson = native.load("suite._copyjson")
#: :func:`copy_json_python`, in C where built (a fifth of iterating 100,000 jobs' CPU time)
copy_json = _copyjson.copy_json if _copyjson is not None else copy_json_python


class _Node:
    __slots__ = ("_root", "_path")

    def __init__(self, root, path=()):
        # the slots' own setters: object.__setattr__ (this class overrides __setattr__) took
        # a third of making a view, and `job.sp` / `job.doc` make one per access
        _set_root(self, root)
        _set_path(self, path)

    def _get(self, data=None):
        node = self._root.data() if data is None else data
        if self._path:
            for part in self._path:
                node = node[part]
        return node

    def _modify(self, fn):
        path = self._path
        self._root.modify(lambda data: fn(self._get(data)) if path else fn(data))

    def _wrap(self, key, value):
        if isinstance(value, dict):
            return new_dict_view(self._root, self._path + (key,))
        if isinstance(value, list):
            return SyncedList(self._root, self._path + (key,))
        return value

    def __call__(self):
        """Return a plain deep copy of the data."""
        # _get written out: `job.sp()` runs once per job of an iteration, and a call level is
        # a tenth of it
        node = self._root.data()
        for part in self._path:
            node = node[part]
        return copy_json(node)

    def __len__(self):
        return len(self._get())

    def __eq__(self, other):
        if isinstance(other, _Node):
            other = other._get()
        return self._get() == other

    def __repr__(self):
        return repr(self._get())

    def __str__(self):
        return str(self._get())

    __hash__ = None


_set_root = _Node._root.__set__
_set_path = _Node._path.__set__


def is_view(value):
    """Whether ``value`` is a view of a synced document or state point (``job.doc``,
    ``job.sp``, or a dict or list inside them): calling it gives a plain copy."""
    return isinstance(value, _Node)


class SyncedDict(_Node):
    """A dict view with attribute access: ``d.key`` is ``d["key"]``."""

    __slots__ = ()

    def __getitem__(self, key):
        return self._wrap(key, self._get()[key])

    def __setitem__(self, key, value):
        plain = to_plain({key: value}, self._root.what, len(self._path))[key]
        self._modify(lambda d: d.__setitem__(key, plain))

    def __delitem__(self, key):
        if key not in self._get():
            raise KeyError(key)
        self._modify(lambda d: d.__delitem__(key))

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        node = self._root.data()  # _get written out: labels read `job.sp.a` once per job
        try:
            for part in self._path:
                node = node[part]
            value = node[name]
        except KeyError:
            raise AttributeError(name) from None
        # as __getitem__, one call less: labels read `job.sp.a` once per job
        return self._wrap(name, value) if isinstance(value, _CONTAINERS) else value

    def __setattr__(self, name, value):
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def __delattr__(self, name):
        try:
            del self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __iter__(self):
        return iter(list(self._get()))

    def __reversed__(self):
        return iter(list(reversed(self._get())))

    def __contains__(self, key):
        node = self._root.data()  # _get written out: labels ask `"key" in job.doc` per job
        for part in self._path:
            node = node[part]
        return key in node

    def keys(self):
        return self._get().keys()

    def values(self):
        return [self._wrap(k, v) for k, v in self._get().items()]

    def items(self):
        return [(k, self._wrap(k, v)) for k, v in self._get().items()]

    def get(self, key, default=None):
        data = self._get()
        return self._wrap(key, data[key]) if key in data else default

    def setdefault(self, key, default=None):
        if key not in self._get():
            self[key] = default
        return self[key]

    def pop(self, key, *default):
        data = self._get()
        if key not in data:
            if default:
                return default[0]
            raise KeyError(key)
        value = copy_json(data[key])
        self._modify(lambda d: d.pop(key))
        return value

    def popitem(self):
        """Remove and return the last ``(key, value)`` pair; KeyError when empty."""
        data = self._get()
        if not data:
            raise KeyError("popitem(): dictionary is empty")
        key = next(reversed(data))
        value = copy_json(data[key])
        self._modify(lambda d: d.pop(key))
        return key, value

    def update(self, other=(), **kwargs):
        merged = dict(other() if isinstance(other, _Node) else other, **kwargs)
        plain = to_plain(merged, self._root.what, len(self._path))
        self._modify(lambda d: d.update(plain))

    def clear(self):
        self._modify(lambda d: d.clear())

    def reset(self, data):
        """Replace the whole content with ``data``."""
        plain = to_plain(data, self._root.what, len(self._path))

        def apply(d):
            d.clear()
            d.update(plain)

        self._modify(apply)


#: ``new_dict_view(root, path)`` is ``SyncedDict(root, path)``, without its ``__init__`` where
#: suite._slots is built: a view is made per access (``job.sp``, ``job.doc``), once per job of
#: an iteration or status
new_dict_view = maker(SyncedDict, ("_root", "_path")) if maker is not None else SyncedDict
# `job.sp.key`, `job.doc.key`: no AttributeError made and dropped before each __getattr__
install_getattr(SyncedDict)


class SyncedList(_Node):
    """A list view; changes are written through like :class:`SyncedDict`."""

    __slots__ = ()

    def __getitem__(self, index):
        data = self._get()
        if isinstance(index, slice):
            return copy_json(data[index])
        if index < 0:
            index += len(data)
        return self._wrap(index, data[index])

    def __setitem__(self, index, value):
        plain = to_plain([value], self._root.what, len(self._path))[0]
        self._modify(lambda d: d.__setitem__(index, plain))

    def __delitem__(self, index):
        self._modify(lambda d: d.__delitem__(index))

    def __iter__(self):
        return iter([self._wrap(i, v) for i, v in enumerate(self._get())])

    def __contains__(self, value):
        return to_plain([value])[0] in self._get()

    def append(self, value):
        plain = to_plain([value], self._root.what, len(self._path))[0]
        self._modify(lambda d: d.append(plain))

    def extend(self, values):
        plain = to_plain(list(values), self._root.what, len(self._path))
        self._modify(lambda d: d.extend(plain))

    def insert(self, index, value):
        plain = to_plain([value], self._root.what, len(self._path))[0]
        self._modify(lambda d: d.insert(index, plain))

    def pop(self, index=-1):
        value = copy_json(self._get()[index])
        self._modify(lambda d: d.pop(index))
        return value

    def remove(self, value):
        plain = to_plain([value])[0]
        self._modify(lambda d: d.remove(plain))

    # the rest of a list's methods, as signac's lists (MutableSequence) have them
    def index(self, value, start=0, stop=None):
        data = self._get()
        return data.index(to_plain([value])[0], start, len(data) if stop is None else stop)

    def count(self, value):
        return self._get().count(to_plain([value])[0])

    def reverse(self):
        self._modify(lambda d: d.reverse())

    def clear(self):
        self._modify(lambda d: d.clear())

    def __reversed__(self):
        data = self._get()
        return iter([self._wrap(i, data[i]) for i in range(len(data) - 1, -1, -1)])

    def __iadd__(self, values):
        self.extend(values)
        return self

    # lists order as lists (sorting jobs by a list-valued key); anything else: TypeError
    def _ordered(self, other, compare):
        if isinstance(other, SyncedList):
            other = other._get()
        return compare(self._get(), other) if isinstance(other, list) else NotImplemented

    def __lt__(self, other):
        return self._ordered(other, operator.lt)

    def __le__(self, other):
        return self._ordered(other, operator.le)

    def __gt__(self, other):
        return self._ordered(other, operator.gt)

    def __ge__(self, other):
        return self._ordered(other, operator.ge)

    def reset(self, data):
        plain = to_plain(list(data), self._root.what, len(self._path))

        def apply(d):
            d[:] = plain

        self._modify(apply)


class JSONDict(SyncedDict):
    """signac's ``JSONDict``: a dict stored in the JSON file ``filename``, written atomically
    on every change (or once per :func:`buffered` block). ``data`` replaces the content."""

    __slots__ = ()

    def __init__(self, filename=None, write_concern=False, data=None, **kwargs):
        if filename is None or kwargs:
            from .signac_compat import unsupported

            unsupported("JSONDict without a filename or with " + ", ".join(kwargs),
                        "JSONDict(filename=...) only")
        super().__init__(FileRoot(os.fspath(filename), None, what="document"))
        if data is not None:
            self.reset(data)
