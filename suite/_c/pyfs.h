/* Python <-> file-system helpers shared by the C modules: the bytes of a str as os.stat
 * passes them to the kernel, and the OSError os.scandir / DirEntry.stat would raise for a
 * directory or one of its entries.
 *
 * Kept in one place so that every module names files in its errors the way Python does (the
 * comparison tests check exception type, errno and filename). Include after <Python.h>. */
#ifndef SUITE_C_PYFS_H
#define SUITE_C_PYFS_H

#include <errno.h>

/* The bytes of a str as os.stat passes it to the kernel (UTF-8; lone surrogates as the
 * file-system encoding's surrogateescape gives them). *owner: a bytes object to release
 * after use, or NULL. NULL with an exception set for what os.stat would refuse by type. */
static inline const char *
fs_text(PyObject *name, Py_ssize_t *len, PyObject **owner)
{
    *owner = NULL;
    if (!PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "expected str, not %.100s", Py_TYPE(name)->tp_name);
        return NULL;
    }
    const char *text = PyUnicode_AsUTF8AndSize(name, len);
    if (text != NULL)
        return text;
    PyErr_Clear();
    *owner = PyUnicode_EncodeFSDefault(name);
    if (*owner == NULL)
        return NULL;
    *len = PyBytes_GET_SIZE(*owner);
    return PyBytes_AS_STRING(*owner);
}

/* Set the OSError for errno err at path (a str; name NULL) or at path/name (name: file-system
 * bytes), filename as os.scandir and DirEntry.stat give it: the text the caller passed,
 * joined with "/" to the entry's name. ENOMEM sets MemoryError. */
static inline void
set_os_error(int err, PyObject *path, const char *name)
{
    if (err == ENOMEM) {
        PyErr_NoMemory();
        return;
    }
    if (name == NULL) {
        errno = err;
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

#endif
