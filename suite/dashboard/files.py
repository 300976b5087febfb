"""A job's files as the job page shows them: sizes, kinds (image, video, text, HDF5) and text
previews."""

import os
import stat

IMAGE = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg", ".gif": "image/gif",
         ".svg": "image/svg+xml"}
VIDEO = {".mp4": "video/mp4", ".webm": "video/webm"}
HDF5 = (".h5", ".hdf5")
#: files listed per job (a job with more says how many were left out)
MAX_FILES = 2000
#: bytes of a text file previewed
PREVIEW_BYTES = 16 * 1024


def kind(name):
    """``"image"``, ``"video"``, ``"hdf5"`` or ``"file"`` from the name's ending."""
    ext = os.path.splitext(name)[1].lower()
    if ext in IMAGE:
        return "image"
    if ext in VIDEO:
        return "video"
    if ext in HDF5:
        return "hdf5"
    return "file"


def media_type(name):
    """The media type a file is shown inline with, or None (then it is only downloaded)."""
    ext = os.path.splitext(name)[1].lower()
    return IMAGE.get(ext) or VIDEO.get(ext)


def list_files(root):
    """``([{"path", "size", "kind", "link"}], left_out)`` of the files below ``root`` (symbolic
    links listed, not followed), sorted by path; ``kind`` is ``"special"`` for anything that
    is not a regular file (FIFO, socket, device, a link to a directory or to nothing)."""
    out, left_out = [], 0
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(filenames) + sorted(d for d in dirnames
                                                if os.path.islink(os.path.join(dirpath, d))):
            if len(out) >= MAX_FILES:
                left_out += 1
                continue
            full = os.path.join(dirpath, name)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            link = stat.S_ISLNK(st.st_mode)
            if link:
                try:
                    regular = stat.S_ISREG(os.stat(full).st_mode)
                except OSError:  # a dangling link
                    regular = False
            else:
                regular = stat.S_ISREG(st.st_mode)
            # a FIFO or device would block or never end a preview: listed, not read
            out.append({"path": rel, "size": st.st_size, "kind": kind(name) if regular else
                        "special", "link": link})
    out.sort(key=lambda f: f["path"])
    return out, left_out


def preview(path):
    """The start of a text file (None for a binary one: a NUL byte or not UTF-8) and whether
    it was cut."""
    try:
        with open(path, "rb") as f:
            raw = f.read(PREVIEW_BYTES + 1)
    except OSError:
        return None, False
    cut = len(raw) > PREVIEW_BYTES
    raw = raw[:PREVIEW_BYTES]
    if b"\x00" in raw:
        return None, False
    try:
        return raw.decode("utf-8"), cut
    except UnicodeDecodeError as exc:
        if cut and exc.start >= len(raw) - 3:  # a character cut at the end
            return raw[: exc.start].decode("utf-8"), cut
        return None, False


def human_size(n):
    """``1.5 MB`` style sizes."""
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if n < 1000 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1000
    return f"{n} B"
