/* sync._landing: a plain job's copy staged in one call, for a local sync's first copy.
 *
 * Optional: sync/landing.py loads it through suite.native.load; stage_copy's pure-Python
 * reference is sync.landing.stage_copy_python, which tests/sync/test_landing.py compares it
 * with on generated jobs, error cases included. Per file it makes the system calls Python
 * made (open, fstat, read, open, write, futimens, close) without the Python around each: a
 * first local sync of 10,000 jobs spent most of its time there.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "growbuf.h"

#define READ_FLAGS (O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
#define NEW_FLAGS (O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC)
/* files below this size go through one read and one write of a stack buffer; larger ones
 * by copy_file_range where the kernel and file systems allow it */
#define SMALL (64 * 1024)

/* what failed: errno and the path it names (NOT_REGULAR: a file that is not regular) */
#define NOT_REGULAR (-1)
struct failure {
    int err;
    char path[PATH_MAX];
};

static int
fail(struct failure *f, int err, const char *path)
{
    f->err = err;
    strncpy(f->path, path, sizeof f->path - 1);
    f->path[sizeof f->path - 1] = '\0';
    return -1;
}

/* dir "/" name into out (PATH_MAX bytes): 0, or -1 with ENAMETOOLONG in f */
static int
join(char *out, const char *dir, const char *name, struct failure *f)
{
    int n = snprintf(out, PATH_MAX, "%s/%s", dir, name);
    if (n < 0 || n >= PATH_MAX)
        return fail(f, ENAMETOOLONG, dir);
    return 0;
}

static int
write_all(int fd, const char *data, size_t n)
{
    while (n > 0) {
        ssize_t done = write(fd, data, n);
        if (done < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        data += done;
        n -= (size_t)done;
    }
    return 0;
}

/* Copy in (a regular file of size bytes) to out, reading to its end as Python's read does
 * (a short read of a regular file is its end); keep (or NULL) gets the bytes. 0, or -1 with
 * errno set and *reading saying on which side; ENOMEM for a keep that cannot grow. */
static int
copy_data(int in, int out, off_t size, growbuf *keep, int *reading)
{
    if (keep == NULL && size >= SMALL) {
        /* in the kernel: no copy through user space (and on some file systems, none) */
        int first = 1;
        for (;;) {
            ssize_t n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
            if (n > 0) {
                first = 0;
                continue;
            }
            if (n == 0)
                return 0;
            if (errno == EINTR)
                continue;
            if (first && (errno == EXDEV || errno == EINVAL || errno == ENOSYS
                          || errno == EOPNOTSUPP || errno == EBADF))
                break;  /* not between these files: read and write below */
            *reading = 0;  /* which side failed is not said: name the new file */
            return -1;
        }
    }
    char stack[SMALL];
    size_t want = size < SMALL ? (size_t)size + 1 : SMALL;
    for (;;) {
        char *buf = stack;
        if (keep != NULL) {
            if (growbuf_room(keep, want) < 0) {  /* without the GIL */
                errno = ENOMEM;
                *reading = 1;
                return -1;
            }
            buf = keep->data + keep->len;
        }
        ssize_t n = read(in, buf, want);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            *reading = 1;
            return -1;
        }
        if (keep != NULL)
            keep->len += (size_t)n;
        if (n > 0 && write_all(out, buf, (size_t)n) < 0) {
            *reading = 0;
            return -1;
        }
        if ((size_t)n < want)
            return 0;
        want = SMALL;
    }
}

/* Copy src/name to tmp/name (the time kept with keep_time). 0, or -1 with f set. */
static int
copy_file(const char *src, const char *tmp, const char *name, int keep_time, growbuf *keep,
          struct failure *f)
{
    char from[PATH_MAX], to[PATH_MAX];
    if (join(from, src, name, f) < 0 || join(to, tmp, name, f) < 0)
        return -1;
    int in = open(from, READ_FLAGS);
    if (in < 0)
        return fail(f, errno, from);
    struct stat st;
    if (fstat(in, &st) != 0) {
        fail(f, errno, from);
        close(in);
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        close(in);
        return fail(f, NOT_REGULAR, from);
    }
    int out = open(to, NEW_FLAGS, 0666);
    if (out < 0) {
        fail(f, errno, to);
        close(in);
        return -1;
    }
    int reading = 0, r = copy_data(in, out, st.st_size, keep, &reading);
    if (r < 0)
        fail(f, errno, reading ? from : to);
    if (r == 0 && keep_time) {
        struct timespec times[2] = {st.st_mtim, st.st_mtim};
        if (futimens(out, times) != 0)
            r = fail(f, errno, to);
    }
    if (close(out) != 0 && r == 0)
        r = fail(f, errno, to);
    close(in);
    return r;
}

/* the document's bytes as tmp/name, its (mtime, size, inode) in *st: 0, or -1 with f set */
static int
write_doc(const char *tmp, const char *name, const char *doc, size_t n, struct stat *st,
          struct failure *f)
{
    char to[PATH_MAX];
    if (join(to, tmp, name, f) < 0)
        return -1;
    int out = open(to, NEW_FLAGS, 0666);
    if (out < 0)
        return fail(f, errno, to);
    int r = 0;
    if (write_all(out, doc, n) < 0 || fstat(out, st) != 0)
        r = fail(f, errno, to);
    if (close(out) != 0 && r == 0)
        r = fail(f, errno, to);
    return r;
}

/* A file name as the function `fn` (for messages) takes it: its bytes (a new reference in
 * *owner), or NULL with TypeError or ValueError set. */
static const char *
checked_name(PyObject *name, PyObject **owner, const char *fn)
{
    *owner = NULL;
    if (!PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "%s: file names must be strs, not %.100s", fn,
                     Py_TYPE(name)->tp_name);
        return NULL;
    }
    if (!PyUnicode_FSConverter(name, owner))
        return NULL;
    const char *text = PyBytes_AS_STRING(*owner);
    if (text[0] == '\0' || strchr(text, '/') != NULL || strcmp(text, ".") == 0
            || strcmp(text, "..") == 0) {
        PyErr_Format(PyExc_ValueError, "%s: not a file name: %R", fn, name);
        Py_CLEAR(*owner);
        return NULL;
    }
    return text;
}

static const char *
file_name(PyObject *name, PyObject **owner)
{
    return checked_name(name, owner, "stage_copy");
}

PyDoc_STRVAR(stage_copy_doc,
"stage_copy(src, tmp, statepoint, names, document, doc) -> (sp, sig) or None\n\n"
"Make the directory tmp (it must not exist) and copy into it, from the job directory src:\n"
"the file statepoint (its time not kept), then doc (bytes, or None for none) written as the\n"
"file document, then each of names (a list of flat file names) with its modification time\n"
"(taken by fstat before its content is read). Files are read to their end, never through a\n"
"link, and created new (O_EXCL). Returns (the state point's bytes, (mtime_ns, size, inode)\n"
"of the written document or None), or None when a file of src is not a regular file (the\n"
"copy stops there; the caller removes tmp). Raises TypeError or ValueError for arguments of\n"
"another shape (before anything is made), the OSError of the failing call naming its file\n"
"otherwise, tmp then left as far as it got. Reference: sync.landing.stage_copy_python.");

/* One job of stage_copy or stage_copies: its arguments as bytes (owned), then what staging
 * it did (r, f, keep, doc_st), without the GIL in between. */
struct job {
    PyObject *src_bytes, *tmp_bytes, *sp_bytes, *doc_name_bytes, *doc;
    PyObject **owners;
    const char **texts;
    Py_ssize_t count, made;
    const char *sp_name, *doc_name;
    growbuf keep;
    struct stat doc_st;
    struct failure f;
    int r;
};

static void
job_free(struct job *j)
{
    growbuf_free(&j->keep);
    Py_CLEAR(j->doc);
    for (Py_ssize_t i = 0; j->owners != NULL && i < j->made; i++)
        Py_CLEAR(j->owners[i]);
    PyMem_Free(j->owners);
    PyMem_Free(j->texts);
    j->owners = NULL;
    j->texts = NULL;
    Py_CLEAR(j->src_bytes);
    Py_CLEAR(j->tmp_bytes);
    Py_CLEAR(j->sp_bytes);
    Py_CLEAR(j->doc_name_bytes);
}

/* stage_copy's arguments (a tuple) into *j (zeroed by the caller): 0, or -1 with TypeError
 * or ValueError set (job_free then releases what was taken). */
static int
job_parse(struct job *j, PyObject *args)
{
    PyObject *src_obj, *tmp_obj, *sp_obj, *names, *doc_name_obj, *doc;
    if (!PyArg_ParseTuple(args, "UUUOUO:stage_copy", &src_obj, &tmp_obj, &sp_obj, &names,
                          &doc_name_obj, &doc))
        return -1;
    if (!PyList_Check(names)) {
        PyErr_SetString(PyExc_TypeError, "stage_copy: names must be a list");
        return -1;
    }
    j->count = PyList_GET_SIZE(names);
    j->owners = PyMem_Calloc(j->count ? j->count : 1, sizeof(PyObject *));
    j->texts = PyMem_Calloc(j->count ? j->count : 1, sizeof(char *));
    if (j->owners == NULL || j->texts == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    if (!PyUnicode_FSConverter(src_obj, &j->src_bytes)
            || !PyUnicode_FSConverter(tmp_obj, &j->tmp_bytes))
        return -1;
    j->sp_name = file_name(sp_obj, &j->sp_bytes);
    j->doc_name = j->sp_name == NULL ? NULL : file_name(doc_name_obj, &j->doc_name_bytes);
    if (j->doc_name == NULL)
        return -1;
    /* the list may change while others run Python: each name is held in owners */
    for (; j->made < j->count && j->made < PyList_GET_SIZE(names); j->made++) {
        j->texts[j->made] = file_name(PyList_GET_ITEM(names, j->made), &j->owners[j->made]);
        if (j->texts[j->made] == NULL)
            return -1;
    }
    j->count = j->made;
    if (doc != Py_None && !PyBytes_Check(doc)) {
        PyErr_SetString(PyExc_TypeError, "stage_copy: doc must be bytes or None");
        return -1;
    }
    j->doc = doc == Py_None ? NULL : doc;  /* bytes are immutable: safe without the GIL */
    Py_XINCREF(j->doc);
    return 0;
}

/* The staging itself, without the GIL: j->r is 0, or -1 with j->f set. */
static void
job_run(struct job *j)
{
    const char *src = PyBytes_AS_STRING(j->src_bytes), *tmp = PyBytes_AS_STRING(j->tmp_bytes);
    int r = mkdir(tmp, 0777) == 0 ? 0 : fail(&j->f, errno, tmp);
    if (r == 0)
        r = copy_file(src, tmp, j->sp_name, 0, &j->keep, &j->f);
    if (r == 0 && j->doc != NULL)
        r = write_doc(tmp, j->doc_name, PyBytes_AS_STRING(j->doc),
                      (size_t)PyBytes_GET_SIZE(j->doc), &j->doc_st, &j->f);
    for (Py_ssize_t i = 0; r == 0 && i < j->count; i++)
        r = copy_file(src, tmp, j->texts[i], 1, NULL, &j->f);
    j->r = r;
}

/* stage_copy's answer for a job that ran: (sp, sig), None, or NULL with the OSError (or
 * MemoryError) set. */
static PyObject *
job_answer(struct job *j)
{
    if (j->r < 0) {
        if (j->f.err == NOT_REGULAR)
            Py_RETURN_NONE;
        if (j->f.err == ENOMEM)
            return PyErr_NoMemory();
        PyObject *where = PyUnicode_DecodeFSDefault(j->f.path);
        if (where != NULL) {
            errno = j->f.err;
            PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, where);
            Py_DECREF(where);
        }
        return NULL;
    }
    PyObject *sp = PyBytes_FromStringAndSize(j->keep.data ? j->keep.data : "",
                                             (Py_ssize_t)j->keep.len);
    if (sp == NULL)
        return NULL;
    if (j->doc == NULL)
        return Py_BuildValue("(NO)", sp, Py_None);
    return Py_BuildValue("(N(LLK))", sp,
                         (long long)j->doc_st.st_mtim.tv_sec * 1000000000LL
                         + j->doc_st.st_mtim.tv_nsec,
                         (long long)j->doc_st.st_size, (unsigned long long)j->doc_st.st_ino);
}

static PyObject *
stage_copy(PyObject *self, PyObject *args)
{
    (void)self;
    struct job j;
    memset(&j, 0, sizeof j);
    PyObject *result = NULL;
    if (job_parse(&j, args) == 0) {
        Py_BEGIN_ALLOW_THREADS
        job_run(&j);
        Py_END_ALLOW_THREADS
        result = job_answer(&j);
    }
    job_free(&j);
    return result;
}

PyDoc_STRVAR(stage_copies_doc,
"stage_copies(jobs) -> list\n\n"
"stage_copy(*job) for each of jobs (a list of 6-tuples), in order, with the GIL released\n"
"once for all of them. Returns one item per job: stage_copy's answer, or the OSError it\n"
"would raise (the instance, not raised; the jobs after it are staged all the same).\n"
"Raises TypeError or ValueError for a job of another shape (before anything is made),\n"
"MemoryError when memory runs out. Reference: sync.landing.stage_copies_python.");

static PyObject *
stage_copies(PyObject *self, PyObject *jobs_obj)
{
    (void)self;
    if (!PyList_Check(jobs_obj)) {
        PyErr_SetString(PyExc_TypeError, "stage_copies: jobs must be a list");
        return NULL;
    }
    /* a copy of the list: its items stay alive (and in place) while the GIL is released */
    PyObject *items = PySequence_List(jobs_obj), *result = NULL;
    if (items == NULL)
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(items), parsed = 0;
    struct job *jobs = PyMem_Calloc(n ? (size_t)n : 1, sizeof(struct job));
    if (jobs == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (; parsed < n; parsed++) {
        PyObject *item = PyList_GET_ITEM(items, parsed);
        if (!PyTuple_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "stage_copies: each job must be a tuple");
            parsed++;  /* its (empty) job is freed below */
            goto done;
        }
        if (job_parse(&jobs[parsed], item) < 0) {
            parsed++;
            goto done;
        }
    }
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++)
        job_run(&jobs[i]);
    Py_END_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < n; i++) {
        if (jobs[i].r < 0 && jobs[i].f.err == ENOMEM) {
            PyErr_NoMemory();
            goto done;
        }
    }
    result = PyList_New(n);
    for (Py_ssize_t i = 0; result != NULL && i < n; i++) {
        PyObject *answer = job_answer(&jobs[i]);
        if (answer == NULL) {
            PyObject *type, *value, *tb;
            PyErr_Fetch(&type, &value, &tb);
            PyErr_NormalizeException(&type, &value, &tb);
            if (value != NULL && tb != NULL)
                PyException_SetTraceback(value, tb);
            Py_XDECREF(type);
            Py_XDECREF(tb);
            if (value == NULL || !PyErr_GivenExceptionMatches(value, PyExc_OSError)) {
                /* not a staging failure (e.g. memory for the answer): raised */
                if (value != NULL)
                    PyErr_SetObject((PyObject *)Py_TYPE(value), value);
                Py_XDECREF(value);
                Py_CLEAR(result);
                break;
            }
            answer = value;
        }
        PyList_SET_ITEM(result, i, answer);
    }
done:
    for (Py_ssize_t i = 0; jobs != NULL && i < parsed; i++)
        job_free(&jobs[i]);
    PyMem_Free(jobs);
    Py_DECREF(items);
    return result;
}

/* ---- land_jobs: new jobs from bytes already in memory (a first pull, a pushed batch) ---- */

/* a file of a job to land: its path's bytes owner is the job's; data borrowed from owner */
struct land_file {
    const char *name;
    const char *data;
    size_t size;
    int timed;
    long long mtime;
};

struct land_job {
    PyObject *tmp_bytes, *dst_bytes;   /* owned */
    PyObject *sp, *doc;                /* owned (doc may be NULL) */
    Py_ssize_t first, count;           /* its files in the shared array */
    struct stat doc_st;
    int state;                         /* 0 not reached, 1 landed, 2 dst existed */
};

/* write data as the new file dir/name (its time set if timed, its stat in st if st): 0, or
 * -1 with f set */
static int
land_write(const char *dir, const char *name, const char *data, size_t n, int timed,
           long long mtime, struct stat *st, struct failure *f)
{
    char to[PATH_MAX];
    if (join(to, dir, name, f) < 0)
        return -1;
    int out = open(to, NEW_FLAGS, 0666);
    if (out < 0)
        return fail(f, errno, to);
    int r = 0;
    if (write_all(out, data, n) < 0)
        r = fail(f, errno, to);
    if (r == 0 && timed) {
        struct timespec times[2];
        /* floor division: a time before 1970 keeps its nanoseconds in [0, 1e9) */
        long long sec = mtime / 1000000000LL, ns = mtime % 1000000000LL;
        if (ns < 0) {
            ns += 1000000000LL;
            sec -= 1;
        }
        times[0].tv_sec = times[1].tv_sec = (time_t)sec;
        times[0].tv_nsec = times[1].tv_nsec = (long)ns;
        if (futimens(out, times) != 0)
            r = fail(f, errno, to);
    }
    if (r == 0 && st != NULL && fstat(out, st) != 0)
        r = fail(f, errno, to);
    if (close(out) != 0 && r == 0)
        r = fail(f, errno, to);
    return r;
}

/* a path argument (a str without NUL) as bytes in *out (new reference): 0, or -1 with
 * TypeError or ValueError set */
static int
land_path(PyObject *path, PyObject **out)
{
    if (!PyUnicode_Check(path)) {
        PyErr_Format(PyExc_TypeError, "land_jobs: paths must be strs, not %.100s",
                     Py_TYPE(path)->tp_name);
        return -1;
    }
    return PyUnicode_FSConverter(path, out) ? 0 : -1;
}

static const char *
land_name(PyObject *name, PyObject **owner)
{
    return checked_name(name, owner, "land_jobs");
}

/* one file tuple (name, data, mtime_ns or None) into *out, its name's bytes in *owner:
 * 0, or -1 with TypeError or ValueError set */
static int
land_file_of(PyObject *item, struct land_file *out, PyObject **owner)
{
    if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 3) {
        PyErr_SetString(PyExc_TypeError, "land_jobs: a file must be (name, data, mtime_ns)");
        return -1;
    }
    out->name = land_name(PyTuple_GET_ITEM(item, 0), owner);
    if (out->name == NULL)
        return -1;
    PyObject *data = PyTuple_GET_ITEM(item, 1), *mtime = PyTuple_GET_ITEM(item, 2);
    if (!PyBytes_CheckExact(data)) {
        PyErr_SetString(PyExc_TypeError, "land_jobs: file data must be bytes");
        return -1;
    }
    out->data = PyBytes_AS_STRING(data);  /* kept alive by the jobs list's tuple, held */
    out->size = (size_t)PyBytes_GET_SIZE(data);
    out->timed = mtime != Py_None;
    if (out->timed) {
        if (!PyLong_CheckExact(mtime)) {
            PyErr_SetString(PyExc_TypeError, "land_jobs: a file time must be an int or None");
            return -1;
        }
        int overflow = 0;
        out->mtime = PyLong_AsLongLongAndOverflow(mtime, &overflow);
        if (overflow) {
            PyErr_Format(PyExc_ValueError, "land_jobs: file time out of range: %S", mtime);
            return -1;
        }
    }
    return 0;
}

PyDoc_STRVAR(land_jobs_doc,
"land_jobs(jobs, statepoint, document) -> list\n\n"
"Stage new jobs and rename each into place, in order. jobs is a list of (tmp, dst, state\n"
"point bytes, document bytes or None, files), files a list of (flat name, bytes, mtime_ns\n"
"or None). Per job: make the directory tmp (it must not exist); write the state point as\n"
"the file statepoint, the document as document (its (mtime_ns, size, inode) by an fstat of\n"
"the written file), each file (all created new, never through a link; the time set where\n"
"given); rename tmp to dst. Returns one item per job handled: the document's signature\n"
"(None: no document), or False when dst exists (tmp left for the caller to remove); the\n"
"list is shorter than jobs when the next job's tmp exists (nothing of it made). Raises\n"
"TypeError or ValueError for arguments of another shape (before anything is made), the\n"
"OSError of the failing call otherwise (naming its file). The GIL is released while the\n"
"files are written. Reference: sync.landing.land_jobs_python.");

static PyObject *
land_jobs(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *jobs_arg, *sp_name_obj, *doc_name_obj;
    if (!PyArg_ParseTuple(args, "OOO:land_jobs", &jobs_arg, &sp_name_obj, &doc_name_obj))
        return NULL;
    PyObject *sp_owner = NULL, *doc_owner = NULL, *jobs = NULL, *result = NULL;
    PyObject **owners = NULL;
    struct land_job *js = NULL;
    struct land_file *fs = NULL;
    Py_ssize_t njobs = 0, nfiles = 0, made_jobs = 0, made_files = 0;
    const char *sp_name = land_name(sp_name_obj, &sp_owner);
    const char *doc_name = sp_name == NULL ? NULL : land_name(doc_name_obj, &doc_owner);
    if (doc_name == NULL)
        goto done;
    if (!PyList_Check(jobs_arg)) {
        PyErr_SetString(PyExc_TypeError, "land_jobs: jobs must be a list");
        goto done;
    }
    /* a copy of the list: another thread cannot change what is written without the GIL */
    jobs = PyList_GetSlice(jobs_arg, 0, PyList_GET_SIZE(jobs_arg));
    if (jobs == NULL)
        goto done;
    njobs = PyList_GET_SIZE(jobs);
    for (Py_ssize_t i = 0; i < njobs; i++) {
        PyObject *job = PyList_GET_ITEM(jobs, i);
        if (!PyTuple_CheckExact(job) || PyTuple_GET_SIZE(job) != 5) {
            PyErr_SetString(PyExc_TypeError,
                            "land_jobs: a job must be (tmp, dst, statepoint, doc, files)");
            goto done;
        }
        PyObject *files = PyTuple_GET_ITEM(job, 4);
        if (PyList_Check(files))
            nfiles += PyList_GET_SIZE(files);
    }
    js = PyMem_Calloc(njobs ? njobs : 1, sizeof *js);
    fs = PyMem_Calloc(nfiles ? nfiles : 1, sizeof *fs);
    owners = PyMem_Calloc(nfiles ? nfiles : 1, sizeof *owners);
    if (js == NULL || fs == NULL || owners == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    Py_ssize_t at = 0;
    for (; made_jobs < njobs; made_jobs++) {
        PyObject *job = PyList_GET_ITEM(jobs, made_jobs);
        struct land_job *j = &js[made_jobs];
        if (land_path(PyTuple_GET_ITEM(job, 0), &j->tmp_bytes) < 0
                || land_path(PyTuple_GET_ITEM(job, 1), &j->dst_bytes) < 0) {
            made_jobs++;  /* its owned paths are released below */
            goto done;
        }
        PyObject *sp = PyTuple_GET_ITEM(job, 2), *doc = PyTuple_GET_ITEM(job, 3);
        PyObject *files = PyTuple_GET_ITEM(job, 4);
        if (!PyBytes_CheckExact(sp) || (doc != Py_None && !PyBytes_CheckExact(doc))) {
            PyErr_SetString(PyExc_TypeError,
                            "land_jobs: the state point and document must be bytes");
            made_jobs++;
            goto done;
        }
        Py_INCREF(sp);
        j->sp = sp;
        j->doc = doc == Py_None ? NULL : doc;
        Py_XINCREF(j->doc);
        if (!PyList_Check(files)) {
            PyErr_SetString(PyExc_TypeError, "land_jobs: files must be a list");
            made_jobs++;
            goto done;
        }
        /* the job tuple (held by the copied list) holds the files list; the list may not
         * change size under us: we hold the GIL until every pointer is taken */
        j->first = at;
        j->count = PyList_GET_SIZE(files);
        if (at + j->count > nfiles) {  /* grown since it was counted: refuse */
            PyErr_SetString(PyExc_RuntimeError, "land_jobs: files changed while read");
            made_jobs++;
            goto done;
        }
        for (Py_ssize_t k = 0; k < j->count; k++, at++) {
            PyObject *item = PyList_GET_ITEM(files, k);
            Py_INCREF(item);  /* holds the data's bytes while the GIL is released */
            owners[at] = item;
            made_files = at + 1;
            PyObject *name_owner = NULL;
            int r = land_file_of(item, &fs[at], &name_owner);
            if (r < 0) {
                Py_XDECREF(name_owner);
                made_jobs++;
                goto done;
            }
            /* the name's bytes: kept by a tuple (item, name bytes) in owners */
            PyObject *pair = PyTuple_Pack(2, item, name_owner);
            Py_DECREF(name_owner);
            if (pair == NULL) {
                made_jobs++;
                goto done;
            }
            Py_SETREF(owners[at], pair);
            fs[at].name = PyBytes_AS_STRING(PyTuple_GET_ITEM(pair, 1));
        }
    }
    struct failure f = {0, ""};
    int r = 0, renaming = 0;
    Py_ssize_t done_jobs = 0;
    Py_BEGIN_ALLOW_THREADS
    for (; r == 0 && done_jobs < njobs; done_jobs++) {
        struct land_job *j = &js[done_jobs];
        const char *tmp = PyBytes_AS_STRING(j->tmp_bytes);
        if (mkdir(tmp, 0777) != 0) {
            if (errno == EEXIST)
                break;  /* left by a killed run: the caller removes it, calls again */
            r = fail(&f, errno, tmp);
            break;
        }
        r = land_write(tmp, sp_name, PyBytes_AS_STRING(j->sp),
                       (size_t)PyBytes_GET_SIZE(j->sp), 0, 0, NULL, &f);
        if (r == 0 && j->doc != NULL)
            r = land_write(tmp, doc_name, PyBytes_AS_STRING(j->doc),
                           (size_t)PyBytes_GET_SIZE(j->doc), 0, 0, &j->doc_st, &f);
        for (Py_ssize_t k = j->first; r == 0 && k < j->first + j->count; k++)
            r = land_write(tmp, fs[k].name, fs[k].data, fs[k].size, fs[k].timed, fs[k].mtime,
                           NULL, &f);
        if (r != 0)
            break;
        if (rename(tmp, PyBytes_AS_STRING(j->dst_bytes)) == 0) {
            j->state = 1;
        } else if (errno == EEXIST || errno == ENOTEMPTY) {
            j->state = 2;
        } else {
            r = fail(&f, errno, tmp);
            renaming = 1;
            break;
        }
    }
    Py_END_ALLOW_THREADS
    if (r < 0) {
        if (renaming) {  /* named by both paths, as os.rename names them */
            struct land_job *j = &js[done_jobs];
            PyObject *a = PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(j->tmp_bytes),
                                                          PyBytes_GET_SIZE(j->tmp_bytes));
            PyObject *b = a == NULL ? NULL : PyUnicode_DecodeFSDefaultAndSize(
                PyBytes_AS_STRING(j->dst_bytes), PyBytes_GET_SIZE(j->dst_bytes));
            if (b != NULL) {
                errno = f.err;
                PyErr_SetFromErrnoWithFilenameObjects(PyExc_OSError, a, b);
            }
            Py_XDECREF(a);
            Py_XDECREF(b);
        } else {
            PyObject *where = PyUnicode_DecodeFSDefault(f.path);
            if (where != NULL) {
                errno = f.err;
                PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, where);
                Py_DECREF(where);
            }
        }
        goto done;
    }
    /* done_jobs counts the job whose tmp existed: only the handled ones are answered */
    Py_ssize_t handled = 0;
    while (handled < njobs && js[handled].state != 0)
        handled++;
    result = PyList_New(handled);
    if (result == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < handled; i++) {
        struct land_job *j = &js[i];
        PyObject *item;
        if (j->state == 2) {
            item = Py_NewRef(Py_False);
        } else if (j->doc == NULL) {
            item = Py_NewRef(Py_None);
        } else {
            item = Py_BuildValue("(LLK)",
                                 (long long)j->doc_st.st_mtim.tv_sec * 1000000000LL
                                 + j->doc_st.st_mtim.tv_nsec,
                                 (long long)j->doc_st.st_size,
                                 (unsigned long long)j->doc_st.st_ino);
            if (item == NULL) {
                Py_CLEAR(result);
                goto done;
            }
        }
        PyList_SET_ITEM(result, i, item);
    }
done:
    for (Py_ssize_t i = 0; js != NULL && i < made_jobs; i++) {
        Py_XDECREF(js[i].tmp_bytes);
        Py_XDECREF(js[i].dst_bytes);
        Py_XDECREF(js[i].sp);
        Py_XDECREF(js[i].doc);
    }
    for (Py_ssize_t i = 0; owners != NULL && i < made_files; i++)
        Py_XDECREF(owners[i]);
    PyMem_Free(js);
    PyMem_Free(fs);
    PyMem_Free(owners);
    Py_XDECREF(jobs);
    Py_XDECREF(sp_owner);
    Py_XDECREF(doc_owner);
    return result;
}

static PyMethodDef methods[] = {
    {"stage_copies", stage_copies, METH_O, stage_copies_doc},
    {"stage_copy", stage_copy, METH_VARARGS, stage_copy_doc},
    {"land_jobs", land_jobs, METH_VARARGS, land_jobs_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "sync._landing",
    "A plain job's copy staged in one call (optional; see suite/native.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__landing(void)
{
    return PyModule_Create(&module);
}
