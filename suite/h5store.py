"""HDF5 key-value stores over h5py: ``job.data`` (``signac_data.h5``) and ``job.stores[name]``.

The layout is signac 2's: a mapping is a group, ``None`` an empty dataset (shape None), scalars,
strings and arrays are datasets. Outside a ``with store:`` block each access opens and closes
the file and returns values in memory; inside it the file stays open and arrays come back as
lazy ``h5py.Dataset`` objects, read only when sliced.

Keys are strings without ``.`` (:class:`InvalidKeyError`); ``/`` separates nested groups, as in
HDF5 (``store["a/b"]`` is ``store["a"]["b"]``). Options other than ``mode`` (``libver``,
``swmr``, ...) go to ``h5py.File``.
"""

import os
from collections.abc import Mapping, MutableMapping

from .errors import H5StoreAlreadyOpenError, H5StoreClosedError, InvalidKeyError


def _h5py():
    import h5py

    return h5py


class H5Group(MutableMapping):
    """A group inside an open store; behaves like a nested mapping."""

    def __init__(self, store, path):
        self._store = store
        self._path = path

    def _group(self, mode="r"):
        return self._store._file(mode)[self._path]

    def __getitem__(self, key):
        return self._store._get(self._path + "/" + _check_key(key))

    def __setitem__(self, key, value):
        self._store._set(self._path + "/" + _check_key(key), value)

    def __delitem__(self, key):
        self._store._delete(self._path + "/" + _check_key(key))

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        if name.startswith("_"):
            object.__setattr__(self, name, value)
        else:
            self[name] = value

    def __delattr__(self, name):
        if name.startswith("_"):
            object.__delattr__(self, name)
        else:
            del self[name]

    def setdefault(self, key, default=None):
        """``self[key]``, set to ``default`` first if missing (a mapping comes back as a
        group of the store)."""
        if key not in self:
            self[key] = default
        return self[key]

    def __iter__(self):
        return iter(self._store._keys(self._path))

    def __len__(self):
        return len(self._store._keys(self._path))

    def __contains__(self, key):
        return isinstance(key, str) and self._store._exists(self._path + "/" + _check_key(key))

    def __eq__(self, other):
        if isinstance(other, H5Group):
            return (self._store.filename, self._path) == (other._store.filename, other._path) or (
                self.to_dict() == other.to_dict())
        if isinstance(other, Mapping):
            return self.to_dict() == dict(other)
        return NotImplemented

    __hash__ = None

    def __repr__(self):
        return f"H5Group(store={self._store!r}, path={self._path!r})"

    def to_dict(self):
        """Read the whole group into plain Python/numpy values."""
        return {k: (v.to_dict() if isinstance(v, H5Group) else _read(v)) for k, v in self.items()}


class H5Store(H5Group):
    """An HDF5 file used as a key-value store (keys are strings, values as listed above).

    Parameters
    ----------
    filename : str or path
        The HDF5 file (created on the first write).
    mode : str
        The ``h5py.File`` mode used by ``with store:`` and :meth:`open` (default ``"a"``).
    **kwargs
        Passed to ``h5py.File`` when the file is opened (``libver``, ``swmr``, ...).

    Raises ValueError for a filename that is empty or not a path.
    """

    def __init__(self, filename, mode="a", **kwargs):
        if not isinstance(filename, (str, os.PathLike)) or not os.fspath(filename):
            raise ValueError(f"an H5Store needs a file name, not {filename!r}")
        object.__setattr__(self, "_store", self)
        object.__setattr__(self, "_path", "")
        object.__setattr__(self, "filename", os.fspath(filename))
        object.__setattr__(self, "_mode", mode)
        object.__setattr__(self, "_kwargs", kwargs)
        object.__setattr__(self, "_h5", None)
        object.__setattr__(self, "_depth", 0)

    def __repr__(self):
        return f"H5Store(filename={self.filename!r}, mode={self._mode!r})"

    def __str__(self):
        return repr(self)

    def __getstate__(self):  # an open h5py file cannot be pickled; the copy starts closed
        return {"filename": self.filename, "_mode": self._mode, "_kwargs": self._kwargs}

    def __setstate__(self, state):
        self.__init__(state["filename"], state["_mode"], **state["_kwargs"])

    @property
    def mode(self):
        """The open file's mode (h5py reports ``"r+"`` for a writable file), else the mode
        the store opens with."""
        return self._h5.mode if self._h5 is not None else self._mode

    # -- open/close -------------------------------------------------------------------------
    def _open(self):
        object.__setattr__(self, "_h5", _h5py().File(self.filename, self._mode, **self._kwargs))

    def __enter__(self):
        if self._h5 is None:
            self._open()
        object.__setattr__(self, "_depth", self._depth + 1)
        return self

    def __exit__(self, *exc):
        object.__setattr__(self, "_depth", self._depth - 1)
        if self._depth <= 0:
            self.close()
        return False

    def open(self, mode=None):
        """Open the file explicitly (closed by :meth:`close`) and return the store.

        Raises :class:`H5StoreAlreadyOpenError` if this store is open already.
        """
        if self._h5 is not None:
            raise H5StoreAlreadyOpenError(f"{self.filename} is already open; close() it first")
        if mode is not None:
            object.__setattr__(self, "_mode", mode)
        self._open()
        # 0: a 'with' block around open() closes the file at its end, as a bare 'with' does
        object.__setattr__(self, "_depth", 0)
        return self

    def close(self):
        """Close the file (nothing if it is not open)."""
        if self._h5 is not None:
            self._h5.close()
            object.__setattr__(self, "_h5", None)
        object.__setattr__(self, "_depth", 0)

    def flush(self):
        """Write the open file's buffers to disk (nothing if it is not open)."""
        if self._h5 is not None:
            self._h5.flush()

    @property
    def file(self):
        """The open ``h5py.File`` (only inside ``with store:``); raises
        :class:`H5StoreClosedError` otherwise."""
        if self._h5 is None:
            raise H5StoreClosedError(f"{self.filename} is not open: use 'with store:'")
        return self._h5

    def _file(self, mode):
        return self._h5

    def _access(self, fn, write=False):
        if self._h5 is not None:
            return fn(self._h5, True)
        if not write and not os.path.exists(self.filename):
            return fn(None, False)
        with _h5py().File(self.filename, "a" if write else "r", **self._kwargs) as f:
            return fn(f, False)

    # -- mapping primitives -----------------------------------------------------------------
    def _get(self, path):
        def get(f, is_open):
            if f is None or path.lstrip("/") not in f:
                raise KeyError(path.lstrip("/"))
            node = f[path.lstrip("/")]
            if isinstance(node, _h5py().Group):
                return H5Group(self, path) if is_open else _GroupSnapshot(self, path, node)
            if is_open and node.shape:
                return node  # lazy dataset
            return _read(node)

        return self._access(get)

    def _set(self, path, value):
        def put(f, _):
            _write(f, path.lstrip("/"), value)

        self._access(put, write=True)

    def _delete(self, path):
        def delete(f, _):
            if path.lstrip("/") not in f:
                raise KeyError(path.lstrip("/"))
            del f[path.lstrip("/")]

        self._access(delete, write=True)

    def _exists(self, path):
        return self._access(lambda f, _: f is not None and path.lstrip("/") in f)

    def _keys(self, path):
        def keys(f, _):
            if f is None:
                return []
            node = f[path.lstrip("/")] if path.lstrip("/") else f
            return list(node.keys())

        return self._access(keys)

    def clear(self):
        def clear(f, _):
            for k in list(f.keys()):
                del f[k]

        self._access(clear, write=True)


class _GroupSnapshot(H5Group):
    """A group read while the file was closed: reads reopen the file by path."""

    def __init__(self, store, path, node):
        super().__init__(store, path)


def _check_key(key):
    """``key`` if valid: a string without ``.``; ``/`` separates nested groups."""
    if not isinstance(key, str):
        raise TypeError(f"HDF5 store keys must be strings, not {type(key).__name__}")
    if "." in key:
        raise InvalidKeyError(f"HDF5 store key {key!r} contains '.', which is not allowed")
    if not key.strip("/"):
        raise KeyError(f"invalid HDF5 store key {key!r}")
    return key.strip("/")


def _read(node):
    h5py = _h5py()
    if not isinstance(node, h5py.Dataset):
        return node
    if node.shape is None:
        return None
    if not node.shape and h5py.check_dtype(vlen=node.dtype) is str:
        return node.asstr()[()]
    value = node[()]
    if not node.shape and hasattr(value, "item"):
        return value.item() if type(value).__name__ != "bytes_" else bytes(value)
    return value


def _write(f, path, value):
    import numpy

    h5py = _h5py()
    if path in f:
        existing = f[path]
        if isinstance(value, H5Group) and value._store.filename == f.filename and (
            value._path.lstrip("/") == path
        ):
            return
        del f[path]
        del existing
    if isinstance(value, H5Group):
        value = value.to_dict()
    if isinstance(value, Mapping):
        group = f.create_group(path)
        for k, v in value.items():
            _write(f, group.name.lstrip("/") + "/" + _check_key(k), v)
    elif value is None:
        f.create_dataset(path, data=None, shape=None, dtype="f")
    elif isinstance(value, bytes):
        f[path] = numpy.bytes_(value)
    elif isinstance(value, h5py.Dataset):
        f[path] = value[()]
    else:
        f[path] = value


class H5StoreManager(MutableMapping):
    """The ``*.h5`` stores of a directory: ``stores["name"]`` is ``name.h5``.

    Assigning a non-empty mapping (``stores["name"] = {...}`` or ``stores.name = {...}``)
    replaces that store's content: the new file is written beside it and renamed over it.
    Raises ValueError for an empty value, TypeError for one that is not a mapping.
    """

    #: signac's names: the class of a store and its file ending
    cls = H5Store
    suffix = ".h5"

    def __init__(self, prefix):
        object.__setattr__(self, "_dir", os.fspath(prefix))

    @property
    def prefix(self):
        """The directory holding the stores."""
        return self._dir

    def __repr__(self):
        return f"H5StoreManager(prefix={self._dir!r})"

    __str__ = __repr__

    def __eq__(self, other):
        return isinstance(other, H5StoreManager) and other._dir == self._dir

    def __hash__(self):
        return hash(self._dir)

    def _fn(self, name):
        name = _check_key(name)
        if "/" in name:
            raise KeyError(f"invalid store name {name!r}")
        return os.path.join(self._dir, name + ".h5")

    def __getitem__(self, name):
        return H5Store(self._fn(name))

    def __setitem__(self, name, value):
        if isinstance(value, H5Group):
            value = value.to_dict()
        content = dict(value)  # TypeError / ValueError for what is not a mapping
        if not content:
            raise ValueError(f"store {name!r}: assign a non-empty mapping, not {value!r}")
        from .layout import temp_path

        target = self._fn(name)
        tmp = temp_path(target)
        try:
            with _h5py().File(tmp, "w") as f:
                for key, item in content.items():
                    _write(f, _check_key(key), item)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

    def __setattr__(self, name, value):
        if name.startswith("_"):
            raise AttributeError(f"cannot set {name!r} on a store manager")
        self[name] = value

    def __delattr__(self, name):
        del self[name]

    def __iter__(self):
        try:
            names = sorted(os.listdir(self._dir))
        except FileNotFoundError:
            return iter([])
        return iter(n[:-3] for n in names if n.endswith(".h5"))

    def __len__(self):
        return sum(1 for _ in self)

    def __contains__(self, name):
        return isinstance(name, str) and os.path.isfile(os.path.join(self._dir, name + ".h5"))

    def __delitem__(self, name):
        try:
            os.unlink(self._fn(name))
        except FileNotFoundError:
            raise KeyError(name) from None
