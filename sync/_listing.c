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

#include "dirread.h"
#include "quietopen.h"

/* a job with more files than this is left to Python (listed whole there) */
#define MAX_FILES 64
#define MAX_SKIP 8

struct entry {
    char name[256];
    long long size, mtime_ns;
    unsigned long long ino;
};

/* what take (a dir_each callback) reads from and fills in */
struct job_scan {
    int fd;              /* the job directory */
    char **skip;
    int nskip;
    const char *marker;
    struct entry *out;
    int count;           /* entries kept in out */
};

/* One entry of a job directory: 0 to go on (kept in out[count] or left out), -1 when the
 * job needs Python's listing: anything but readable regular files (a directory, a link, a
 * fifo, a file whose mode bits deny reading to someone), an error, more than MAX_FILES. */
static int
take(void *ctx, const char *name, unsigned char d_type)
{
    struct job_scan *js = ctx;
    int fd = js->fd, nskip = js->nskip, *count = &js->count;
    char **skip = js->skip;
    const char *marker = js->marker;
    struct entry *out = js->out;
    /* a directory (whatever its name) is walked by Python's listing */
    if (d_type == DT_DIR)
        return -1;
    int left_out = strstr(name, marker) != NULL;
    for (int i = 0; i < nskip && !left_out; i++)
        left_out = strcmp(name, skip[i]) == 0;
    if (left_out && d_type != DT_UNKNOWN)
        return 0;
    /* a d_type that is known and not a regular file: Python's listing, without a stat */
    if (!left_out && d_type != DT_UNKNOWN && d_type != DT_REG)
        return -1;
    struct stat st;
    if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return errno == ENOENT ? 0 : -1;  /* removed while listed: not there */
    if (S_ISDIR(st.st_mode))
        return -1;
    if (left_out)
        return 0;
    if (!S_ISREG(st.st_mode) || (st.st_mode & 0444) != 0444 || *count == MAX_FILES
            || strlen(name) >= sizeof out[*count].name)
        return -1;
    struct entry *e = &out[(*count)++];
    strcpy(e->name, name);
    e->size = (long long)st.st_size;
    e->mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    e->ino = (unsigned long long)st.st_ino;
    return 0;
}

/* O_NOATIME until the kernel refuses it (another owner's directory): a listing is no use of
 * a job directory, its access time stays (quietopen.h) */
static int list_noatime = O_NOATIME;

/* Read one job directory (ws_fd/job) without the GIL, opened without moving its access
 * time. Returns the number of files kept in out, or -1 when the job needs Python's listing
 * (see take). */
static int
scan_job(int ws_fd, const char *job, char **skip, int nskip, const char *marker,
         struct entry *out)
{
    int fd = open_quietly(ws_fd, job, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW,
                          &list_noatime);
    if (fd < 0)
        return -1;
    struct job_scan js = {fd, skip, nskip, marker, out, 0};
    int failed = dir_each(fd, take, &js);  /* take's -1 or an errno value */
    close(fd);
    return failed ? -1 : js.count;
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

/* the keys of a snapshot's job, made once */
static PyObject *key_files, *key_doc;

/* {"files": files, "doc": docs[name] or a new {}}: a job as a sync snapshot lists it */
static PyObject *
job_entry(PyObject *files, PyObject *docs, PyObject *name)
{
    PyObject *doc = PyDict_GetItemWithError(docs, name);
    if (doc == NULL && PyErr_Occurred())
        return NULL;
    if (doc == NULL)
        doc = PyDict_New();
    else
        Py_INCREF(doc);
    PyObject *entry = doc == NULL ? NULL : PyDict_New();
    if (entry == NULL || PyDict_SetItem(entry, key_files, files) != 0
            || PyDict_SetItem(entry, key_doc, doc) != 0) {
        Py_XDECREF(entry);
        Py_XDECREF(doc);
        return NULL;
    }
    Py_DECREF(doc);
    return entry;
}

PyDoc_STRVAR(list_jobs_doc,
"list_jobs(workspace, names, skip, marker, docs=None) -> (listed, rest)\n\n"
"The files of the job directories workspace/name for each of names (strs): listed is\n"
"{name: {file name: [size, mtime_ns, inode]}} for each job whose entries (leaving out the\n"
"names in skip (a tuple of at most 8 strs) and names containing marker; no directory at\n"
"all) are all regular files that everyone may read (lstat; an entry removed while listed\n"
"is left out), at most 64 of them; rest lists, in order, the names of the other jobs (a\n"
"subdirectory, a link, a special or unreadable file, more files, a name with a slash or a\n"
"NUL, or any error listing it), which the caller lists itself. With docs (a dict),\n"
"listed[name] is {\"files\": those files, \"doc\": docs[name] or a new {} where docs has no\n"
"name}. Reference: sync.listing.list_jobs_python. Raises OSError naming workspace when it\n"
"cannot be opened, TypeError or ValueError for arguments of another shape.");

static PyObject *
list_jobs(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *workspace, *names, *skip, *marker, *docs = Py_None, *ws_bytes = NULL;
    PyObject *marker_bytes = NULL;
    PyObject *skip_bytes[MAX_SKIP];
    char *skip_text[MAX_SKIP];
    int nskip = 0;
    if (!PyArg_ParseTuple(args, "UO!O!U|O:list_jobs", &workspace, &PyList_Type, &names,
                          &PyTuple_Type, &skip, &marker, &docs))
        return NULL;
    if (docs != Py_None && !PyDict_Check(docs)) {
        PyErr_SetString(PyExc_TypeError, "list_jobs: docs must be a dict or None");
        return NULL;
    }
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
    if (!PyUnicode_FSConverter(workspace, &ws_bytes)
            || !PyUnicode_FSConverter(marker, &marker_bytes))
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
        encoded = PyUnicode_EncodeFSDefault(name);  /* a NUL is kept, and refused below */
        if (encoded == NULL) {
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
            if (files != NULL && docs != Py_None) {
                PyObject *entry = job_entry(files, docs, name);
                Py_DECREF(files);
                files = entry;
            }
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
    if (key_files == NULL)
        key_files = PyUnicode_InternFromString("files");
    if (key_doc == NULL)
        key_doc = PyUnicode_InternFromString("doc");
    if (key_files == NULL || key_doc == NULL)
        return NULL;
    return PyModule_Create(&module);
}
