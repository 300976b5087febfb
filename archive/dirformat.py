"""Plain directory trees: the most readable archive."""

import os
import shutil
import stat

from suite.jsonio import open_read_quietly

from .base import DIR, FILE, SYMLINK, Member, copy_hashed, set_dir_attrs


class DirWriter:
    def __init__(self, path):
        self.path = path
        os.mkdir(path)
        self._dirs = []  # (path, mode, mtime), given when the tree is complete

    def _p(self, name):
        return os.path.join(self.path, *name.split("/"))

    def add_dir(self, name, mode=0o755, mtime=0):
        os.makedirs(self._p(name), exist_ok=True)
        self._dirs.append((self._p(name), mode, mtime))

    def add_symlink(self, name, target, mtime=0):
        os.makedirs(os.path.dirname(self._p(name)), exist_ok=True)
        os.symlink(target, self._p(name))

    def add_bytes(self, name, data, mtime=0):
        os.makedirs(os.path.dirname(self._p(name)), exist_ok=True)
        with open(self._p(name), "xb") as f:
            f.write(data)

    def add_file(self, name, src, size, mode=0o644, mtime=0):
        dst = self._p(name)
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open_read_quietly(src) as f, open(dst, "xb") as out:
            digest = copy_hashed(f, out)
        os.chmod(dst, mode & 0o7777)
        if mtime:
            os.utime(dst, (mtime, mtime))
        return digest

    def close(self):
        set_dir_attrs(self._dirs)

    def abort(self):
        shutil.rmtree(self.path, ignore_errors=True)


class DirReader:
    random_access = True

    def __init__(self, path):
        self.path = os.fspath(path)

    def read(self, name):
        try:
            with open(os.path.join(self.path, *name.split("/")), "rb") as f:
                return f.read()
        except FileNotFoundError:
            return None

    def members(self):
        for root, dirs, files in os.walk(self.path):
            dirs.sort()
            rel_root = os.path.relpath(root, self.path).replace(os.sep, "/")
            rel_root = "" if rel_root == "." else rel_root + "/"
            for d in list(dirs):
                full = os.path.join(root, d)
                if os.path.islink(full):
                    dirs.remove(d)
                    yield Member(rel_root + d, SYMLINK, 0, 0o777, 0, os.readlink(full)), None
                else:
                    st = os.lstat(full)
                    yield Member(rel_root + d, DIR, 0, st.st_mode & 0o7777, st.st_mtime), None
            for name in sorted(files):
                full = os.path.join(root, name)
                st = os.lstat(full)
                if stat.S_ISLNK(st.st_mode):
                    yield Member(rel_root + name, SYMLINK, 0, 0o777, 0, os.readlink(full)), None
                elif stat.S_ISREG(st.st_mode):
                    with open(full, "rb") as f:
                        yield Member(rel_root + name, FILE, st.st_size, st.st_mode & 0o7777,
                                     st.st_mtime), f
                else:
                    yield Member(rel_root + name, "other", 0), None
