/* sync._readfiles: a job's small files read for a sync in one call.
 *
 * Optional: suite/native.py loads it when it was built; the pure-Python reference is
 * sync.readfiles.read_files_python, and the tests compare the two. A first push reads every
 * small file of every job here, a first pull makes the far side read them: in Python each is
 * an open, an fstat, a read and a close with the interpreter's work around them. Here the
 * system calls of a whole batch run without the GIL (the caller's other thread decodes or
 * lands meanwhile).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pyfs.h"

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

/* never through a link; a fifo is opened without waiting for a writer */
#define READ_FLAGS (O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)

enum { F_OK_ = 0, F_NOT_REGULAR, F_ERROR };

typedef struct {
    const char *path;
    char *data;        /* F_OK_: the bytes read (PyMem_Raw) */
    size_t size;
    long long sec, nsec;
} item;

/* Read one file: F_OK_, F_NOT_REGULAR, or F_ERROR with *err set. No GIL needed. */
static int
read_one(item *it, int *err)
{
    int fd;
    do {
        fd = open(it->path, READ_FLAGS);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        *err = errno;
        return F_ERROR;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        *err = errno;
        close(fd);
        return F_ERROR;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return F_NOT_REGULAR;
    }
    /* the time before the content: a write in between makes the record look older than the
     * copy (synced again), never newer. One byte more than the size: a read that returns less
     * has met the end of the file (one grown meanwhile is read on) */
    it->sec = (long long)st.st_mtim.tv_sec;
    it->nsec = (long long)st.st_mtim.tv_nsec;
    size_t cap = (size_t)st.st_size + 1, used = 0;
    char *buf = PyMem_RawMalloc(cap);
    if (buf == NULL) {
        *err = ENOMEM;
        close(fd);
        return F_ERROR;
    }
    for (;;) {
        ssize_t n = read(fd, buf + used, cap - used);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            *err = errno;
            PyMem_RawFree(buf);
            close(fd);
            return F_ERROR;
        }
        used += (size_t)n;
        if (used < cap)
            break;  /* a short read of a regular file (or none): its end */
        if (cap > (size_t)PY_SSIZE_T_MAX / 2) {  /* the file grows without end */
            *err = EFBIG;
            PyMem_RawFree(buf);
            close(fd);
            return F_ERROR;
        }
        char *bigger = PyMem_RawRealloc(buf, cap * 2);
        if (bigger == NULL) {
            *err = ENOMEM;
            PyMem_RawFree(buf);
            close(fd);
            return F_ERROR;
        }
        buf = bigger;
        cap *= 2;
    }
    close(fd);
    it->data = buf;
    it->size = used;
    return F_OK_;
}

static PyObject *
mtime_ns(long long sec, long long nsec)
{
    if (sec > -9000000000LL && sec < 9000000000LL)  /* no overflow in nanoseconds */
        return PyLong_FromLongLong(sec * 1000000000LL + nsec);
    PyObject *s = PyLong_FromLongLong(sec), *g = PyLong_FromLongLong(1000000000LL);
    PyObject *n = PyLong_FromLongLong(nsec), *prod = NULL, *out = NULL;
    if (s && g && n && (prod = PyNumber_Multiply(s, g)))
        out = PyNumber_Add(prod, n);
    Py_XDECREF(s);
    Py_XDECREF(g);
    Py_XDECREF(n);
    Py_XDECREF(prod);
    return out;
}

PyDoc_STRVAR(read_files_doc,
"read_files(paths) -> list\n\n"
"(bytes, mtime_ns) of each regular file of paths (a list of str), in order, each opened\n"
"without following a link (O_NOFOLLOW) or waiting for a fifo's writer. At the first path\n"
"that is not a regular file, None ends the (shorter) list; the first that cannot be opened\n"
"or read raises its OSError naming the path (nothing is returned). Reference:\n"
"sync.readfiles.read_files_python. Raises TypeError for a path that is not a str (before\n"
"any file is read) and ValueError for one with a NUL.");

static PyObject *
read_files(PyObject *self, PyObject *arg)
{
    (void)self;
    if (!PyList_Check(arg)) {
        PyErr_Format(PyExc_TypeError, "read_files: paths must be a list, not %.100s",
                     Py_TYPE(arg)->tp_name);
        return NULL;
    }
    /* a new reference: the list may not change under the loop below */
    PyObject *paths = PyList_GetSlice(arg, 0, PyList_GET_SIZE(arg));
    if (paths == NULL)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(paths), done = 0, i;
    int status = F_OK_, err = 0;
    PyObject **owners = PyMem_Calloc(n > 0 ? (size_t)n : 1, sizeof(PyObject *));
    item *items = PyMem_Calloc(n > 0 ? (size_t)n : 1, sizeof(item));
    PyObject *out = NULL;
    if (owners == NULL || items == NULL) {
        PyErr_NoMemory();
        goto end;
    }
    for (i = 0; i < n; i++) {
        PyObject *path = PyList_GET_ITEM(paths, i);
        if (!PyUnicode_Check(path)) {
            PyErr_Format(PyExc_TypeError, "read_files: paths must be strs, not %.100s",
                         Py_TYPE(path)->tp_name);
            goto end;
        }
        Py_ssize_t len;
        items[i].path = fs_text(path, &len, &owners[i]);
        if (items[i].path == NULL)
            goto end;
        if ((Py_ssize_t)strlen(items[i].path) != len) {
            PyErr_SetString(PyExc_ValueError, "read_files: embedded null byte");
            goto end;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    for (done = 0; done < n; done++) {
        status = read_one(&items[done], &err);
        if (status != F_OK_)
            break;
    }
    Py_END_ALLOW_THREADS
    if (status == F_ERROR) {
        set_os_error(err, PyList_GET_ITEM(paths, done), NULL);
        goto end;
    }
    out = PyList_New(done + (status == F_NOT_REGULAR));
    if (out == NULL)
        goto end;
    for (i = 0; i < done; i++) {
        PyObject *data = PyBytes_FromStringAndSize(items[i].data, (Py_ssize_t)items[i].size);
        PyObject *mtime = data ? mtime_ns(items[i].sec, items[i].nsec) : NULL;
        PyObject *pair = mtime ? PyTuple_Pack(2, data, mtime) : NULL;
        Py_XDECREF(data);
        Py_XDECREF(mtime);
        if (pair == NULL) {
            Py_CLEAR(out);
            goto end;
        }
        PyList_SET_ITEM(out, i, pair);
    }
    if (status == F_NOT_REGULAR)
        PyList_SET_ITEM(out, done, Py_NewRef(Py_None));
end:
    if (items != NULL) {
        for (i = 0; i < n; i++)
            PyMem_RawFree(items[i].data);
    }
    if (owners != NULL) {
        for (i = 0; i < n; i++)
            Py_XDECREF(owners[i]);
    }
    PyMem_Free(items);
    PyMem_Free(owners);
    Py_DECREF(paths);
    return out;
}

static PyMethodDef methods[] = {
    {"read_files", read_files, METH_O, read_files_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "sync._readfiles",
    "A sync's small files read in one call (optional; see suite/native.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__readfiles(void)
{
    return PyModule_Create(&module);
}
