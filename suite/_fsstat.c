/* suite._fsstat: per-file system-call loops of suite in C.
 *
 * Optional: suite/native.py loads it when it was built, and every function here has a
 * pure-Python reference (named in its docstring) that the tests compare it with. A Python
 * loop of stat calls costs ~2.6 us a file on this project's machines, the system call itself
 * ~1 us: the difference is the interpreter (the call, the stat_result object, the compare).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PATH_MAX_LEN 4096

static int
signature_matches(PyObject *sig, const struct stat *st)
{
    /* sig: a tuple or list (mtime_ns, size, inode) of ints; anything else never matches */
    if (!(PyTuple_Check(sig) || PyList_Check(sig)) || PySequence_Fast_GET_SIZE(sig) != 3)
        return 0;
    long long want[3];
    for (int i = 0; i < 3; i++) {
        int overflow = 0;
        want[i] = PyLong_AsLongLongAndOverflow(PySequence_Fast_GET_ITEM(sig, i), &overflow);
        if (overflow || (want[i] == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return 0;
        }
    }
    long long mtime_ns = (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec;
    return want[0] == mtime_ns && want[1] == (long long)st->st_size
        && want[2] == (long long)st->st_ino;
}

PyDoc_STRVAR(stat_changed_doc,
"stat_changed(dir_fd, rows, suffix) -> list\n\n"
"The ids among rows, pairs (id, signature or None), whose file dir_fd/id/suffix has another\n"
"(mtime_ns, size, inode) than the signature, appeared, or is gone. Reference:\n"
"suite.index.freshness.stat_changed_python. Raises OSError (with the path) for any error\n"
"but a missing file or directory, TypeError for rows of another shape.");

static PyObject *
stat_changed(PyObject *self, PyObject *args)
{
    (void)self;
    int dir_fd;
    PyObject *rows;
    const char *suffix;
    Py_ssize_t suffix_len;
    if (!PyArg_ParseTuple(args, "iOs#:stat_changed", &dir_fd, &rows, &suffix, &suffix_len))
        return NULL;
    PyObject *seq = PySequence_Fast(rows, "rows must be a sequence");
    if (seq == NULL)
        return NULL;
    PyObject *changed = PyList_New(0);
    if (changed == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    char path[PATH_MAX_LEN];
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *row = items[i];
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) != 2) {
            PyErr_SetString(PyExc_TypeError, "rows must be (id, signature) tuples");
            goto fail;
        }
        PyObject *id = PyTuple_GET_ITEM(row, 0), *sig = PyTuple_GET_ITEM(row, 1);
        Py_ssize_t id_len;
        const char *id_text = PyUnicode_AsUTF8AndSize(id, &id_len);
        if (id_text == NULL)
            goto fail;
        if (id_len + suffix_len + 1 > PATH_MAX_LEN) {  /* as the kernel would say */
            errno = ENAMETOOLONG;
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, id);
            goto fail;
        }
        memcpy(path, id_text, id_len);
        memcpy(path + id_len, suffix, suffix_len);
        path[id_len + suffix_len] = '\0';
        struct stat st;
        int missing = 0;
        if (fstatat(dir_fd, path, &st, 0) != 0) {
            if (errno != ENOENT && errno != ENOTDIR) {
                PyErr_SetFromErrnoWithFilename(PyExc_OSError, path);
                goto fail;
            }
            missing = 1;
        }
        int same = missing ? sig == Py_None : (sig != Py_None && signature_matches(sig, &st));
        if (!same && PyList_Append(changed, id) != 0)
            goto fail;
    }
    Py_DECREF(seq);
    return changed;
fail:
    Py_DECREF(seq);
    Py_DECREF(changed);
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

/* Read the directory and lstat its entries without the GIL (other threads, e.g. paramiko's,
 * run meanwhile). Returns 0, or an errno value with *failed naming what failed: NULL for the
 * directory itself, else the entry (owned by the caller). */
static int
read_entries(const char *path, struct found **out, size_t *count, char **failed)
{
    *out = NULL;
    *count = 0;
    *failed = NULL;
    DIR *dir = opendir(path);
    if (dir == NULL)
        return errno;
    int fd = dirfd(dir), err = 0;
    size_t cap = 0;
    struct found *items = NULL;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(dir);
        if (e == NULL) {
            err = errno;
            break;
        }
        const char *name = e->d_name;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
            continue;
        struct stat st;
        if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)  /* removed while we looked: not there */
                continue;
            err = errno;
            *failed = strdup(name);
            break;
        }
        if (*count == cap) {
            size_t more = cap ? cap * 2 : 16;
            struct found *grown = realloc(items, more * sizeof *items);
            if (grown == NULL) {
                err = ENOMEM;
                break;
            }
            items = grown;
            cap = more;
        }
        items[*count].name = strdup(name);
        if (items[*count].name == NULL) {
            err = ENOMEM;
            break;
        }
        items[*count].st = st;
        (*count)++;
    }
    closedir(dir);
    *out = items;
    return err;
}

static PyObject *
ns(const struct timespec *t)
{
    return PyLong_FromLongLong((long long)t->tv_sec * 1000000000LL + t->tv_nsec);
}

/* The OSError for errno err at path/name (name NULL: at path), filename as os.scandir and
 * DirEntry.stat give it: the text the caller passed, joined with "/" to the entry's name. */
static void
set_error(int err, PyObject *path, const char *name)
{
    errno = err;
    if (err == ENOMEM) {
        PyErr_NoMemory();
        return;
    }
    if (name == NULL) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
        return;
    }
    PyObject *decoded = PyUnicode_DecodeFSDefault(name);
    if (decoded == NULL)
        return;
    Py_ssize_t n = PyUnicode_GET_LENGTH(path);
    int slash = n > 0 && PyUnicode_READ_CHAR(path, n - 1) == '/';
    PyObject *where = PyUnicode_FromFormat(slash ? "%U%U" : "%U/%U", path, decoded);
    Py_DECREF(decoded);
    if (where != NULL) {
        errno = err;
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, where);
        Py_DECREF(where);
    }
}

PyDoc_STRVAR(scan_dir_doc,
"scan_dir(path) -> list\n\n"
"The entries of the directory path (a str; not . and ..), in the order the file system\n"
"lists them, as tuples (name, st_mode, st_size, st_mtime_ns, st_ctime_ns, st_ino) of an\n"
"lstat (links are not followed); an entry removed while listed is left out. Reference:\n"
"suite.dirscan.scan_dir_python. Raises FileNotFoundError, NotADirectoryError,\n"
"PermissionError or another OSError naming the directory or the entry.");

static PyObject *
scan_dir(PyObject *self, PyObject *args)
{
    (void)self;
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
        set_error(err, path, failed);
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
    {"scan_dir", scan_dir, METH_VARARGS, scan_dir_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "suite._fsstat",
    "File-system loops of suite in C (optional; see suite/native.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__fsstat(void)
{
    return PyModule_Create(&module);
}
