/* suite.index._readmany: reading many small job files under one directory in C.
 *
 * Optional: suite/native.py loads it when it was built; the pure-Python reference is
 * suite.index.reading.read_at_python, and the tests compare the two. Building an index reads
 * two small files per job; in Python each costs an open, an fstat, two reads and a close plus
 * the interpreter's work around them (~12 us a file on this project's machines). Here the
 * system calls of a whole batch run without the GIL (another thread may read a batch meanwhile)
 * and one read suffices when the file ends before the buffer does.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "quietopen.h"

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

enum { R_OK_ = 0, R_MISSING, R_OPEN_ERROR, R_TOO_BIG, R_READ_ERROR };

typedef struct {
    char *path;        /* name + suffix, relative to the directory */
    int status;        /* R_* */
    int error;         /* errno of R_OPEN_ERROR and R_READ_ERROR */
    char *data;        /* R_OK_: the bytes read (malloc'ed) */
    Py_ssize_t size;
    struct stat st;    /* R_OK_ and R_TOO_BIG, where stat'ed */
} item;

/* do_stat: whether the file is stat'ed (for a signature or a limit); without, the read starts
 * with a buffer of 4 KiB that doubles while reads fill it */
static void
read_one(int dir_fd, item *it, int do_stat, int has_limit, long long limit, int *noatime)
{
    /* O_NONBLOCK: a fifo under a job file's name must not hang the reader */
    int fd = open_quietly(dir_fd, it->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK, noatime);
    if (fd < 0) {
        it->error = errno;
        it->status = (errno == ENOENT || errno == ENOTDIR) ? R_MISSING : R_OPEN_ERROR;
        return;
    }
    size_t cap = 4096, used = 0;
    if (do_stat) {
        if (fstat(fd, &it->st) != 0) {
            it->error = errno;
            it->status = R_READ_ERROR;
            close(fd);
            return;
        }
        if (has_limit && (long long)it->st.st_size > limit) {
            it->status = R_TOO_BIG;
            close(fd);
            return;
        }
        /* one byte more than the size: a read that returns less has met the end of the
         * file */
        if ((size_t)it->st.st_size + 1 > cap)
            cap = (size_t)it->st.st_size + 1;
    }
    char *buf = malloc(cap);
    if (buf == NULL) {
        it->error = ENOMEM;
        it->status = R_READ_ERROR;
        close(fd);
        return;
    }
    for (;;) {
        ssize_t n = read(fd, buf + used, cap - used);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            it->error = errno;
            it->status = R_READ_ERROR;
            free(buf);
            close(fd);
            return;
        }
        if (n == 0)
            break;
        used += (size_t)n;
        if (used < cap)
            break;  /* short read of a regular file: its end */
        if (cap > (size_t)PY_SSIZE_T_MAX / 2) {  /* the file grows without end */
            it->error = EFBIG;
            it->status = R_READ_ERROR;
            free(buf);
            close(fd);
            return;
        }
        char *bigger = realloc(buf, cap * 2);  /* the file grew since the fstat, or none */
        if (bigger == NULL) {
            it->error = ENOMEM;
            it->status = R_READ_ERROR;
            free(buf);
            close(fd);
            return;
        }
        buf = bigger;
        cap *= 2;
    }
    close(fd);
    it->data = buf;
    it->size = (Py_ssize_t)used;
    it->status = R_OK_;
}

static PyObject *
signature(const struct stat *st)
{
    /* "mtime_ns:size:inode", as f"{s.st_mtime_ns}:{s.st_size}:{s.st_ino}" gives it */
    long long sec = (long long)st->st_mtim.tv_sec, nsec = st->st_mtim.tv_nsec;
    if (sec > -9000000000LL && sec < 9000000000LL) {  /* no overflow in nanoseconds */
        char text[96];
        snprintf(text, sizeof text, "%lld:%lld:%llu", sec * 1000000000LL + nsec,
                 (long long)st->st_size, (unsigned long long)st->st_ino);
        return PyUnicode_FromString(text);
    }
    PyObject *s = PyLong_FromLongLong(sec), *g = PyLong_FromLongLong(1000000000LL);
    PyObject *n = PyLong_FromLongLong(nsec), *prod = NULL, *ns = NULL, *out = NULL;
    if (s && g && n && (prod = PyNumber_Multiply(s, g)) && (ns = PyNumber_Add(prod, n)))
        out = PyUnicode_FromFormat("%S:%lld:%llu", ns, (long long)st->st_size,
                                   (unsigned long long)st->st_ino);
    Py_XDECREF(s);
    Py_XDECREF(g);
    Py_XDECREF(n);
    Py_XDECREF(prod);
    Py_XDECREF(ns);
    return out;
}

static PyObject *
os_error(int error, PyObject *prefix, PyObject *name, PyObject *suffix)
{
    /* the OSError (subclass by errno) os.open would raise for prefix/name+suffix */
    PyObject *path = PyUnicode_FromFormat("%U/%U%U", prefix, name, suffix);
    if (path == NULL)
        return NULL;
    PyObject *args = Py_BuildValue("(isO)", error, strerror(error), path);
    Py_DECREF(path);
    if (args == NULL)
        return NULL;
    PyObject *exc = PyObject_Call(PyExc_OSError, args, NULL);
    Py_DECREF(args);
    return exc;
}

static PyObject *
result_of(item *it, PyObject *prefix, PyObject *name, PyObject *suffix, PyObject *too_big,
          int signed_)
{
    PyObject *data = NULL, *sig = NULL;
    switch (it->status) {
    case R_OK_:
        data = PyBytes_FromStringAndSize(it->data, it->size);
        sig = signed_ ? signature(&it->st) : Py_NewRef(Py_None);
        break;
    case R_MISSING:
        data = Py_NewRef(Py_None);
        sig = signed_ ? PyUnicode_FromString("none") : Py_NewRef(Py_None);
        break;
    case R_TOO_BIG:
        data = Py_NewRef(too_big);
        sig = signed_ ? signature(&it->st) : Py_NewRef(Py_None);
        break;
    default:
        data = os_error(it->error, prefix, name, suffix);
        sig = signed_ ? PyUnicode_FromString("none") : Py_NewRef(Py_None);
    }
    if (data == NULL || sig == NULL) {
        Py_XDECREF(data);
        Py_XDECREF(sig);
        return NULL;
    }
    PyObject *pair = PyTuple_Pack(2, data, sig);
    Py_DECREF(data);
    Py_DECREF(sig);
    return pair;
}

PyDoc_STRVAR(read_at_doc,
"read_at(dir_fd, names, suffix, limit, prefix, too_big, signed=True) -> list\n\n"
"(bytes, signature) of the file dir_fd/name+suffix for each name: the signature is\n"
"'mtime_ns:size:inode'; (None, 'none') where the file or its directory is missing;\n"
"(too_big, signature) for a file larger than limit bytes (None: no limit); (OSError, 'none')\n"
"where it cannot be opened or read, the error naming prefix/name+suffix. signed false: every\n"
"signature is None, and with no limit the files are not stat'ed. Reference:\n"
"suite.index.reading.read_at_python. Raises TypeError for names that are not strings and\n"
"ValueError for a name or suffix with a NUL.");

static PyObject *
read_at(PyObject *self, PyObject *args)
{
    (void)self;
    int dir_fd;
    PyObject *names, *suffix, *limit_obj, *prefix, *too_big;
    int signed_ = 1;
    if (!PyArg_ParseTuple(args, "iOUOUO|p:read_at", &dir_fd, &names, &suffix, &limit_obj,
                          &prefix, &too_big, &signed_))
        return NULL;
    int has_limit = 0;
    long long limit = 0;
    if (limit_obj != Py_None) {
        int overflow = 0;
        limit = PyLong_AsLongLongAndOverflow(limit_obj, &overflow);
        if (limit == -1 && PyErr_Occurred())
            return NULL;
        has_limit = overflow <= 0;  /* past 64 bits: beyond any file's size */
        if (overflow < 0)
            limit = LLONG_MIN;  /* below any size: every file is too big */
    }
    PyObject *seq = PySequence_Fast(names, "names must be a sequence");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **objs = PySequence_Fast_ITEMS(seq);
    PyObject *out = NULL, *suffix_b = PyUnicode_EncodeFSDefault(suffix);
    item *items = PyMem_Calloc(n > 0 ? (size_t)n : 1, sizeof(item));
    Py_ssize_t made = 0;
    if (suffix_b == NULL || items == NULL) {
        if (items == NULL)
            PyErr_NoMemory();
        goto done;
    }
    const char *sfx = PyBytes_AS_STRING(suffix_b);
    Py_ssize_t sfx_len = PyBytes_GET_SIZE(suffix_b);
    if ((Py_ssize_t)strlen(sfx) != sfx_len) {
        PyErr_SetString(PyExc_ValueError, "embedded null byte in suffix");
        goto done;
    }
    for (; made < n; made++) {
        if (!PyUnicode_Check(objs[made])) {
            PyErr_SetString(PyExc_TypeError, "names must be strings");
            goto done;
        }
        PyObject *b = PyUnicode_EncodeFSDefault(objs[made]);
        if (b == NULL)
            goto done;
        Py_ssize_t len = PyBytes_GET_SIZE(b);
        if ((Py_ssize_t)strlen(PyBytes_AS_STRING(b)) != len) {
            Py_DECREF(b);
            PyErr_SetString(PyExc_ValueError, "embedded null byte in name");
            goto done;
        }
        char *path = PyMem_Malloc((size_t)(len + sfx_len + 1));
        if (path == NULL) {
            Py_DECREF(b);
            PyErr_NoMemory();
            goto done;
        }
        memcpy(path, PyBytes_AS_STRING(b), (size_t)len);
        memcpy(path + len, sfx, (size_t)sfx_len + 1);
        Py_DECREF(b);
        items[made].path = path;
    }
    /* the names are held by seq; the system calls need no Python object */
    Py_BEGIN_ALLOW_THREADS
    int noatime = O_NOATIME, do_stat = signed_ || has_limit;
    for (Py_ssize_t i = 0; i < n; i++)
        read_one(dir_fd, &items[i], do_stat, has_limit, limit, &noatime);
    Py_END_ALLOW_THREADS
    out = PyList_New(n);
    if (out == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *pair = result_of(&items[i], prefix, objs[i], suffix, too_big, signed_);
        if (pair == NULL) {
            Py_CLEAR(out);
            goto done;
        }
        PyList_SET_ITEM(out, i, pair);
    }
done:
    if (items != NULL) {
        for (Py_ssize_t i = 0; i < made; i++) {
            PyMem_Free(items[i].path);
            free(items[i].data);
        }
        PyMem_Free(items);
    }
    Py_XDECREF(suffix_b);
    Py_DECREF(seq);
    return out;
}

static PyMethodDef methods[] = {
    {"read_at", read_at, METH_VARARGS, read_at_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "suite.index._readmany",
    "Reading many small job files in C (optional; see suite/native.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__readmany(void)
{
    return PyModule_Create(&module);
}
