"""HDF5 files of a job as a tree of groups and datasets, and the values of a dataset for a
plot (read with a stride, so a dataset of any size costs a bounded read)."""

#: points of a line plot, cells per side of a 2-D plot
MAX_POINTS = 2000
MAX_CELLS = 80
#: groups and datasets listed per file
MAX_ENTRIES = 2000


def tree(path):
    """``[{"name", "depth", "group", "shape", "dtype", "plot"}]`` for every group and dataset
    in the HDF5 file at ``path`` (``plot`` tells a numeric 1-D or 2-D dataset).

    Raises
    ------
    OSError
        The file cannot be opened as HDF5.
    """
    import h5py

    out = []

    def visit(name, obj):
        if len(out) >= MAX_ENTRIES:
            return True  # stops the visit
        entry = {"name": "/" + name, "depth": name.count("/"),
                 "group": isinstance(obj, h5py.Group), "shape": None, "dtype": None,
                 "plot": False}
        if isinstance(obj, h5py.Dataset):
            entry["shape"] = tuple(obj.shape)
            entry["dtype"] = str(obj.dtype)
            entry["plot"] = _plottable(obj)
        out.append(entry)

    with h5py.File(path, "r") as f:
        f.visititems(visit)
    return out


def _plottable(ds):
    return ds.dtype.kind in "biuf" and len(ds.shape) in (1, 2) and ds.size > 0


def _hard_links_only(f, name):
    """Whether every part of ``name`` is a hard link: an external (or soft) link could name a
    file outside the job, which the dashboard must not read."""
    import h5py

    parts = [p for p in name.split("/") if p]
    for k in range(1, len(parts) + 1):
        link = f.get("/" + "/".join(parts[:k]), getlink=True)
        if not isinstance(link, h5py.HardLink):
            return False
    return bool(parts)


def values(path, name):
    """``(ndim, values, step)`` of dataset ``name``, strided to at most MAX_POINTS values (1-D)
    or MAX_CELLS per side (2-D; ``step`` is then a pair); None when it is not a numeric 1-D or
    2-D dataset reached by hard links only.

    Raises
    ------
    OSError
        The file cannot be opened as HDF5.
    """
    import h5py

    with h5py.File(path, "r") as f:
        if not _hard_links_only(f, name):
            return None
        ds = f.get(name)
        if not isinstance(ds, h5py.Dataset) or not _plottable(ds):
            return None
        if ds.ndim == 1:
            step = -(-ds.shape[0] // MAX_POINTS)
            return 1, ds[::step].astype(float), step
        s0 = -(-ds.shape[0] // MAX_CELLS)
        s1 = -(-ds.shape[1] // MAX_CELLS)
        return 2, ds[::s0, ::s1].astype(float), (s0, s1)
