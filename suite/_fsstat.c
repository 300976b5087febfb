/* suite._fsstat: per-file system-call loops of suite in C.
 *
 * Optional: suite/native.py loads it when it was built, and every function here has a
 * pure-Python reference (named in its docstring) that the tests compare it with. A Python
 * loop of stat calls costs ~2.6 us a file on this project's machines, the system call itself
 * ~1 us: the difference is the interpreter (the call, the stat_result object, the compare).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>

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
stat_changed(PyObject *Py_UNUSED(self), PyObject *args)
{
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

PyDoc_STRVAR(regular_files_doc,
"regular_files(dir_fd, names, suffix) -> list\n\n"
"Per name (a str), whether name + suffix is a regular file (symbolic links followed),\n"
"relative to the directory open as dir_fd (None: the working directory; absolute paths\n"
"ignore it), as os.path.isfile says: False for any error, a NUL in the path included.\n"
"Reference: suite.flow.scan.regular_files_python. Raises TypeError for a name that is not\n"
"a str.");

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
    /* the file-system encoding (surrogateescape), as os.stat encodes a path */
    PyObject *suffix_bytes = PyUnicode_EncodeFSDefault(suffix_obj);
    if (suffix_bytes == NULL)
        return NULL;
    const char *suffix = PyBytes_AS_STRING(suffix_bytes);
    Py_ssize_t suffix_len = PyBytes_GET_SIZE(suffix_bytes);
    int suffix_nul = memchr(suffix, '\0', suffix_len) != NULL;
    PyObject *seq = PySequence_Fast(names, "names must be a sequence");
    if (seq == NULL) {
        Py_DECREF(suffix_bytes);
        return NULL;
    }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject *out = PyList_New(n);
    if (out == NULL)
        goto fail;
    char path[PATH_MAX_LEN];
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = items[i];
        if (!PyUnicode_Check(name)) {
            PyErr_Format(PyExc_TypeError, "names must be str, not %.100s",
                         Py_TYPE(name)->tp_name);
            goto fail;
        }
        PyObject *encoded = NULL;
        Py_ssize_t len;
        const char *text = PyUnicode_AsUTF8AndSize(name, &len);
        if (text == NULL) {  /* lone surrogates: encoded as os.fsencode does */
            PyErr_Clear();
            encoded = PyUnicode_EncodeFSDefault(name);
            if (encoded == NULL)
                goto fail;
            text = PyBytes_AS_STRING(encoded);
            len = PyBytes_GET_SIZE(encoded);
        }
        int is_file = 0;
        /* a path too long for the buffer is one the kernel refuses (ENAMETOOLONG) */
        if (!suffix_nul && len + suffix_len < PATH_MAX_LEN && memchr(text, '\0', len) == NULL) {
            memcpy(path, text, len);
            memcpy(path + len, suffix, suffix_len);
            path[len + suffix_len] = '\0';
            struct stat st;
            is_file = fstatat(dir_fd, path, &st, 0) == 0 && S_ISREG(st.st_mode);
        }
        Py_XDECREF(encoded);
        PyObject *value = is_file ? Py_True : Py_False;
        Py_INCREF(value);
        PyList_SET_ITEM(out, i, value);
    }
    Py_DECREF(seq);
    Py_DECREF(suffix_bytes);
    return out;
fail:
    Py_XDECREF(out);  /* unfilled items are NULL: freed safely */
    Py_DECREF(seq);
    Py_DECREF(suffix_bytes);
    return NULL;
}

static PyMethodDef methods[] = {
    {"stat_changed", stat_changed, METH_VARARGS, stat_changed_doc},
    {"regular_files", regular_files, METH_VARARGS, regular_files_doc},
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
