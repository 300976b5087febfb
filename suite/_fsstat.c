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
stat_changed(PyObject *self, PyObject *args)
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

static PyMethodDef methods[] = {
    {"stat_changed", stat_changed, METH_VARARGS, stat_changed_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "suite._fsstat",
    "File-system loops of suite in C (optional; see suite/native.py).", -1, methods,
};

PyMODINIT_FUNC
PyInit__fsstat(void)
{
    return PyModule_Create(&module);
}
