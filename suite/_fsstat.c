/* suite._fsstat: per-file system-call loops of suite in C.
 *
 * Optional: suite/native.py loads it when it was built, and every function here has a
 * pure-Python reference (named in its docstring) that the tests compare it with. A Python
 * loop of stat calls costs ~2.6 us a file on this project's machines, the system call itself
 * ~1 us: the difference is the interpreter (the call, the stat_result object, the compare).
 * The loops release the interpreter lock around their system calls, so threads can
 * share one check (suite.native.in_threads).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirread.h"
#include "growbuf.h"
#include "pyfs.h"
#include "quietopen.h"

#define PATH_MAX_LEN 4096
/* files examined per release of the interpreter lock: the paths of a block are made while
 * holding it, then the system calls run without it (another thread, e.g. the other half of
 * the same check, runs meanwhile), then the results become Python objects again */
#define BLOCK 1024

/* A block's paths, each NUL-terminated, one after the other in a growing buffer. */
typedef struct {
    growbuf text;
    size_t start[BLOCK];
    int count;
} Paths;

/* Append a + b as the next path; -1 with MemoryError set if it does not fit in memory. */
static int
paths_add(Paths *p, const char *a, size_t alen, const char *b, size_t blen)
{
    if (growbuf_reserve(&p->text, alen + blen + 1) < 0)
        return -1;
    char *at = p->text.data + p->text.len;
    memcpy(at, a, alen);
    memcpy(at + alen, b, blen);
    at[alen + blen] = '\0';
    p->start[p->count++] = p->text.len;
    p->text.len += alen + blen + 1;
    return 0;
}

/* What a recorded document signature says to compare with. */
enum { SIG_NONE, SIG_VALUE, SIG_NEVER };
typedef struct {
    int kind;
    long long mtime_ns, size;
    unsigned long long inode;
} Sig;

static Sig
read_sig(PyObject *sig)
{
    /* a tuple or list (mtime_ns, size, inode) of ints; anything else never matches. Only
     * real ints are read: converting another object could run Python code (and change sig) */
    Sig out = {SIG_NEVER, 0, 0, 0};
    if (sig == Py_None) {
        out.kind = SIG_NONE;
        return out;
    }
    if (!(PyTuple_Check(sig) || PyList_Check(sig)) || PySequence_Fast_GET_SIZE(sig) != 3)
        return out;
    PyObject **v = PySequence_Fast_ITEMS(sig);
    if (!PyLong_Check(v[0]) || !PyLong_Check(v[1]) || !PyLong_Check(v[2]))
        return out;
    int over0 = 0, over1 = 0;
    out.mtime_ns = PyLong_AsLongLongAndOverflow(v[0], &over0);
    out.size = PyLong_AsLongLongAndOverflow(v[1], &over1);
    out.inode = PyLong_AsUnsignedLongLong(v[2]);  /* inode numbers use all 64 bits */
    if (over0 || over1 || PyErr_Occurred()) {
        PyErr_Clear();
        return out;
    }
    out.kind = SIG_VALUE;
    return out;
}

static int
sig_matches(const Sig *sig, const struct stat *st)
{
    long long mtime_ns = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
    return sig->mtime_ns == mtime_ns && sig->size == (long long)st->st_size
        && sig->inode == (unsigned long long)st->st_ino;
}

PyDoc_STRVAR(stat_changed_doc,
"stat_changed(dir_fd, rows, suffix) -> list\n\n"
"The ids among rows, pairs (id, signature or None), whose file dir_fd/id/suffix has another\n"
"(mtime_ns, size, inode) than the signature, appeared, or is gone. Reference:\n"
"suite.index.freshness.stat_changed_python. Raises OSError (with the path) for any error\n"
"but a missing file or directory, TypeError for rows of another shape, ValueError for a\n"
"path with a NUL (each where the reference raises it). Releases the interpreter lock\n"
"while it waits for the system calls.");

static PyObject *
stat_changed(PyObject *Py_UNUSED(self), PyObject *args)
{
    int dir_fd;
    PyObject *rows, *suffix_obj;
    if (!PyArg_ParseTuple(args, "iOU:stat_changed", &dir_fd, &rows, &suffix_obj))
        return NULL;
    Py_ssize_t suffix_len;
    PyObject *suffix_owner;
    const char *suffix = fs_text(suffix_obj, &suffix_len, &suffix_owner);
    if (suffix == NULL)
        return NULL;
    /* a tuple of its own: the rows cannot change under us while the lock is released */
    PyObject *seq = PySequence_Tuple(rows);
    PyObject *changed = seq == NULL ? NULL : PyList_New(0);
    if (changed == NULL) {
        Py_XDECREF(seq);
        Py_XDECREF(suffix_owner);
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    Paths paths = {0};
    Sig sigs[BLOCK];
    int preset[BLOCK];  /* an errno decided before the system call (a name too long) */
    unsigned char differs[BLOCK];
    for (Py_ssize_t base = 0; base < n; base += paths.count) {
        /* 1: the block's paths and signatures, holding the lock. A row that cannot be read
         * ends the block: the rows before it are examined first (an OSError among them comes
         * first, as in the reference) */
        paths.text.len = 0;
        paths.count = 0;
        PyObject *pending_type = NULL, *pending_value = NULL, *pending_tb = NULL;
        while (paths.count < BLOCK && base + paths.count < n) {
            PyObject *row = PyTuple_GET_ITEM(seq, base + paths.count);
            if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) != 2) {
                PyErr_SetString(PyExc_TypeError, "rows must be (id, signature) tuples");
                PyErr_Fetch(&pending_type, &pending_value, &pending_tb);
                break;
            }
            PyObject *owner;
            Py_ssize_t id_len;
            const char *id = fs_text(PyTuple_GET_ITEM(row, 0), &id_len, &owner);
            if (id == NULL) {
                PyErr_Fetch(&pending_type, &pending_value, &pending_tb);
                break;
            }
            if (memchr(id, '\0', id_len) != NULL || memchr(suffix, '\0', suffix_len) != NULL) {
                Py_XDECREF(owner);  /* os.stat's refusal, in its words */
                PyErr_SetString(PyExc_ValueError, "embedded null byte");
                PyErr_Fetch(&pending_type, &pending_value, &pending_tb);
                break;
            }
            int k = paths.count;
            int err = paths_add(&paths, id, id_len, suffix, suffix_len);
            Py_XDECREF(owner);
            if (err != 0)
                goto fail;
            preset[k] = (size_t)id_len + suffix_len + 1 > PATH_MAX_LEN ? ENAMETOOLONG : 0;
            sigs[k] = read_sig(PyTuple_GET_ITEM(row, 1));
        }
        /* 2: the system calls, without the lock; the first error stops */
        int count = paths.count, failed_at = -1, failed_errno = 0;
        Py_BEGIN_ALLOW_THREADS
        for (int k = 0; k < count; k++) {
            struct stat st;
            int e = preset[k];
            if (e == 0 && fstatat(dir_fd, paths.text.data + paths.start[k], &st, 0) != 0)
                e = errno;
            if (e != 0 && e != ENOENT && e != ENOTDIR) {
                failed_at = k;
                failed_errno = e;
                break;
            }
            differs[k] = e != 0 ? sigs[k].kind != SIG_NONE
                                : !(sigs[k].kind == SIG_VALUE && sig_matches(&sigs[k], &st));
        }
        Py_END_ALLOW_THREADS
        /* 3: the results */
        int done = failed_at < 0 ? count : failed_at;
        for (int k = 0; k < done; k++) {
            if (differs[k] && PyList_Append(changed, PyTuple_GET_ITEM(
                    PyTuple_GET_ITEM(seq, base + k), 0)) != 0) {
                Py_XDECREF(pending_type);
                Py_XDECREF(pending_value);
                Py_XDECREF(pending_tb);
                goto fail;
            }
        }
        if (failed_at >= 0) {
            Py_XDECREF(pending_type);
            Py_XDECREF(pending_value);
            Py_XDECREF(pending_tb);
            errno = failed_errno;
            PyErr_SetFromErrnoWithFilename(PyExc_OSError, paths.text.data + paths.start[failed_at]);
            goto fail;
        }
        if (pending_type != NULL) {
            PyErr_Restore(pending_type, pending_value, pending_tb);
            goto fail;
        }
    }
    growbuf_free(&paths.text);
    Py_DECREF(seq);
    Py_XDECREF(suffix_owner);
    return changed;
fail:
    growbuf_free(&paths.text);
    Py_DECREF(seq);
    Py_DECREF(changed);
    Py_XDECREF(suffix_owner);
    return NULL;
}

PyDoc_STRVAR(stat_changed_packed_doc,
"stat_changed_packed(dir_fd, ids, width, sigs, suffix, start, stop) -> list\n\n"
"stat_changed over packed rows start..stop: ids one ASCII str of ids width characters each,\n"
"each followed by a separator (a space), sigs bytes of three native 64-bit integers per id\n"
"(mtime_ns, size, inode; size -1: no document recorded). No Python object is made per file, and the interpreter lock is\n"
"released for the whole loop. Reference: suite.index.freshness.stat_changed_packed_python.\n"
"Raises ValueError for packed rows that do not fit together or a NUL in a path of rows\n"
"start..stop (before any file is examined), OSError (with the path) as stat_changed does.");

static PyObject *
stat_changed_packed(PyObject *Py_UNUSED(self), PyObject *args)
{
    int dir_fd;
    PyObject *ids_obj, *suffix_obj;
    Py_ssize_t width, start, stop;
    Py_buffer sigs;
    if (!PyArg_ParseTuple(args, "iUny*Unn:stat_changed_packed", &dir_fd, &ids_obj, &width,
                          &sigs, &suffix_obj, &start, &stop))
        return NULL;
    PyObject *changed = NULL;
    Py_ssize_t *found = NULL;  /* positions of the changed rows */
    Py_ssize_t ids_len, suffix_len;
    const char *ids = PyUnicode_AsUTF8AndSize(ids_obj, &ids_len);
    const char *suffix = PyUnicode_AsUTF8AndSize(suffix_obj, &suffix_len);
    if (ids == NULL || suffix == NULL)
        goto done;
    Py_ssize_t stride = width + 1;  /* an id and its separator */
    Py_ssize_t n = width > 0 ? ids_len / stride : 0;
    if (!PyUnicode_IS_ASCII(ids_obj) || width <= 0 || ids_len != n * stride
            || sigs.len != n * 24 || start < 0 || stop < start || stop > n) {
        PyErr_SetString(PyExc_ValueError, "packed ids and signatures do not fit together");
        goto done;
    }
    /* only the rows examined: the threads of one check each take a few rows of one text,
       and a scan of all of it per call cost more than their lookups' user time */
    if (memchr(ids + start * stride, '\0', (size_t)((stop - start) * stride)) != NULL
            || memchr(suffix, '\0', suffix_len) != NULL) {
        PyErr_SetString(PyExc_ValueError, "embedded null byte");
        goto done;
    }
    found = PyMem_RawMalloc(sizeof(Py_ssize_t) * (size_t)(stop - start + 1));
    if (found == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t nfound = 0, failed_at = -1;
    int failed_errno = 0;
    char path[PATH_MAX_LEN];
    const unsigned char *packed = sigs.buf;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = start; i < stop; i++) {
        if ((size_t)width + suffix_len + 1 > PATH_MAX_LEN) {  /* as the kernel would say */
            failed_at = i;
            failed_errno = ENAMETOOLONG;
            break;
        }
        memcpy(path, ids + i * stride, width);
        memcpy(path + width, suffix, suffix_len);
        path[width + suffix_len] = '\0';
        long long v[3];
        memcpy(v, packed + i * 24, 24);  /* the buffer need not be aligned */
        struct stat st;
        int differs;
        if (fstatat(dir_fd, path, &st, 0) != 0) {
            if (errno != ENOENT && errno != ENOTDIR) {
                failed_at = i;
                failed_errno = errno;
                break;
            }
            differs = v[1] != -1;
        } else {
            Sig sig = {SIG_VALUE, v[0], v[1], (unsigned long long)v[2]};
            differs = v[1] == -1 || !sig_matches(&sig, &st);
        }
        if (differs)
            found[nfound++] = i;
    }
    Py_END_ALLOW_THREADS
    if (failed_at >= 0) {
        size_t len = (size_t)width < PATH_MAX_LEN - 1 ? (size_t)width : PATH_MAX_LEN - 1;
        memcpy(path, ids + failed_at * stride, len);
        path[len] = '\0';
        PyObject *name = PyUnicode_FromFormat("%s%U", path, suffix_obj);
        if (name != NULL) {
            errno = failed_errno;
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, name);
            Py_DECREF(name);
        }
        goto done;
    }
    changed = PyList_New(nfound);
    if (changed == NULL)
        goto done;
    for (Py_ssize_t k = 0; k < nfound; k++) {
        PyObject *id = PyUnicode_FromStringAndSize(ids + found[k] * stride, width);
        if (id == NULL) {
            Py_CLEAR(changed);
            goto done;
        }
        PyList_SET_ITEM(changed, k, id);
    }
done:
    PyMem_RawFree(found);
    PyBuffer_Release(&sigs);
    return changed;
}

PyDoc_STRVAR(regular_files_doc,
"regular_files(dir_fd, names, suffix) -> list\n\n"
"Per name (a str), whether name + suffix is a regular file (symbolic links followed),\n"
"relative to the directory open as dir_fd (None: the working directory; absolute paths\n"
"ignore it), as os.path.isfile says: False for any error, a NUL in the path included.\n"
"Reference: suite.flow.scan.regular_files_python. Raises TypeError for a name that is not\n"
"a str. Releases the interpreter lock while it waits for the system calls.");

static PyObject *
regular_files(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *dir_obj, *names, *suffix_obj;
    if (!PyArg_ParseTuple(args, "OOU:regular_files", &dir_obj, &names, &suffix_obj))
        return NULL;
    int dir_fd = AT_FDCWD;
    if (dir_obj != Py_None) {
        long fd = PyLong_AsLong(dir_obj);
        if (fd == -1 && PyErr_Occurred())
            return NULL;
        if (fd < INT_MIN || fd > INT_MAX) {
            PyErr_SetString(PyExc_OverflowError, "dir_fd out of range");
            return NULL;
        }
        dir_fd = (int)fd;
    }
    Py_ssize_t suffix_len;
    PyObject *suffix_owner;
    const char *suffix = fs_text(suffix_obj, &suffix_len, &suffix_owner);
    if (suffix == NULL)
        return NULL;
    int suffix_nul = memchr(suffix, '\0', suffix_len) != NULL;
    PyObject *seq = PySequence_Tuple(names);  /* cannot change while the lock is released */
    PyObject *out = seq == NULL ? NULL : PyList_New(PyTuple_GET_SIZE(seq));
    if (out == NULL) {
        Py_XDECREF(seq);
        Py_XDECREF(suffix_owner);
        return NULL;
    }
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    Paths paths = {0};
    unsigned char usable[BLOCK], is_file[BLOCK];
    for (Py_ssize_t base = 0; base < n; base += paths.count) {
        paths.text.len = 0;
        paths.count = 0;
        while (paths.count < BLOCK && base + paths.count < n) {
            PyObject *owner;
            Py_ssize_t len;
            const char *text = fs_text(PyTuple_GET_ITEM(seq, base + paths.count), &len, &owner);
            if (text == NULL)
                goto fail;
            int k = paths.count;
            /* os.stat refuses a NUL (ValueError); the kernel a path of PATH_MAX bytes or more */
            usable[k] = !suffix_nul && (size_t)len + suffix_len < PATH_MAX_LEN
                && memchr(text, '\0', len) == NULL;
            int err = paths_add(&paths, usable[k] ? text : "", usable[k] ? len : 0,
                                usable[k] ? suffix : "", usable[k] ? suffix_len : 0);
            Py_XDECREF(owner);
            if (err != 0)
                goto fail;
        }
        int count = paths.count;
        Py_BEGIN_ALLOW_THREADS
        for (int k = 0; k < count; k++) {
            struct stat st;
            is_file[k] = usable[k] && fstatat(dir_fd, paths.text.data + paths.start[k], &st, 0) == 0
                && S_ISREG(st.st_mode);
        }
        Py_END_ALLOW_THREADS
        for (int k = 0; k < count; k++) {
            PyObject *value = is_file[k] ? Py_True : Py_False;
            Py_INCREF(value);
            PyList_SET_ITEM(out, base + k, value);
        }
    }
    growbuf_free(&paths.text);
    Py_DECREF(seq);
    Py_XDECREF(suffix_owner);
    return out;
fail:
    growbuf_free(&paths.text);
    Py_DECREF(seq);
    Py_DECREF(out);  /* items not yet set are NULL: freed safely */
    Py_XDECREF(suffix_owner);
    return NULL;
}

/* One directory entry as scan_dir found it (the name is owned by the entry). */
struct found {
    char *name;
    struct stat st;
};

static void
free_found(struct found *items, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(items[i].name);
    free(items);
}

/* what add_found (a dir_each callback) fills in */
struct reading {
    int fd;                /* the directory */
    struct found *items;
    size_t count, cap;
    char *failed;          /* the entry whose lstat failed (owned), or NULL */
};

/* lstat name and keep it; 0, or an errno value */
static int
add_found(void *ctx, const char *name, unsigned char d_type)
{
    (void)d_type;
    struct reading *r = ctx;
    struct stat st;
    if (fstatat(r->fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
        if (errno == ENOENT)  /* removed while we looked: not there */
            return 0;
        int err = errno;
        r->failed = strdup(name);
        return err;
    }
    struct found *grown = array_room(r->items, r->count, &r->cap, sizeof *grown);
    if (grown == NULL)
        return ENOMEM;
    r->items = grown;
    if ((r->items[r->count].name = strdup(name)) == NULL)
        return ENOMEM;
    r->items[r->count++].st = st;
    return 0;
}

/* O_NOATIME until the kernel refuses it (another owner's directory): see quietopen.h */
static int scan_noatime = O_NOATIME;

/* Read the directory and lstat its entries without the GIL (other threads, e.g. paramiko's,
 * run meanwhile); the directory is opened without moving its access time (a listing is no
 * use of it). Returns 0, or an errno value with *failed naming what failed: NULL for the
 * directory itself, else the entry (owned by the caller). */
static int
read_entries(const char *path, struct found **out, size_t *count, char **failed)
{
    struct reading r = {open_quietly(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC,
                                     &scan_noatime), NULL, 0, 0, NULL};
    *out = NULL;
    *count = 0;
    *failed = NULL;
    if (r.fd < 0)
        return errno;
    int err = dir_each(r.fd, add_found, &r);
    close(r.fd);
    *out = r.items;
    *count = r.count;
    *failed = r.failed;
    return err;
}

static PyObject *
ns(const struct timespec *t)
{
    return PyLong_FromLongLong((long long)t->tv_sec * 1000000000LL + t->tv_nsec);
}

PyDoc_STRVAR(scan_dir_doc,
"scan_dir(path) -> list\n\n"
"The entries of the directory path (a str; not . and ..), in the order the file system\n"
"lists them, as tuples (name, st_mode, st_size, st_mtime_ns, st_ctime_ns, st_ino) of an\n"
"lstat (links are not followed); an entry removed while listed is left out. Reference:\n"
"suite.dirscan.scan_dir_python. Raises FileNotFoundError, NotADirectoryError,\n"
"PermissionError or another OSError naming the directory or the entry.");

static PyObject *
scan_dir(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *path, *encoded;
    if (!PyArg_ParseTuple(args, "U:scan_dir", &path))
        return NULL;
    if (!PyUnicode_FSConverter(path, &encoded))
        return NULL;
    struct found *items;
    size_t count;
    char *failed;
    int err;
    Py_BEGIN_ALLOW_THREADS
    err = read_entries(PyBytes_AS_STRING(encoded), &items, &count, &failed);
    Py_END_ALLOW_THREADS
    Py_DECREF(encoded);
    PyObject *result = NULL;
    if (err != 0) {
        set_os_error(err, path, failed);
        goto done;
    }
    result = PyList_New((Py_ssize_t)count);
    if (result == NULL)
        goto done;
    for (size_t i = 0; i < count; i++) {
        const struct stat *st = &items[i].st;
        PyObject *t = Py_BuildValue("(NIKNNK)",
            PyUnicode_DecodeFSDefault(items[i].name), (unsigned int)st->st_mode,
            (unsigned long long)st->st_size, ns(&st->st_mtim), ns(&st->st_ctim),
            (unsigned long long)st->st_ino);
        if (t == NULL) {
            Py_CLEAR(result);
            goto done;
        }
        PyList_SET_ITEM(result, (Py_ssize_t)i, t);
    }
done:
    free_found(items, count);
    free(failed);
    return result;
}

static PyMethodDef methods[] = {
    {"stat_changed", stat_changed, METH_VARARGS, stat_changed_doc},
    {"stat_changed_packed", stat_changed_packed, METH_VARARGS, stat_changed_packed_doc},
    {"regular_files", regular_files, METH_VARARGS, regular_files_doc},
    {"scan_dir", scan_dir, METH_VARARGS, scan_dir_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "suite._fsstat",
    .m_doc = "File-system loops of suite in C (optional; see suite/native.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__fsstat(void)
{
    return PyModule_Create(&module);
}
