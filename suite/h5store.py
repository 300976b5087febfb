"""HDF5 key-value stores over h5py: ``job.data`` (``signac_data.h5``) and ``job.stores[name]``.

The layout is signac 2's: a mapping is a group, ``None`` an empty dataset (shape None), scalars,
strings and arrays are datasets. Outside a ``with store:`` block each access opens and closes
the file and returns values in memory; inside it the file stays open and arrays come back as
lazy ``h5py.Dataset`` objects, read only when sliced.
"""

import os
from collections.abc import Mapping, MutableMapping


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

    def __iter__(self):
        return iter(self._store._keys(self._path))

    def __len__(self):
        return len(self._store._keys(self._path))

    def __contains__(self, key):
        return key in self._store._keys(self._path)

    def __repr__(self):
        return f"H5Group({self._store.filename!r}, {self._path!r})"

    def to_dict(self):
        """Read the whole group into plain Python/numpy values."""
        return {k: (v.to_dict() if isinstance(v, H5Group) else _read(v)) for k, v in self.items()}


class H5Store(H5Group):
    """An HDF5 file used as a key-value store (keys are strings, values as listed above)."""

    def __init__(self, filename, mode="a"):
        object.__setattr__(self, "_store", self)
        object.__setattr__(self, "_path", "")
        object.__setattr__(self, "filename", os.fspath(filename))
        object.__setattr__(self, "_mode", mode)
        object.__setattr__(self, "_h5", None)
        object.__setattr__(self, "_depth", 0)

    def __repr__(self):
        return f"H5Store({self.filename!r})"

    # -- open/close -------------------------------------------------------------------------
    def __enter__(self):
        if self._h5 is None:
            object.__setattr__(self, "_h5", _h5py().File(self.filename, self._mode))
        object.__setattr__(self, "_depth", self._depth + 1)
        return self

    def __exit__(self, *exc):
        object.__setattr__(self, "_depth", self._depth - 1)
        if self._depth == 0:
            self.close()
        return False

    def open(self, mode=None):
        """Open the file explicitly (closed by :meth:`close`)."""
        if mode is not None:
            object.__setattr__(self, "_mode", mode)
        return self.__enter__()

    def close(self):
        if self._h5 is not None:
            self._h5.close()
            object.__setattr__(self, "_h5", None)
        object.__setattr__(self, "_depth", 0)

    @property
    def file(self):
        """The open ``h5py.File`` (only inside ``with store:``)."""
        if self._h5 is None:
            raise RuntimeError(f"{self.filename} is not open: use 'with store:'")
        return self._h5

    def _file(self, mode):
        return self._h5

    def _access(self, fn, write=False):
        if self._h5 is not None:
            return fn(self._h5, True)
        if not write and not os.path.exists(self.filename):
            return fn(None, False)
        with _h5py().File(self.filename, "a" if write else "r") as f:
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
    if not isinstance(key, str):
        raise TypeError(f"HDF5 store keys must be strings, not {type(key).__name__}")
    if "/" in key or key in ("", ".", ".."):
        raise KeyError(f"invalid HDF5 store key {key!r}")
    return key


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


class H5StoreManager(Mapping):
    """The ``*.h5`` stores of a directory: ``stores["name"]`` is ``name.h5``."""

    def __init__(self, directory):
        self._dir = directory

    def __getitem__(self, name):
        _check_key(name)
        return H5Store(os.path.join(self._dir, name + ".h5"))

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        return self[name]

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
        os.unlink(os.path.join(self._dir, _check_key(name) + ".h5"))
