/* sync._listing: the per-job loops of a sync snapshot in C.
 *
 * Optional: sync/listing.py loads it through suite.native.load, and each function here has a
 * pure-Python reference in sync/listing.py (named in its docstring) that
 * tests/sync/test_listing.py compares it with on generated workspaces. A sync with nothing to
 * do lists every job directory on both sides; in Python that is a scandir, a DirEntry and a
 * stat_result per file and a dict per job, about twice the system calls' own cost.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* a job with more files than this is left to Python (listed whole there) */
#define MAX_FILES 64
#define MAX_SKIP 8

struct entry {
    char name[256];
    long long size, mtime_ns;
    unsigned long long ino;
};

/* Read one job directory (ws_fd/name) without the GIL. Returns the number of files kept, or
 * -1 when the job needs Python's listing: anything but readable regular files (a directory,
 * a link, a fifo, a file whose mode bits deny reading to someone), an error, more than
 * MAX_FILES files. */
static int
scan_job(int ws_fd, const char *job, char **skip, int nskip, const char *marker,
         struct entry *out)
{
    int fd = openat(ws_fd, job, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return -1;
    DIR *dir = fdopendir(fd);
    if (dir == NULL) {
        close(fd);
        return -1;
    }
    int count = 0;
    for (;;) {
        errno = 0;
        struct dirent *e = readdir(dir);
        if (e == NULL) {
            if (errno != 0)
                count = -1;
            break;
        }
        const char *name = e->d_name;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
            continue;
        /* a directory (whatever its name) is walked by Python's listing */
        if (e->d_type == DT_DIR) {
            count = -1;
            break;
        }
        int left_out = strstr(name, marker) != NULL;
        for (int i = 0; i < nskip && !left_out; i++)
            left_out = strcmp(name, skip[i]) == 0;
        if (left_out && e->d_type != DT_UNKNOWN)
            continue;
        /* a d_type that is known and not a regular file: Python's listing, without a stat */
        if (!left_out && e->d_type != DT_UNKNOWN && e->d_type != DT_REG) {
            count = -1;
            break;
        }
        struct stat st;
        if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
            if (errno == ENOENT)  /* removed while listed: not there */
                continue;
            count = -1;
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            count = -1;
            break;
        }
        if (left_out)
            continue;
        if (!S_ISREG(st.st_mode) || (st.st_mode & 0444) != 0444 || count == MAX_FILES
                || strlen(name) >= sizeof out[count].name) {
            count = -1;
            break;
        }
        strcpy(out[count].name, name);
        out[count].size = (long long)st.st_size;
        out[count].mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
        out[count].ino = (unsigned long long)st.st_ino;
        count++;
    }
    closedir(dir);
    return count;
}

/* {name: [size, mtime_ns, inode]} of the entries found, or NULL with an exception set */
static PyObject *
files_dict(const struct entry *found, int count)
{
    PyObject *files = PyDict_New();
    if (files == NULL)
        return NULL;
    for (int i = 0; i < count; i++) {
        PyObject *key = PyUnicode_DecodeFSDefault(found[i].name);
        PyObject *state = Py_BuildValue("[LLK]", found[i].size, found[i].mtime_ns, found[i].ino);
        if (key == NULL || state == NULL || PyDict_SetItem(files, key, state) != 0) {
            Py_XDECREF(key);
            Py_XDECREF(state);
            Py_DECREF(files);
            return NULL;
        }
        Py_DECREF(key);
        Py_DECREF(state);
    }
    return files;
}

PyDoc_STRVAR(list_jobs_doc,
"list_jobs(workspace, names, skip, marker) -> (listed, rest)\n\n"
"The files of the job directories workspace/name for each of names (strs): listed is\n"
"{name: {file name: [size, mtime_ns, inode]}} for each job whose entries (leaving out the\n"
"names in skip (a tuple of at most 8 strs) and names containing marker; no directory at\n"
"all) are all regular files that everyone may read (lstat; an entry removed while listed is left out), at most\n"
"64 of them; rest lists, in order, the names of the other jobs (a subdirectory, a link, a\n"
"special or unreadable file, more files, or any error listing it), which the caller lists\n"
"itself. Reference: sync.listing.list_jobs_python. Raises OSError naming workspace when it\n"
"cannot be opened, TypeError or ValueError for arguments of another shape.");

static PyObject *
list_jobs(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *workspace, *names, *skip, *marker, *ws_bytes = NULL, *marker_bytes = NULL;
    PyObject *skip_bytes[MAX_SKIP];
    char *skip_text[MAX_SKIP];
    int nskip = 0;
    if (!PyArg_ParseTuple(args, "UO!O!U:list_jobs", &workspace, &PyList_Type, &names,
                          &PyTuple_Type, &skip, &marker))
        return NULL;
    if (PyTuple_GET_SIZE(skip) > MAX_SKIP) {
        PyErr_SetString(PyExc_ValueError, "list_jobs: at most 8 names to skip");
        return NULL;
    }
    PyObject *listed = NULL, *rest = NULL, *result = NULL;
    int ws_fd = -1;
    for (; nskip < PyTuple_GET_SIZE(skip); nskip++) {
        PyObject *name = PyTuple_GET_ITEM(skip, nskip);
        if (!PyUnicode_Check(name)) {
            PyErr_SetString(PyExc_TypeError, "list_jobs: skip must hold strs");
            goto done;
        }
        if (!PyUnicode_FSConverter(name, &skip_bytes[nskip]))
            goto done;
        skip_text[nskip] = PyBytes_AS_STRING(skip_bytes[nskip]);
    }
    if (!PyUnicode_FSConverter(workspace, &ws_bytes) || !PyUnicode_FSConverter(marker, &marker_bytes))
        goto done;
    const char *marker_text = PyBytes_AS_STRING(marker_bytes);
    if (marker_text[0] == '\0') {
        PyErr_SetString(PyExc_ValueError, "list_jobs: the marker must not be empty");
        goto done;
    }
    Py_BEGIN_ALLOW_THREADS
    ws_fd = open(PyBytes_AS_STRING(ws_bytes), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    Py_END_ALLOW_THREADS
    if (ws_fd < 0) {
        PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, workspace);
        goto done;
    }
    listed = PyDict_New();
    rest = PyList_New(0);
    if (listed == NULL || rest == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(names); i++) {
        PyObject *name = PyList_GET_ITEM(names, i), *encoded;
        if (!PyUnicode_Check(name)) {
            PyErr_SetString(PyExc_TypeError, "list_jobs: names must be strs");
            goto done;
        }
        Py_INCREF(name);  /* the list may change while the GIL is released */
        if (!PyUnicode_FSConverter(name, &encoded)) {
            Py_DECREF(name);
            goto done;
        }
        struct entry local[MAX_FILES];
        int count;
        const char *job = PyBytes_AS_STRING(encoded);
        /* a name with a slash or NUL would reach past the workspace: Python's listing */
        if (strchr(job, '/') != NULL || (Py_ssize_t)strlen(job) != PyBytes_GET_SIZE(encoded)
                || job[0] == '\0') {
            count = -1;
        } else {
            Py_BEGIN_ALLOW_THREADS
            count = scan_job(ws_fd, job, skip_text, nskip, marker_text, local);
            Py_END_ALLOW_THREADS
        }
        Py_DECREF(encoded);
        int failed;
        if (count < 0) {
            failed = PyList_Append(rest, name) != 0;
        } else {
            PyObject *files = files_dict(local, count);
            failed = files == NULL || PyDict_SetItem(listed, name, files) != 0;
            Py_XDECREF(files);
        }
        Py_DECREF(name);
        if (failed)
            goto done;
    }
    result = PyTuple_Pack(2, listed, rest);
done:
    if (ws_fd >= 0)
        close(ws_fd);
    Py_XDECREF(listed);
    Py_XDECREF(rest);
    Py_XDECREF(ws_bytes);
    Py_XDECREF(marker_bytes);
    for (int i = 0; i < nskip; i++)
        Py_DECREF(skip_bytes[i]);
    return result;
}

static PyMethodDef methods[] = {
    {"list_jobs", list_jobs, METH_VARARGS, list_jobs_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "sync._listing",
    "A sync snapshot's per-job loops in C (optional; see suite/native.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__listing(void)
{
    return PyModule_Create(&module);
}
