/* suite.provenance._capture: the before/after scans of a flat job directory in C.
 *
 * Optional (suite/native.py loads it where it was built). Each function names its pure-Python
 * reference in suite/provenance/capture.py; tests/provenance/test_capture_native.py compares
 * the two on generated directories. Why C: an execution of a trivial operation costs 70-90 us
 * of CPU and the records may add 10 % of it; the two Python scans and the hash of what changed
 * cost ~25 us, most of it the interpreter around a dozen system calls.
 *
 * The directory is listed with getdents64 on Linux (opendir would add an fstat per listing)
 * and every entry is stat'ed or opened relative to the directory's descriptor.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "ascii.h"
#include "dirread.h"
#include "growbuf.h"
#include "jsonesc.h"
#include "pyfs.h"
#include "quietopen.h"

/* ---- the interpreter lock around system calls ------------------------------------------- */

/* Whether this thread is the only one of the only interpreter: then no thread can be waiting
 * for the GIL, and releasing it around a scan's system calls (a save and a restore, with
 * their mutex and condition variable) only costs time: ~800 instructions a release, two
 * releases a record. A thread made while the GIL is held waits for it, as it would wait for
 * any C code; with other threads (a writer thread, `run --parallel`) the GIL is released as
 * before. */
static int
alone(void)
{
    PyThreadState *me = PyThreadState_Get();
    PyInterpreterState *interp = PyThreadState_GetInterpreter(me);
    return PyInterpreterState_Head() == interp && PyInterpreterState_Next(interp) == NULL
        && PyInterpreterState_ThreadHead(interp) == me && PyThreadState_Next(me) == NULL;
}

/* Py_BEGIN/END_ALLOW_THREADS where another thread may want the GIL (alone() above) */
#define UNLOCK_IF_SHARED { PyThreadState *_save = alone() ? NULL : PyEval_SaveThread();
#define RELOCK_IF_SHARED if (_save != NULL) PyEval_RestoreThread(_save); }

/* A directory's path as the kernel gets it (fs_text: no bytes object where the str's UTF-8
 * is at hand, as it is for an ASCII str), refusing a NUL as PyUnicode_FSConverter does:
 * NULL with ValueError or fs_text's error set. *owner as fs_text's. */
static const char *
dir_text(PyObject *path, PyObject **owner)
{
    Py_ssize_t len;
    const char *text = fs_text(path, &len, owner);
    if (text != NULL && strlen(text) != (size_t)len) {
        Py_CLEAR(*owner);
        PyErr_SetString(PyExc_ValueError, "embedded null byte");
        return NULL;
    }
    return text;
}

/* ---- opening without moving access times (quietopen.h) ------------------------------- */

/* 0 once the kernel refused O_NOATIME here (another user's file): not asked for again */
static int noatime = O_NOATIME;

/* bytes read at a time when hashing; capture.CHUNK (a test checks the two agree) */
#define CHUNK (1 << 16)

static PyObject *sha256_new;  /* hashlib.sha256 */
static PyObject *k_job, *k_path, *k_size, *k_sha256, *k_removed, *s_hexdigest, *s_update;

/* ---- listing ---------------------------------------------------------------------------- */

/* One entry of a listing: its name (in the listing's block of names) and d_type (DT_UNKNOWN
 * where the file system does not say). */
struct entry {
    char *name;       /* set once the listing is complete (the block may move while it grows) */
    size_t off;       /* of the name in the block */
    unsigned char type;
    int err;          /* of the lstat below (flat_sigs), 0 if it worked */
    struct stat st;
};

/* entries and bytes of names a listing holds without the heap: a job directory holds a few
 * files (a malloc per name and a growing array were ~1,000 instructions an execution) */
#define FIRST_ITEMS 16
#define FIRST_NAMES 1024

struct listing {
    struct entry *items;
    size_t count, cap;
    char *names;      /* the kept names, each NUL-terminated, one after another */
    size_t names_len, names_cap;
    int has_log;
    struct entry first_items[FIRST_ITEMS];
    char first_names[FIRST_NAMES];
};

static void
listing_init(struct listing *l)
{
    l->items = l->first_items;
    l->count = 0;
    l->cap = FIRST_ITEMS;
    l->names = l->first_names;
    l->names_len = 0;
    l->names_cap = FIRST_NAMES;
    l->has_log = 0;
}

static void
listing_free(struct listing *l)
{
    if (l->items != l->first_items)
        free(l->items);
    if (l->names != l->first_names)
        free(l->names);
    listing_init(l);
}

/* Room for one more entry and len + 1 more bytes of names: 0 or ENOMEM. No Python API. */
static int
listing_room(struct listing *l, size_t len)
{
    if (l->count == l->cap) {
        if (l->cap > SIZE_MAX / 2 / sizeof *l->items)
            return ENOMEM;
        struct entry *grown = malloc(2 * l->cap * sizeof *grown);
        if (grown == NULL)
            return ENOMEM;
        memcpy(grown, l->items, l->count * sizeof *grown);
        if (l->items != l->first_items)
            free(l->items);
        l->items = grown;
        l->cap *= 2;
    }
    if (len + 1 > l->names_cap - l->names_len) {
        size_t cap = l->names_cap;
        while (len + 1 > cap - l->names_len) {
            if (cap > SIZE_MAX / 2)
                return ENOMEM;
            cap *= 2;
        }
        char *grown = malloc(cap);
        if (grown == NULL)
            return ENOMEM;
        memcpy(grown, l->names, l->names_len);
        if (l->names != l->first_names)
            free(l->names);
        l->names = grown;
        l->names_cap = cap;
    }
    return 0;
}

/* The exclusions: names equal to one of skip (bytes), or holding temp (bytes). */
struct rules {
    const char **skip;
    size_t *skip_len;
    Py_ssize_t n_skip;
    const char *temp;  /* "" matches nothing */
    const char *log;   /* NULL: not asked */
};

static int
excluded(const struct rules *r, const char *name, size_t len)
{
    for (Py_ssize_t i = 0; i < r->n_skip; i++)
        if (r->skip_len[i] == len && memcmp(r->skip[i], name, len) == 0)
            return 1;
    return r->temp[0] != '\0' && strstr(name, r->temp) != NULL;
}

/* what keep (a dir_each callback) adds to and by which rules */
struct keeping {
    struct listing *l;
    const struct rules *r;
};

static int
keep(void *ctx, const char *name, unsigned char type)
{
    struct listing *l = ((struct keeping *)ctx)->l;
    const struct rules *r = ((struct keeping *)ctx)->r;
    size_t len = strlen(name);
    if (r->log != NULL && strcmp(name, r->log) == 0)
        l->has_log = 1;
    if (excluded(r, name, len))
        return 0;
    if (listing_room(l, len) != 0)
        return ENOMEM;
    struct entry *e = &l->items[l->count++];
    memcpy(l->names + l->names_len, name, len + 1);
    e->off = l->names_len;
    l->names_len += len + 1;
    e->type = type;
    e->err = 0;
    return 0;
}

/* List the directory open at fd (which stays open) into l, without the GIL. Returns 0 or an
 * errno value. */
static int
list_fd(int fd, struct listing *l, const struct rules *r)
{
    struct keeping k = {l, r};
    int err = dir_each(fd, keep, &k);
    for (size_t i = 0; i < l->count; i++)  /* the block of names no longer moves */
        l->items[i].name = l->names + l->items[i].off;
    return err;
}

/* Open and list path: 0 with *fd open, ENOENT (nothing to list, *fd -1), or another errno.
 * With stat, each entry kept is lstat'ed too, in the same stretch without the GIL. */
static int
open_and_list(const char *path, int *fd, struct listing *l, const struct rules *r, int stat)
{
    int err = 0;
    UNLOCK_IF_SHARED
    *fd = open_quietly(AT_FDCWD, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, &noatime);
    if (*fd < 0)
        err = errno;
    else if ((err = list_fd(*fd, l, r)) != 0) {
        close(*fd);
        *fd = -1;
    }
    for (size_t i = 0; stat && !err && i < l->count; i++) {
        struct entry *e = &l->items[i];
        e->err = fstatat(*fd, e->name, &e->st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : errno;
    }
    RELOCK_IF_SHARED
    return err;
}

/* ---- arguments and errors ----------------------------------------------------------------- */

/* What the scans leave out, set once by configure(): capture.py's rules, as bytes. */
static struct rules rules;
static PyObject *rules_held;  /* (skip, temp, log): keeps the bytes the rules point into */

PyDoc_STRVAR(configure_doc,
"configure(skip, temp, log)\n\n"
"What flat_sigs and flat_changes leave out: names equal to one of skip (a tuple of bytes) or\n"
"holding temp (bytes); log (bytes) is the name flat_sigs reports. Set once, by\n"
"suite.provenance.capture at import. Raises TypeError for other types.");

static PyObject *
configure(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 3 || !PyTuple_Check(args[0]) || !PyBytes_Check(args[1])
            || !PyBytes_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "configure(skip: tuple of bytes, temp: bytes, "
                        "log: bytes)");
        return NULL;
    }
    PyObject *skip = args[0];
    Py_ssize_t n = PyTuple_GET_SIZE(skip);
    for (Py_ssize_t i = 0; i < n; i++)
        if (!PyBytes_Check(PyTuple_GET_ITEM(skip, i))) {
            PyErr_SetString(PyExc_TypeError, "skip must be a tuple of bytes");
            return NULL;
        }
    const char **names = PyMem_Malloc((n + 1) * sizeof *names);
    size_t *lens = PyMem_Malloc((n + 1) * sizeof *lens);
    PyObject *held = PyTuple_Pack(3, skip, args[1], args[2]);
    if (names == NULL || lens == NULL || held == NULL) {
        PyMem_Free(names);
        PyMem_Free(lens);
        Py_XDECREF(held);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        names[i] = PyBytes_AS_STRING(PyTuple_GET_ITEM(skip, i));
        lens[i] = (size_t)PyBytes_GET_SIZE(PyTuple_GET_ITEM(skip, i));
    }
    PyMem_Free(rules.skip);
    PyMem_Free(rules.skip_len);
    rules.skip = names;
    rules.skip_len = lens;
    rules.n_skip = n;
    rules.temp = PyBytes_AS_STRING(args[1]);
    rules.log = PyBytes_AS_STRING(args[2]);
    Py_XSETREF(rules_held, held);
    Py_RETURN_NONE;
}

static int
configured(void)
{
    if (rules_held == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "call configure() first");
        return 0;
    }
    return 1;
}

static PyObject *
signature(const struct stat *st)
{
    /* a tuple filled by hand: Py_BuildValue parses its format on every call */
    PyObject *t = PyTuple_New(4);
    if (t == NULL)
        return NULL;
    PyObject *v[4] = {
        PyLong_FromLongLong((long long)st->st_size),
        PyLong_FromLongLong((long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec),
        PyLong_FromLongLong((long long)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec),
        PyLong_FromUnsignedLongLong((unsigned long long)st->st_ino)};
    for (int i = 0; i < 4; i++) {
        if (v[i] == NULL) {
            for (int j = i; j < 4; j++)
                Py_XDECREF(v[j]);
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, v[i]);
    }
    return t;
}

/* lstat dir_fd/name without the GIL; 0 or errno. */
static int
lstat_at(int dir_fd, const char *name, struct stat *st)
{
    int err = 0;
    Py_BEGIN_ALLOW_THREADS
    if (fstatat(dir_fd, name, st, AT_SYMLINK_NOFOLLOW) != 0)
        err = errno;
    Py_END_ALLOW_THREADS
    return err;
}

/* Whether an entry is a regular file, as DirEntry.is_file(follow_symlinks=False) tells:
 * 1, 0, or -1 with an OSError set (a missing entry is not a file). */
static int
is_file(int dir_fd, PyObject *path, const struct entry *e)
{
    if (e->type != DT_UNKNOWN)
        return e->type == DT_REG;
    struct stat st;
    int err = lstat_at(dir_fd, e->name, &st);
    if (err == ENOENT)
        return 0;
    if (err) {
        set_os_error(err, path, e->name);
        return -1;
    }
    return S_ISREG(st.st_mode);
}

/* ---- flat_sigs ---------------------------------------------------------------------------- */

PyDoc_STRVAR(flat_sigs_doc,
"flat_sigs(path) -> (dict, bool) or None\n\n"
"({name: (size, mtime_ns, ctime_ns, inode)}, has_log) of the regular files of the directory\n"
"path (a str) from an lstat each, leaving out what configure() says; has_log: an entry\n"
"named as configure's log is there. None when an entry\n"
"that is not left out is not a regular file (a subdirectory, a link). A missing directory\n"
"is empty; an entry removed while listed is left out. Reference:\n"
"suite.provenance.capture.flat_sigs_python. Raises NotADirectoryError, PermissionError or\n"
"another OSError naming the directory or the entry; RuntimeError before configure().");

static PyObject *
flat_sigs(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 1 || !PyUnicode_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "flat_sigs(path: str)");
        return NULL;
    }
    if (!configured())
        return NULL;
    PyObject *path = args[0], *encoded = NULL, *sigs = NULL, *result = NULL;
    struct listing l;
    listing_init(&l);
    int fd = -1;
    const char *dir_path = dir_text(path, &encoded);
    if (dir_path == NULL)
        goto done;
    int err = open_and_list(dir_path, &fd, &l, &rules, 1);
    if (err && err != ENOENT) {
        set_os_error(err, path, NULL);
        goto done;
    }
    if ((sigs = PyDict_New()) == NULL)
        goto done;
    for (size_t i = 0; i < l.count; i++) {
        const struct entry *e = &l.items[i];
        /* as DirEntry.is_file(follow_symlinks=False) tells (from the lstat where the listing
         * gives no type; a missing entry is no file), then DirEntry.stat */
        int known = e->type != DT_UNKNOWN;
        if (known ? e->type != DT_REG
                  : e->err == ENOENT || (!e->err && !S_ISREG(e->st.st_mode))) {
            result = Py_NewRef(Py_None);  /* not flat: the caller walks the tree */
            goto done;
        }
        if (e->err == ENOENT)  /* removed while we looked */
            continue;
        if (e->err) {
            set_os_error(e->err, path, e->name);
            goto done;
        }
        PyObject *name = PyUnicode_DecodeFSDefault(e->name);
        PyObject *sig = name ? signature(&e->st) : NULL;
        int bad = sig == NULL || PyDict_SetItem(sigs, name, sig) != 0;
        Py_XDECREF(name);
        Py_XDECREF(sig);
        if (bad)
            goto done;
    }
    result = PyTuple_Pack(2, sigs, l.has_log ? Py_True : Py_False);
done:
    if (fd >= 0)
        close(fd);
    listing_free(&l);
    Py_XDECREF(encoded);
    Py_XDECREF(sigs);
    return result;
}

/* ---- SHA-256 (FIPS 180-4) of a small file's bytes, without the GIL ----------------------- */

/* hashlib costs ~5,000 instructions a call (OpenSSL's context set-up and tear-down) for an 11
 * byte document; files larger than one read (CHUNK) still go through hashlib, which uses the
 * CPU's SHA instructions where there are some. */

#include "sha256.h"

/* sha256 of buf[:n] added to *h (created on the first call). 0 or -1 with an error set. */
static int
hash_update(PyObject **h, char *buf, Py_ssize_t n)
{
    PyObject *view = PyMemoryView_FromMemory(buf, n, PyBUF_READ);
    if (view == NULL)
        return -1;
    PyObject *out = *h == NULL ? PyObject_CallOneArg(sha256_new, view)
                               : PyObject_CallMethodOneArg(*h, s_update, view);
    Py_DECREF(view);
    if (out == NULL)
        return -1;
    if (*h == NULL)
        *h = out;
    else
        Py_DECREF(out);
    return 0;
}

/* bytes of the first read, on the stack: a small file (most documents) needs no heap buffer
 * (a 64 KiB malloc and free per scan were ~2,500 instructions of an execution's ~32,000) */
#define FIRST 4096

/* what became of a file read for its hash (read_start, digest_nogil) */
enum { SAME = 0, HASHED, VANISHED, LARGE };

/* The first read of dir_fd/name for its hash, without Python (the caller has released the
 * GIL): the content in one read when it ends within CHUNK bytes, a link's target text for a
 * link (O_NOFOLLOW). Returns HASHED with *data and *n the whole content (in first, or in
 * *buf), the file closed; LARGE with the first CHUNK bytes in *buf and the file left open at
 * *fd (the caller reads on from there, and closes it); VANISHED where it could not be opened
 * or read; -1 out of memory. *buf (CHUNK bytes) is allocated where a file does not end
 * within its first FIRST bytes, which first (on the caller's stack) holds. */
static int
read_start(int dir_fd, const char *name, char first[FIRST], char **buf, const char **data,
           ssize_t *n, int *fd)
{
    int opened;
    ssize_t got;
    *fd = -1;
    opened = open_quietly(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, &noatime);
    if (opened < 0) {  /* a link (O_NOFOLLOW) hashes its target's text; else it is gone */
        if (*buf == NULL && (*buf = PyMem_RawMalloc(CHUNK)) == NULL)
            return -1;
        *data = *buf;
        *n = readlinkat(dir_fd, name, *buf, CHUNK);
        return *n < 0 ? VANISHED : HASHED;
    }
    do
        got = read(opened, first, FIRST);
    while (got < 0 && errno == EINTR);
    *data = first;
    if (got == FIRST) {  /* more may follow: on into the CHUNK-byte buffer */
        if (*buf == NULL && (*buf = PyMem_RawMalloc(CHUNK)) == NULL) {
            close(opened);
            return -1;
        }
        memcpy(*buf, first, FIRST);
        ssize_t more;
        do
            more = read(opened, *buf + FIRST, CHUNK - FIRST);
        while (more < 0 && errno == EINTR);
        got = more < 0 ? more : FIRST + more;
        *data = *buf;
    }
    *n = got;
    if (got == CHUNK) {  /* a short read is the end of a regular file; a full one is not */
        *fd = opened;
        return LARGE;
    }
    close(opened);
    return got < 0 ? VANISHED : HASHED;
}

/* digest() of a file of more than one read, open at fd (closed here), whose first n bytes
 * are in b (CHUNK bytes): through hashlib, the GIL released around each further read. */
static int
hash_large(int fd, char *b, ssize_t n, long long *size, PyObject **hex)
{
    PyObject *h = NULL;
    long long total = 0;
    for (;;) {
        if (n < 0) {  /* a read failed: as a file that vanished */
            close(fd);
            Py_XDECREF(h);
            *hex = Py_NewRef(Py_None);
            *size = -1;
            return 0;
        }
        if (hash_update(&h, b, n) != 0) {
            close(fd);
            Py_XDECREF(h);
            return -1;
        }
        total += n;
        if (n != CHUNK)
            break;
        Py_BEGIN_ALLOW_THREADS
        do
            n = read(fd, b, CHUNK);
        while (n < 0 && errno == EINTR);
        Py_END_ALLOW_THREADS
    }
    close(fd);
    *size = total;
    *hex = PyObject_CallMethodNoArgs(h, s_hexdigest);
    Py_DECREF(h);
    return *hex == NULL ? -1 : 0;
}

/* (size, hex SHA-256) of dir_fd/name's content (of a link's target text for a link) into
 * *size and *hex; *hex None if it could not be read (vanished). -1 with an error set only for
 * a Python failure (memory). *buf: read_start's. A file that ends within CHUNK is opened,
 * read and hashed in one stretch without the GIL; a larger one goes on through hashlib from
 * the descriptor read_start left open. */
static int
digest(int dir_fd, const char *name, char **buf, long long *size, PyObject **hex)
{
    char first[FIRST], small[65];
    const char *data = NULL;
    ssize_t n = -1;
    int fd, state;
    *hex = NULL;
    *size = -1;
    Py_BEGIN_ALLOW_THREADS
    state = read_start(dir_fd, name, first, buf, &data, &n, &fd);
    if (state == HASHED)
        sha256_hex((const unsigned char *)data, (size_t)n, small);
    Py_END_ALLOW_THREADS
    if (state < 0) {
        PyErr_NoMemory();
        return -1;
    }
    if (state == VANISHED)
        goto none;
    if (state == HASHED) {
        *size = n;
        *hex = PyUnicode_FromStringAndSize(small, 64);
        return *hex == NULL ? -1 : 0;
    }
    return hash_large(fd, *buf, n, size, hex);
none:
    *hex = Py_NewRef(Py_None);
    *size = -1;
    return 0;
}

static PyObject *
file_entry(PyObject *job, PyObject *name, PyObject *size, PyObject *sha)
{
    PyObject *d = PyDict_New();
    if (d == NULL)
        return NULL;
    if (PyDict_SetItem(d, k_job, job) || PyDict_SetItem(d, k_path, name)
            || PyDict_SetItem(d, k_size, size) || PyDict_SetItem(d, k_sha256, sha)) {
        Py_DECREF(d);
        return NULL;
    }
    return d;
}

PyDoc_STRVAR(flat_changes_doc,
"flat_changes(job, path, old) -> list or None\n\n"
"The files of the flat job directory path created or modified since old ({name: signature}\n"
"from flat_sigs), sorted by name, each {'job', 'path', 'size', 'sha256'} (a new file is\n"
"hashed without a stat: its size comes from the read; a file that could not be read has\n"
"sha256 None), then those of old no longer there, sorted, each {'job', 'path', 'removed':\n"
"True}. What configure() says is left out, as in flat_sigs. None when an entry that\n"
"is not left out is not a regular file. Reference:\n"
"suite.provenance.capture.flat_changes_python. Raises NotADirectoryError, PermissionError\n"
"or another OSError naming the directory or the entry; TypeError if old is not a dict;\n"
"RuntimeError before configure().");

static int written_digest(PyObject *written, PyObject *root, int dir_fd, const char *entry,
                          const struct stat *known, long long *size, PyObject **hex);

/* What changed in the flat job directory path since old ({name: signature}): 1 with *found a
 * list of (name, size, sha256) sorted by name and *gone a sorted list of the names of old no
 * longer there (NULL where none is gone); 0 when an entry that is not left out is not a
 * regular file (not flat); -1 with an error set. written: a list (written_digest) or NULL. */
static int
changes_core(PyObject *path, PyObject *old, PyObject *written, PyObject **found_out,
             PyObject **gone_out)
{
    PyObject *encoded = NULL, *found = NULL, *still = NULL, *gone = NULL;
    struct listing l;
    listing_init(&l);
    int fd = -1, result = -1;
    char *buf = NULL;
    *found_out = *gone_out = NULL;
    if (!PyUnicode_FSConverter(path, &encoded))
        goto done;
    int err = open_and_list(PyBytes_AS_STRING(encoded), &fd, &l, &rules, 0);
    if (err && err != ENOENT) {
        set_os_error(err, path, NULL);
        goto done;
    }
    /* found: (name, size, sha256) of what changed; still: names of old still there */
    if ((found = PyList_New(0)) == NULL || (still = PySet_New(NULL)) == NULL)
        goto done;
    for (size_t i = 0; i < l.count; i++) {
        const struct entry *e = &l.items[i];
        int regular = is_file(fd, path, e);
        if (regular < 0)
            goto done;
        if (!regular) {
            result = 0;
            goto done;
        }
        PyObject *name = PyUnicode_DecodeFSDefault(e->name);
        if (name == NULL)
            goto done;
        PyObject *sig = PyDict_GetItemWithError(old, name);  /* borrowed */
        if (sig == NULL && PyErr_Occurred()) {
            Py_DECREF(name);
            goto done;
        }
        if (sig == Py_None)  /* as the reference's old.get(name): a new file (and a gone one) */
            sig = NULL;
        PyObject *size = NULL;
        struct stat st;
        if (sig != NULL) {
            err = lstat_at(fd, e->name, &st);
            if (err == ENOENT) {  /* removed while we looked */
                Py_DECREF(name);
                continue;
            }
            if (err) {
                Py_DECREF(name);
                set_os_error(err, path, e->name);
                goto done;
            }
            if (PySet_Add(still, name) != 0) {
                Py_DECREF(name);
                goto done;
            }
            PyObject *now = signature(&st);
            int same = now == NULL ? -1 : PyObject_RichCompareBool(now, sig, Py_EQ);
            Py_XDECREF(now);
            if (same != 0) {
                Py_DECREF(name);
                if (same < 0)
                    goto done;
                continue;
            }
            if ((size = PyLong_FromLongLong((long long)st.st_size)) == NULL) {
                Py_DECREF(name);
                goto done;
            }
        }
        long long read_size;
        PyObject *hex;
        int used = written_digest(written, path, fd, e->name, sig != NULL ? &st : NULL,
                                  &read_size, &hex);
        if (used < 0 || (!used && digest(fd, e->name, &buf, &read_size, &hex) != 0)) {
            Py_DECREF(name);
            Py_XDECREF(size);
            goto done;
        }
        if (size == NULL)
            size = hex == Py_None ? Py_NewRef(Py_None) : PyLong_FromLongLong(read_size);
        PyObject *row = size == NULL ? NULL : PyTuple_Pack(3, name, size, hex);
        Py_DECREF(name);
        Py_XDECREF(size);
        Py_DECREF(hex);
        if (row == NULL)
            goto done;
        int bad = PyList_Append(found, row);
        Py_DECREF(row);
        if (bad)
            goto done;
    }
    if (PyList_Sort(found) != 0)  /* by name: names are unique, nothing else is compared */
        goto done;
    if (PySet_GET_SIZE(still) < PyDict_GET_SIZE(old)) {
        PyObject *key, *value;
        Py_ssize_t pos = 0;
        if ((gone = PyList_New(0)) == NULL)
            goto done;
        while (PyDict_Next(old, &pos, &key, &value)) {
            int there = PySet_Contains(still, key);
            if (there < 0 || (!there && PyList_Append(gone, key) != 0))
                goto done;
        }
        if (PyList_Sort(gone) != 0)
            goto done;
    }
    *found_out = Py_NewRef(found);
    *gone_out = Py_XNewRef(gone);
    result = 1;
done:
    if (fd >= 0)
        close(fd);
    listing_free(&l);
    PyMem_RawFree(buf);
    Py_XDECREF(encoded);
    Py_XDECREF(found);
    Py_XDECREF(still);
    Py_XDECREF(gone);
    return result;
}

static PyObject *
flat_changes(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 3 || !PyUnicode_Check(args[1]) || !PyDict_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "flat_changes(job, path: str, old: dict)");
        return NULL;
    }
    if (!configured())
        return NULL;
    PyObject *job = args[0], *found, *gone, *out = NULL;
    int flat = changes_core(args[1], args[2], NULL, &found, &gone);
    if (flat <= 0)
        return flat < 0 ? NULL : Py_NewRef(Py_None);
    Py_ssize_t n = PyList_GET_SIZE(found);
    if ((out = PyList_New(n)) == NULL)
        goto done;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *row = PyList_GET_ITEM(found, i);
        PyObject *d = file_entry(job, PyTuple_GET_ITEM(row, 0), PyTuple_GET_ITEM(row, 1),
                                 PyTuple_GET_ITEM(row, 2));
        if (d == NULL)
            goto fail;
        PyList_SET_ITEM(out, i, d);
    }
    for (Py_ssize_t i = 0; gone != NULL && i < PyList_GET_SIZE(gone); i++) {
        PyObject *d = PyDict_New();
        if (d == NULL || PyDict_SetItem(d, k_job, job)
                || PyDict_SetItem(d, k_path, PyList_GET_ITEM(gone, i))
                || PyDict_SetItem(d, k_removed, Py_True) || PyList_Append(out, d)) {
            Py_XDECREF(d);
            goto fail;
        }
        Py_DECREF(d);
    }
    goto done;
fail:
    Py_CLEAR(out);
done:
    Py_DECREF(found);
    Py_XDECREF(gone);
    return out;
}

/* ---- files_text ------------------------------------------------------------------------- */

/* The text being built (ASCII, or UTF-8 from a fallback) is a growbuf. */

/* the bytes encode_basestring_ascii writes as they are: ' ' to '~' but '"' and '\\' */
#define PLAIN8(c) ((c) >= ' ' && (c) <= '~' && (c) != '"' && (c) != '\\')
#define PLAIN_ROW(r) PLAIN8(16 * (r) + 0), PLAIN8(16 * (r) + 1), PLAIN8(16 * (r) + 2), \
    PLAIN8(16 * (r) + 3), PLAIN8(16 * (r) + 4), PLAIN8(16 * (r) + 5), PLAIN8(16 * (r) + 6), \
    PLAIN8(16 * (r) + 7), PLAIN8(16 * (r) + 8), PLAIN8(16 * (r) + 9), PLAIN8(16 * (r) + 10), \
    PLAIN8(16 * (r) + 11), PLAIN8(16 * (r) + 12), PLAIN8(16 * (r) + 13), \
    PLAIN8(16 * (r) + 14), PLAIN8(16 * (r) + 15)
static const unsigned char plain[256] = {
    PLAIN_ROW(0), PLAIN_ROW(1), PLAIN_ROW(2), PLAIN_ROW(3), PLAIN_ROW(4), PLAIN_ROW(5),
    PLAIN_ROW(6), PLAIN_ROW(7), PLAIN_ROW(8), PLAIN_ROW(9), PLAIN_ROW(10), PLAIN_ROW(11),
    PLAIN_ROW(12), PLAIN_ROW(13), PLAIN_ROW(14), PLAIN_ROW(15)};

/* s (a str) as json.encoder.encode_basestring_ascii writes it */
static int
text_put_str(growbuf *t, PyObject *s)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    if (growbuf_reserve(t, 2 + 12 * (size_t)n) != 0)  /* 12: a surrogate pair, escaped */
        return -1;
    char *o = t->data + t->len;
    *o++ = '"';
    Py_ssize_t i = 0;
    if (kind == PyUnicode_1BYTE_KIND) {  /* ids, names, hashes: the run up to the first escape */
        const unsigned char *u = data;
        while (i < n && plain[u[i]])
            i++;
        memcpy(o, u, (size_t)i);
        o += i;
    }
    for (; i < n; i++) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        if (c >= ' ' && c <= '~' && c != '\\' && c != '"') {
            *o++ = (char)c;
            continue;
        }
        o = json_escape(o, c);
    }
    *o++ = '"';
    t->len = (size_t)(o - t->data);
    return 0;
}

static int
text_put_obj(growbuf *t, PyObject *s)  /* a str's UTF-8, as it is */
{
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    return u == NULL ? -1 : growbuf_append(t, u, (size_t)n);
}

/* One entry of a record's files: {"job": job, "path": path, "removed": true} if removed, else
 * {"job": job, "path": path, "size": size, "sha256": sha} (size an int or None, sha a str or
 * None), as capture._file_text writes it. 0 or -1 with an error set. */
static int
text_put_fields(growbuf *t, PyObject *job, PyObject *path, int removed, PyObject *size,
                PyObject *sha)
{
    if (growbuf_append(t, "{\"job\": ", 8) || text_put_str(t, job)
            || growbuf_append(t, ", \"path\": ", 10) || text_put_str(t, path))
        return -1;
    if (removed)
        return growbuf_append(t, ", \"removed\": true}", 18);
    if (growbuf_append(t, ", \"size\": ", 10))
        return -1;
    if (size == Py_None) {
        if (growbuf_append(t, "null", 4))
            return -1;
    }
    else {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(size, &overflow);
        if (v == -1 && PyErr_Occurred())
            return -1;
        if (!overflow) {  /* what str(size) gives, without a str object or printf */
            char digits[24], *d = digits + sizeof digits;
            unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
            do
                *--d = (char)('0' + u % 10);
            while ((u /= 10) != 0);
            if (v < 0)
                *--d = '-';
            if (growbuf_append(t, d, (size_t)(digits + sizeof digits - d)))
                return -1;
        }
        else {
            PyObject *text = PyObject_Str(size);
            int bad = text == NULL || text_put_obj(t, text);
            Py_XDECREF(text);
            if (bad)
                return -1;
        }
    }
    if (growbuf_append(t, ", \"sha256\": ", 12))
        return -1;
    if (sha == Py_None ? growbuf_append(t, "null", 4) : text_put_str(t, sha))
        return -1;
    return growbuf_append(t, "}", 1);
}

/* One entry in the forms flat_changes makes, written; 1 if it is not one of them (the
 * caller's fallback writes it), -1 on error. */
static int
text_put_entry(growbuf *t, PyObject *e)
{
    if (!PyDict_CheckExact(e))
        return 1;
    Py_ssize_t n = PyDict_GET_SIZE(e);
    if (n != 3 && n != 4)
        return 1;
    PyObject *job = PyDict_GetItemWithError(e, k_job);
    PyObject *path = job ? PyDict_GetItemWithError(e, k_path) : NULL;
    if (path == NULL || !PyUnicode_CheckExact(job) || !PyUnicode_CheckExact(path))
        return PyErr_Occurred() ? -1 : 1;
    PyObject *removed = NULL, *size = NULL, *sha = NULL;
    if (n == 3) {
        removed = PyDict_GetItemWithError(e, k_removed);
        if (removed != Py_True)
            return PyErr_Occurred() ? -1 : 1;
    }
    else {
        size = PyDict_GetItemWithError(e, k_size);
        sha = size ? PyDict_GetItemWithError(e, k_sha256) : NULL;
        if (sha == NULL || !(size == Py_None || PyLong_CheckExact(size))
                || !(sha == Py_None || PyUnicode_CheckExact(sha)))
            return PyErr_Occurred() ? -1 : 1;
    }
    return text_put_fields(t, job, path, removed != NULL, size, sha);
}

PyDoc_STRVAR(files_text_doc,
"files_text(fallback, files) -> str\n\n"
"The entries of a record's files (flat_changes) as JSON, joined by ', ': an entry in one of\n"
"flat_changes' two forms (a dict of exactly job, path (str), size (int or None), sha256 (str\n"
"or None), or of job, path, removed=True) is written here, strings escaped as\n"
"json.encoder.encode_basestring_ascii does; any other is what fallback(entry) returns (a\n"
"str). Reference: suite.provenance.capture.files_text_python. Raises TypeError if files is\n"
"not a list, and what fallback raises.");

static PyObject *
files_text(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 2 || !PyList_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "files_text(fallback, files: list)");
        return NULL;
    }
    PyObject *fallback = args[0], *files = args[1], *result = NULL;
    growbuf t = {NULL, 0, 0};
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(files); i++) {
        if (i && growbuf_append(&t, ", ", 2))
            goto done;
        PyObject *e = PyList_GET_ITEM(files, i);
        Py_INCREF(e);  /* a fallback may change the list */
        int done_here = text_put_entry(&t, e);
        if (done_here == 1) {
            PyObject *s = PyObject_CallOneArg(fallback, e);
            if (s != NULL && !PyUnicode_Check(s)) {
                PyErr_SetString(PyExc_TypeError, "fallback must return a str");
                Py_CLEAR(s);
            }
            done_here = s == NULL ? -1 : text_put_obj(&t, s);
            Py_XDECREF(s);
        }
        Py_DECREF(e);
        if (done_here != 0)
            goto done;
    }
    result = PyUnicode_FromStringAndSize(t.data ? t.data : "", (Py_ssize_t)t.len);
done:
    growbuf_free(&t);
    return result;
}

/* flat_changes_text's buffer, kept between calls (only with the GIL held: the text is built
 * without releasing it) up to TEXT_BUF_KEEP bytes */
static growbuf text_buf = {NULL, 0, 0};
#define TEXT_BUF_KEEP (64 * 1024)

/* ---- flat_changes_text's fast path: the scan after in one stretch without the GIL -------- */

/* Where old ({name: signature}) holds str names and signatures of four ints (what flat_sigs
 * makes, always in a run), the listing, the lstat of each file old knows, the comparison and
 * the hashes of the files that fit one read all run in one stretch without the GIL, the
 * names stay bytes, and the text is written from them: the Python objects per entry, the
 * lock's hand-overs per system call and the dict lookups were ~3,000 instructions an
 * execution. Any other old goes the way of changes_core (same result; the tests compare
 * both with the reference). */

/* A file of old as C: its name's bytes (what the listing would give for it) and signature. */
struct oldfile {
    const char *name;
    size_t len;           /* SIZE_MAX: no listed name can be this one */
    long long size, mtime, ctime;
    unsigned long long ino;
    PyObject *key;        /* borrowed from old */
    PyObject *owner;      /* bytes holding name, or NULL */
    int still;            /* listed after, and a regular file */
};

/* per entry of the listing after: what became of it (state: SAME, HASHED, VANISHED, LARGE) */
struct changed {
    size_t entry;         /* index in the listing */
    long long size;       /* -1: the read's */
    int state;
    int fd;               /* LARGE: the file, still open (digest_nogil), or -1 */
    char hex[65];
};

#define FIRST_OLD 16
#define FIRST_KNOWN 4

static int
oldfile_cmp(const void *a, const void *b)
{
    const struct oldfile *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? -1 : 1;
    return x->len == SIZE_MAX ? 0 : memcmp(x->name, y->name, x->len);
}

/* The signature value as four C integers: 1, or 0 where it is not a tuple of four ints in
 * range (the slow path compares such a one as Python would). No error is left set. */
static int
c_sig(PyObject *sig, struct oldfile *o)
{
    if (!PyTuple_CheckExact(sig) || PyTuple_GET_SIZE(sig) != 4)
        return 0;
    long long v[3];
    for (int i = 0; i < 3; i++) {
        PyObject *x = PyTuple_GET_ITEM(sig, i);
        int overflow;
        if (!PyLong_CheckExact(x))
            return 0;
        v[i] = PyLong_AsLongLongAndOverflow(x, &overflow);
        if (overflow || (v[i] == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return 0;
        }
    }
    PyObject *x = PyTuple_GET_ITEM(sig, 3);
    if (!PyLong_CheckExact(x))
        return 0;
    o->ino = PyLong_AsUnsignedLongLong(x);
    if (o->ino == (unsigned long long)-1 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    o->size = v[0];
    o->mtime = v[1];
    o->ctime = v[2];
    return 1;
}

/* The bytes a listed name must have to decode to key (a str): its UTF-8, or the file-system
 * encoding's surrogateescape bytes where they decode back to key. *len SIZE_MAX where no
 * listed name decodes to key. -1 with an error set (memory), else 0. */
static int
c_name(PyObject *key, struct oldfile *o)
{
    Py_ssize_t n;
    o->owner = NULL;
    o->name = PyUnicode_AsUTF8AndSize(key, &n);
    if (o->name != NULL) {
        o->len = (size_t)n;
        return 0;
    }
    PyErr_Clear();  /* lone surrogates: bytes the listing decoded with surrogateescape */
    o->len = SIZE_MAX;
    PyObject *raw = PyUnicode_EncodeFSDefault(key);
    if (raw == NULL) {  /* a surrogate no byte decodes to */
        PyErr_Clear();
        return 0;
    }
    PyObject *back = PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(raw),
                                                      PyBytes_GET_SIZE(raw));
    int same = back == NULL ? -1 : PyUnicode_Compare(back, key) == 0;
    Py_XDECREF(back);
    if (same < 0 || PyErr_Occurred()) {
        Py_DECREF(raw);
        return -1;
    }
    if (!same) {  /* encodes to bytes that decode to another name */
        Py_DECREF(raw);
        return 0;
    }
    o->owner = raw;
    o->name = PyBytes_AS_STRING(raw);
    o->len = (size_t)PyBytes_GET_SIZE(raw);
    return 0;
}

/* Whether st has the signature o holds. */
static int
same_sig(const struct stat *st, const struct oldfile *o)
{
    return (long long)st->st_size == o->size
        && (long long)st->st_mtim.tv_sec * 1000000000LL + st->st_mtim.tv_nsec == o->mtime
        && (long long)st->st_ctim.tv_sec * 1000000000LL + st->st_ctim.tv_nsec == o->ctime
        && (unsigned long long)st->st_ino == o->ino;
}

/* A file suite's writer wrote (capture._written): its bytes and signature as C, its name
 * as the listing gives it (the UTF-8 of its path after the job directory's and a '/'). */
struct known {
    struct oldfile f;     /* f.owner: the path (a reference held), whose UTF-8 f.name is in */
    PyObject *data;       /* a bytes object of at most CHUNK bytes (a reference held) */
};

static PyObject *s_st_size, *s_st_mtime_ns, *s_st_ctime_ns, *s_st_ino;
/* os.stat_result, and the items holding st_size, st_mtime_ns, st_ctime_ns and st_ino (found
 * at init by building one from distinct values; NULL where that did not work: attributes) */
static PyTypeObject *stat_type;
static Py_ssize_t stat_items[4];

/* Set stat_type and stat_items; where os.stat_result is not as expected, leave stat_type NULL
 * (no error set). -1 only for an error that is not about that (memory). */
static int
find_stat_items(void)
{
    PyObject *os = PyImport_ImportModule("os"), *type = NULL, *n = NULL, *values = NULL,
             *made = NULL;
    PyObject *names[4] = {s_st_size, s_st_mtime_ns, s_st_ctime_ns, s_st_ino};
    Py_ssize_t fields = -1, found[4];
    int ok = 0;
    if (os == NULL)
        return -1;
    type = PyObject_GetAttrString(os, "stat_result");
    if (type != NULL && PyType_Check(type))
        n = PyObject_GetAttrString(type, "n_fields");
    if (n != NULL)
        fields = PyLong_AsSsize_t(n);
    if (fields > 0 && fields < 1000 && (values = PyTuple_New(fields)) != NULL) {
        Py_ssize_t i = 0;
        for (; i < fields; i++) {  /* item i holds 1,000,000 + i */
            PyObject *v = PyLong_FromSsize_t(1000000 + i);
            if (v == NULL)
                break;
            PyTuple_SET_ITEM(values, i, v);
        }
        if (i == fields)
            made = PyObject_CallOneArg(type, values);
    }
    /* a struct sequence holds its hidden fields (the *_ns ones) as items beyond its size */
    if (made != NULL && Py_IS_TYPE(made, (PyTypeObject *)type) && PyTuple_Check(made)) {
        ok = 1;
        for (int k = 0; ok && k < 4; k++) {
            PyObject *v = PyObject_GetAttr(made, names[k]);
            found[k] = v != NULL && PyLong_CheckExact(v) ? PyLong_AsSsize_t(v) - 1000000 : -1;
            ok = found[k] >= 0 && found[k] < fields
                && ((PyTupleObject *)made)->ob_item[found[k]] == v;
            Py_XDECREF(v);
        }
    }
    int memory = PyErr_Occurred() && PyErr_ExceptionMatches(PyExc_MemoryError);
    PyErr_Clear();
    if (ok) {
        stat_type = (PyTypeObject *)Py_NewRef(type);
        memcpy(stat_items, found, sizeof found);
    }
    Py_DECREF(os);
    Py_XDECREF(type);
    Py_XDECREF(n);
    Py_XDECREF(values);
    Py_XDECREF(made);
    if (memory) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* One item of a written list, as capture._written_names takes it: 1 with *w filled (both
 * references held) where it is (path, bytes of at most CHUNK, st) with path root's UTF-8, '/'
 * and a name, and st's four signature attributes ints in range; 0 for any other item; -1
 * with an error set (one other than AttributeError from st). */
static int
known_item(PyObject *item, const char *root, Py_ssize_t root_len, struct known *w)
{
    if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 3)
        return 0;
    PyObject *path = PyTuple_GET_ITEM(item, 0), *data = PyTuple_GET_ITEM(item, 1);
    PyObject *st = PyTuple_GET_ITEM(item, 2);
    if (!PyUnicode_CheckExact(path) || !PyBytes_CheckExact(data)
            || PyBytes_GET_SIZE(data) > CHUNK)
        return 0;
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(path, &n);
    if (u == NULL) {  /* lone surrogates: not a name the listing gives as UTF-8 */
        PyErr_Clear();
        return 0;
    }
    if (n <= root_len + 1 || memcmp(u, root, (size_t)root_len) != 0 || u[root_len] != '/'
            || memchr(u + root_len + 1, '/', (size_t)(n - root_len - 1)) != NULL)
        return 0;
    PyObject *names[4] = {s_st_size, s_st_mtime_ns, s_st_ctime_ns, s_st_ino}, *sig;
    if ((sig = PyTuple_New(4)) == NULL)
        return -1;
    for (int i = 0; i < 4; i++) {
        /* an os.stat_result's fields are items: read where init found them (four attribute
         * lookups were ~650 instructions a record) */
        PyObject *v = stat_type != NULL && Py_IS_TYPE(st, stat_type)
            ? Py_XNewRef(((PyTupleObject *)st)->ob_item[stat_items[i]]) : NULL;
        if (v == NULL)
            v = PyObject_GetAttr(st, names[i]);
        if (v == NULL) {
            Py_DECREF(sig);
            if (!PyErr_ExceptionMatches(PyExc_AttributeError))
                return -1;
            PyErr_Clear();
            return 0;
        }
        PyTuple_SET_ITEM(sig, i, v);
    }
    int fits = c_sig(sig, &w->f);
    Py_DECREF(sig);
    if (!fits)
        return 0;
    w->f.name = u + root_len + 1;
    w->f.len = (size_t)(n - root_len - 1);
    w->f.owner = Py_NewRef(path);
    w->data = Py_NewRef(data);
    return 1;
}

/* The files of written (a list, or NULL) directly in the directory root (a str), the last
 * item of a name counting, into *out (*out_n of them; first: FIRST_KNOWN on the caller's
 * stack, else a PyMem block to free). 0, or -1 with an error set. */
static int
knowns_of(PyObject *written, PyObject *root, struct known *first, struct known **out,
          Py_ssize_t *out_n)
{
    *out = first;
    *out_n = 0;
    if (written == NULL || PyList_GET_SIZE(written) == 0)
        return 0;
    Py_ssize_t root_len;
    const char *r = PyUnicode_AsUTF8AndSize(root, &root_len);
    if (r == NULL) {
        PyErr_Clear();
        return 0;
    }
    Py_ssize_t n = PyList_GET_SIZE(written);
    if (n > FIRST_KNOWN && (*out = PyMem_Malloc(n * sizeof **out)) == NULL) {
        *out = first;
        PyErr_NoMemory();
        return -1;
    }
    for (Py_ssize_t i = n - 1; i >= 0 && i < PyList_GET_SIZE(written); i--) {
        PyObject *item = Py_NewRef(PyList_GET_ITEM(written, i));  /* getattr may run code */
        struct known *w = &(*out)[*out_n];
        int got = known_item(item, r, root_len, w);
        Py_DECREF(item);
        if (got < 0)
            return -1;
        if (!got)
            continue;
        int seen = 0;  /* a later write of the name was taken already */
        for (Py_ssize_t k = 0; k < *out_n && !seen; k++)
            seen = (*out)[k].f.len == w->f.len && memcmp((*out)[k].f.name, w->f.name, w->f.len) == 0;
        if (seen) {
            Py_DECREF(w->f.owner);
            Py_DECREF(w->data);
            continue;
        }
        ++*out_n;
    }
    return 0;
}

static void
knowns_free(struct known *first, struct known *arr, Py_ssize_t n)
{
    for (Py_ssize_t k = 0; k < n; k++) {
        Py_DECREF(arr[k].f.owner);
        Py_DECREF(arr[k].data);
    }
    if (arr != first)
        PyMem_Free(arr);
}

static struct known *
known_named(struct known *arr, Py_ssize_t n, const char *name)
{
    size_t len = strlen(name);
    for (Py_ssize_t k = 0; k < n; k++)
        if (arr[k].f.len == len && memcmp(arr[k].f.name, name, len) == 0)
            return &arr[k];
    return NULL;
}

/* What capture._written_bytes tells, with the GIL: where written (a list, or NULL) holds
 * bytes of dir_fd/entry (in the directory root) and that file is a regular file with their
 * signature (by its lstat: known, or taken here), *size (the lstat's) and *hex (their
 * SHA-256) and 1; 0 where not (the caller reads the file); -1 with an error set. */
static int
written_digest(PyObject *written, PyObject *root, int dir_fd, const char *entry,
               const struct stat *known, long long *size, PyObject **hex)
{
    struct known first[FIRST_KNOWN], *arr, *w;
    Py_ssize_t n;
    int result = 0;
    if (written == NULL)
        return 0;
    if (knowns_of(written, root, first, &arr, &n) != 0)
        return -1;
    if ((w = known_named(arr, n, entry)) != NULL) {
        struct stat st;
        if (known == NULL && lstat_at(dir_fd, entry, &st) == 0)
            known = &st;
        if (known != NULL && S_ISREG(known->st_mode) && same_sig(known, &w->f)) {
            char text[65];
            sha256_hex((const unsigned char *)PyBytes_AS_STRING(w->data),
                       (size_t)PyBytes_GET_SIZE(w->data), text);
            *size = (long long)known->st_size;
            *hex = PyUnicode_FromStringAndSize(text, 64);
            result = *hex == NULL ? -1 : 1;
        }
    }
    knowns_free(first, arr, n);
    return result;
}

/* files of more than one read a listing keeps open from digest_nogil to their hashing (a
 * directory of many large new files must not run out of descriptors: beyond these, they are
 * opened again) */
#define KEEP_OPEN 16

/* (size, hex) of dir_fd/name as digest() gives them, without the GIL and without Python:
 * HASHED (hex and *size set), VANISHED (not readable), LARGE (more than one read: the caller
 * hashes it holding the GIL, from *fd when that is open: read_start leaves it open while
 * *kept < KEEP_OPEN, else it is closed and -1) or -1 (out of memory). */
static int
digest_nogil(int dir_fd, const char *name, char **buf, long long *size, char hex[65],
             int *fd, int *kept)
{
    char first[FIRST];
    const char *data;
    ssize_t n;
    int state = read_start(dir_fd, name, first, buf, &data, &n, fd);
    if (state == LARGE) {
        if (*kept < KEEP_OPEN)
            ++*kept;
        else {
            close(*fd);
            *fd = -1;
        }
    }
    else if (state == HASHED) {
        sha256_hex((const unsigned char *)data, (size_t)n, hex);
        *size = n;
    }
    return state;
}

/* The bytes of name[:len] as text_put_str writes the str they decode to, for ASCII. */
static int
text_put_ascii(growbuf *t, const char *name, size_t len)
{
    if (growbuf_reserve(t, 2 + 6 * len) != 0)
        return -1;
    char *o = t->data + t->len;
    *o++ = '"';
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (plain[c]) {
            *o++ = (char)c;
            continue;
        }
        o = json_escape(o, c);
    }
    *o++ = '"';
    t->len = (size_t)(o - t->data);
    return 0;
}

/* the listing whose names changed_cmp compares (set just before qsort; the GIL is held) */
static const struct listing *sorting;

static int
changed_cmp(const void *a, const void *b)
{
    return strcmp(sorting->items[((const struct changed *)a)->entry].name,
                  sorting->items[((const struct changed *)b)->entry].name);
}

/* flat_changes_text's text by the fast path, added to t (from its length on): 1 with *out
 * Py_True (the text is in t), Py_None (not flat) or NULL (an error set); or 0 where old is not
 * for it (nothing done). */
static int
changes_fast(PyObject *job, PyObject *path, PyObject *old, PyObject *written, growbuf *t,
             PyObject **out)
{
    Py_ssize_t n_old = PyDict_GET_SIZE(old);
    struct known first_known[FIRST_KNOWN], *knowns = first_known;
    Py_ssize_t n_known = 0;
    struct oldfile first_old[FIRST_OLD], *olds = first_old;
    struct changed first_changed[FIRST_ITEMS], *changed = first_changed;
    PyObject *encoded = NULL, *gone = NULL, *order = NULL;
    struct listing l;
    char *buf = NULL;
    int fd = -1, err = 0, not_flat = 0, handled = 0, kept = 0;
    size_t n_changed = 0, err_entry = 0;
    Py_ssize_t filled = 0;
    listing_init(&l);
    *out = NULL;
    if (n_old > FIRST_OLD && (olds = PyMem_Malloc(n_old * sizeof *olds)) == NULL) {
        PyErr_NoMemory();
        handled = 1;
        goto done;
    }
    PyObject *key, *value;
    Py_ssize_t pos = 0;
    while (PyDict_Next(old, &pos, &key, &value)) {
        struct oldfile *o = &olds[filled];
        if (!PyUnicode_CheckExact(key) || !c_sig(value, o))
            goto done;  /* not for the fast path */
        o->key = key;
        o->still = 0;
        if (c_name(key, o) != 0) {
            handled = 1;
            goto done;
        }
        filled++;
    }
    handled = 1;
    if (filled > 1)
        qsort(olds, (size_t)filled, sizeof *olds, oldfile_cmp);
    /* the bytes written here that the scan may hash instead of reading (references held:
     * the list may change while the GIL is released) */
    if (knowns_of(written, path, first_known, &knowns, &n_known) != 0)
        goto done;
    const char *dir_path = dir_text(path, &encoded);
    if (dir_path == NULL)
        goto done;
    UNLOCK_IF_SHARED
    fd = open_quietly(AT_FDCWD, dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, &noatime);
    if (fd < 0)
        err = errno == ENOENT ? 0 : errno;  /* a missing directory is empty */
    else if ((err = list_fd(fd, &l, &rules)) != 0) {
        close(fd);
        fd = -1;
        if (err == ENOENT) {  /* removed while listed: empty, as os.scandir then ends */
            err = 0;
            l.count = 0;
        }
    }
    if (!err && l.count > FIRST_ITEMS
            && (changed = malloc(l.count * sizeof *changed)) == NULL)
        err = ENOMEM;
    for (size_t i = 0; !err && i < l.count; i++) {
        const struct entry *e = &l.items[i];
        struct stat st;
        if (e->type == DT_UNKNOWN) {  /* as DirEntry.is_file(follow_symlinks=False) */
            if (fstatat(fd, e->name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                if (errno == ENOENT)
                    not_flat = 1;
                else {
                    err = errno;
                    err_entry = i + 1;
                }
                break;
            }
            if (!S_ISREG(st.st_mode)) {
                not_flat = 1;
                break;
            }
        }
        else if (e->type != DT_REG) {
            not_flat = 1;
            break;
        }
        struct oldfile probe = {.name = e->name, .len = strlen(e->name)}, *o = NULL;
        if (filled)
            o = bsearch(&probe, olds, (size_t)filled, sizeof *olds, oldfile_cmp);
        struct changed *c = &changed[n_changed];
        c->entry = i;
        c->size = -1;
        c->fd = -1;
        if (o != NULL) {
            if (fstatat(fd, e->name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                if (errno == ENOENT)  /* removed while we looked */
                    continue;
                err = errno;
                err_entry = i + 1;
                break;
            }
            o->still = 1;
            if ((long long)st.st_size == o->size
                    && (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec
                       == o->mtime
                    && (long long)st.st_ctim.tv_sec * 1000000000LL + st.st_ctim.tv_nsec
                       == o->ctime
                    && (unsigned long long)st.st_ino == o->ino)
                continue;
            c->size = (long long)st.st_size;
        }
        struct known *w = n_known ? known_named(knowns, n_known, e->name) : NULL;
        if (w != NULL) {  /* written by suite here: its bytes, if the file is still them */
            struct stat now;
            const struct stat *sp = o != NULL ? &st : NULL;
            if (sp == NULL && fstatat(fd, e->name, &now, AT_SYMLINK_NOFOLLOW) == 0)
                sp = &now;
            if (sp != NULL && S_ISREG(sp->st_mode) && same_sig(sp, &w->f)) {
                sha256_hex((const unsigned char *)PyBytes_AS_STRING(w->data),
                           (size_t)PyBytes_GET_SIZE(w->data), c->hex);
                c->state = HASHED;
                c->size = (long long)sp->st_size;
                n_changed++;
                continue;
            }
        }
        long long read_size = -1;
        c->state = digest_nogil(fd, e->name, &buf, &read_size, c->hex, &c->fd, &kept);
        if (c->state < 0) {
            err = ENOMEM;
            break;
        }
        if (c->state == HASHED && c->size < 0)
            c->size = read_size;
        n_changed++;
    }
    RELOCK_IF_SHARED
    if (err) {
        set_os_error(err, path, err_entry ? l.items[err_entry - 1].name : NULL);
        goto done;
    }
    if (not_flat) {
        *out = Py_NewRef(Py_None);
        goto done;
    }
    /* files of more than one read: hashlib, with the GIL */
    for (size_t k = 0; k < n_changed; k++) {
        struct changed *c = &changed[k];
        if (c->state != LARGE)
            continue;
        long long read_size;
        PyObject *hex;
        int bad;
        if (c->fd >= 0) {  /* still open: from its start again, into the one buffer */
            int large = c->fd;
            ssize_t n;
            c->fd = -1;
            Py_BEGIN_ALLOW_THREADS
            do
                n = pread(large, buf, CHUNK, 0);
            while (n < 0 && errno == EINTR);
            Py_END_ALLOW_THREADS
            bad = hash_large(large, buf, n, &read_size, &hex);
        }
        else
            bad = digest(fd, l.items[c->entry].name, &buf, &read_size, &hex);
        if (bad)
            goto done;
        if (hex == Py_None)
            c->state = VANISHED;
        else {
            c->state = HASHED;
            memcpy(c->hex, PyUnicode_AsUTF8(hex), 65);
            if (c->size < 0)
                c->size = read_size;
        }
        Py_DECREF(hex);
    }
    /* sorted by name as str: for ASCII names by their bytes, else by the decoded names */
    int all_ascii = 1;
    for (size_t k = 0; all_ascii && k < n_changed; k++) {
        const char *name = l.items[changed[k].entry].name;
        all_ascii = is_ascii(name, strlen(name));
    }
    if (n_changed > 1 && all_ascii) {
        sorting = &l;
        qsort(changed, n_changed, sizeof *changed, changed_cmp);
        sorting = NULL;
    }
    else if (n_changed > 1) {
        if ((order = PyList_New((Py_ssize_t)n_changed)) == NULL)
            goto done;
        for (size_t k = 0; k < n_changed; k++) {
            PyObject *name = PyUnicode_DecodeFSDefault(l.items[changed[k].entry].name);
            PyObject *pair = name == NULL ? NULL : Py_BuildValue("(Nn)", name, (Py_ssize_t)k);
            if (pair == NULL)
                goto done;
            PyList_SET_ITEM(order, (Py_ssize_t)k, pair);
        }
        if (PyList_Sort(order) != 0)
            goto done;
    }
    /* old's names no longer there, sorted */
    Py_ssize_t n_gone = 0;
    for (Py_ssize_t k = 0; k < filled; k++)
        n_gone += !olds[k].still;
    if (n_gone) {
        if ((gone = PyList_New(0)) == NULL)
            goto done;
        for (Py_ssize_t k = 0; k < filled; k++)
            if (!olds[k].still && PyList_Append(gone, olds[k].key) != 0)
                goto done;
        if (n_gone > 1 && PyList_Sort(gone) != 0)
            goto done;
    }
    /* the text */
    size_t k = 0;
    for (; k < n_changed; k++) {
        struct changed *c = order == NULL ? &changed[k]
            : &changed[PyLong_AsSsize_t(PyTuple_GET_ITEM(PyList_GET_ITEM(order, k), 1))];
        const char *name = l.items[c->entry].name;
        size_t len = strlen(name);
        if ((k && growbuf_append(t, ", ", 2)) || growbuf_append(t, "{\"job\": ", 8)
                || text_put_str(t, job) || growbuf_append(t, ", \"path\": ", 10))
            goto done;
        if (is_ascii(name, len)) {
            if (text_put_ascii(t, name, len))
                goto done;
        }
        else {
            PyObject *decoded = PyUnicode_DecodeFSDefault(name);
            int bad = decoded == NULL || text_put_str(t, decoded);
            Py_XDECREF(decoded);
            if (bad)
                goto done;
        }
        if (growbuf_append(t, ", \"size\": ", 10))
            goto done;
        if (c->state != HASHED && c->size < 0) {
            if (growbuf_append(t, "null", 4))
                goto done;
        }
        else {
            char digits[24], *d = digits + sizeof digits;
            unsigned long long u = c->size < 0 ? 0ULL - (unsigned long long)c->size
                                               : (unsigned long long)c->size;
            do
                *--d = (char)('0' + u % 10);
            while ((u /= 10) != 0);
            if (c->size < 0)
                *--d = '-';
            if (growbuf_append(t, d, (size_t)(digits + sizeof digits - d)))
                goto done;
        }
        if (growbuf_append(t, ", \"sha256\": ", 12))
            goto done;
        if (c->state == HASHED) {
            if (growbuf_append(t, "\"", 1) || growbuf_append(t, c->hex, 64)
                    || growbuf_append(t, "\"}", 2))
                goto done;
        }
        else if (growbuf_append(t, "null}", 5))
            goto done;
    }
    for (Py_ssize_t g = 0; g < n_gone; g++, k++)
        if ((k && growbuf_append(t, ", ", 2))
                || text_put_fields(t, job, PyList_GET_ITEM(gone, g), 1, NULL, NULL))
            goto done;
    *out = Py_NewRef(Py_True);
done:
    if (fd >= 0)
        close(fd);
    for (size_t k = 0; kept && k < n_changed; k++)  /* large files not hashed (an error) */
        if (changed[k].state == LARGE && changed[k].fd >= 0)
            close(changed[k].fd);
    for (Py_ssize_t k = 0; k < filled; k++)
        Py_XDECREF(olds[k].owner);
    knowns_free(first_known, knowns, n_known);
    if (olds != first_old)
        PyMem_Free(olds);
    if (changed != first_changed)
        free(changed);
    listing_free(&l);
    PyMem_RawFree(buf);
    Py_XDECREF(encoded);
    Py_XDECREF(gone);
    Py_XDECREF(order);
    return handled;
}

PyDoc_STRVAR(flat_changes_text_doc,
"flat_changes_text(job, path, old, written=None) -> str or None\n\n"
"files_text of flat_changes(job, path, old) in one call, without the entries' dicts: the JSON\n"
"of each entry, joined by ', ' ('' when nothing changed); None where flat_changes gives None.\n"
"job is a str. written ([(path, bytes, stat_result)] or None): a file of path's directory that\n"
"is a regular file with the signature of its last item (its lstat) is hashed from those\n"
"bytes, not read. Reference: suite.provenance.capture.flat_changes_text_python. Raises what\n"
"flat_changes raises; TypeError if job is not a str or written not a list.");

/* What changed in the flat job directory path since old, as the JSON of the entries of a
 * record's files joined by ", ", added to t: 1; 0 where the directory is not flat (t as it
 * was, or with a partial text); -1 with an error set. */
static int
changes_into(PyObject *job, PyObject *path, PyObject *old, PyObject *written, growbuf *t)
{
    PyObject *out, *found, *gone;
    if (changes_fast(job, path, old, written, t, &out)) {
        if (out == NULL)
            return -1;
        int flat = out == Py_True;
        Py_DECREF(out);
        return flat;
    }
    int flat = changes_core(path, old, written, &found, &gone);
    if (flat <= 0)
        return flat;
    int result = -1;
    Py_ssize_t n = PyList_GET_SIZE(found), k = 0;
    for (Py_ssize_t i = 0; i < n; i++, k++) {
        PyObject *row = PyList_GET_ITEM(found, i);
        if ((k && growbuf_append(t, ", ", 2))
                || text_put_fields(t, job, PyTuple_GET_ITEM(row, 0), 0,
                                   PyTuple_GET_ITEM(row, 1), PyTuple_GET_ITEM(row, 2)))
            goto done;
    }
    for (Py_ssize_t i = 0; gone != NULL && i < PyList_GET_SIZE(gone); i++, k++) {
        PyObject *name = PyList_GET_ITEM(gone, i);
        if (!PyUnicode_Check(name)) {  /* the keys of old were not names: as _file_text */
            PyErr_SetString(PyExc_TypeError, "the names in old must be str");
            goto done;
        }
        if ((k && growbuf_append(t, ", ", 2)) || text_put_fields(t, job, name, 1, NULL, NULL))
            goto done;
    }
    result = 1;
done:
    Py_DECREF(found);
    Py_XDECREF(gone);
    return result;
}

/* the kept text buffer, emptied (a malloc and free per record cost ~1,500 instructions),
 * and taken out of its slot: the scan may release the GIL, and another thread's record then
 * takes an empty slot, not the same memory (sharing it corrupted lines and freed it twice) */
static growbuf
text_take(void)
{
    growbuf t = text_buf;
    text_buf.data = NULL;
    text_buf.len = text_buf.cap = 0;
    t.len = 0;
    return t;
}

/* back into the slot (the GIL held), unless large or the slot was refilled meanwhile */
static void
text_keep(growbuf t)
{
    if (t.cap > TEXT_BUF_KEEP || text_buf.data != NULL)
        growbuf_free(&t);
    else
        text_buf = t;
}

static PyObject *
flat_changes_text(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    PyObject *written = nargs == 4 && args[3] != Py_None ? args[3] : NULL;
    if (nargs < 3 || nargs > 4 || !PyUnicode_Check(args[0]) || !PyUnicode_Check(args[1])
            || !PyDict_Check(args[2]) || (written != NULL && !PyList_Check(written))) {
        PyErr_SetString(PyExc_TypeError, "flat_changes_text(job: str, path: str, old: dict, "
                        "written: list or None = None)");
        return NULL;
    }
    if (!configured())
        return NULL;
    PyObject *result = NULL;
    growbuf t = text_take();
    int flat = changes_into(args[0], args[1], args[2], written, &t);
    if (flat == 0)
        result = Py_NewRef(Py_None);
    /* ASCII (every str was escaped): copied into the str as it is, not decoded */
    else if (flat > 0 && (result = PyUnicode_New((Py_ssize_t)t.len, 127)) != NULL && t.len)
        memcpy(PyUnicode_DATA(result), t.data, t.len);
    text_keep(t);
    return result;
}

/* ---- record_line: the scan after and the record's line in one call ---------------------- */

/* a float as repr() writes it (float_repr's own call); 0 or -1 with an error set */
static int
text_put_float(growbuf *t, double v)
{
    char *text = PyOS_double_to_string(v, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (text == NULL)
        return -1;
    int bad = growbuf_append(t, text, strlen(text));
    PyMem_Free(text);
    return bad;
}

/* a str's UTF-8 as it is (what an f-string puts in, then encode()); 0 or -1 with an error */
static int
text_put_raw(growbuf *t, PyObject *s)
{
    Py_ssize_t n;
    const char *u = PyUnicode_AsUTF8AndSize(s, &n);
    return u == NULL ? -1 : growbuf_append(t, u, (size_t)n);
}

PyDoc_STRVAR(record_line_doc,
"record_line(id, operation, jobs, start, end, status, error, job, path, old, written, shared)\n"
"-> bytes or None\n\n"
"The record line of one execution of a single job with records on and no traceback, the scan\n"
"after included: flat_changes_text(job, path, old, written) as its files, the other fields as\n"
"capture.line_text writes them (id and shared put in as they are, operation, jobs, status and\n"
"error as JSON strings, start, end and end - start as repr of floats); None where the\n"
"directory is not flat (the caller walks the tree). Reference:\n"
"suite.provenance.capture.record_line_python. Raises TypeError for other types (id, operation,\n"
"status, job, path and shared str; jobs a list of str; start and end floats; error a str or\n"
"None; old a dict; written a list or None), and what flat_changes_text raises.");

static PyObject *
record_line(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    (void)self;
    if (nargs != 12 || !PyUnicode_Check(args[0]) || !PyUnicode_Check(args[1])
            || !PyList_CheckExact(args[2]) || !PyFloat_CheckExact(args[3])
            || !PyFloat_CheckExact(args[4]) || !PyUnicode_Check(args[5])
            || !(args[6] == Py_None || PyUnicode_Check(args[6])) || !PyUnicode_Check(args[7])
            || !PyUnicode_Check(args[8]) || !PyDict_Check(args[9])
            || !(args[10] == Py_None || PyList_Check(args[10])) || !PyUnicode_Check(args[11])) {
        PyErr_SetString(PyExc_TypeError, "record_line(id: str, operation: str, jobs: list, "
                        "start: float, end: float, status: str, error: str or None, job: str, "
                        "path: str, old: dict, written: list or None, shared: str)");
        return NULL;
    }
    PyObject *jobs = args[2];
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(jobs); i++)
        if (!PyUnicode_Check(PyList_GET_ITEM(jobs, i))) {
            PyErr_SetString(PyExc_TypeError, "record_line: jobs must be a list of str");
            return NULL;
        }
    if (!configured())
        return NULL;
    double start = PyFloat_AS_DOUBLE(args[3]), end = PyFloat_AS_DOUBLE(args[4]);
    PyObject *result = NULL;
    growbuf t = text_take();
    if (growbuf_append(&t, "{\"id\": \"", 8) || text_put_raw(&t, args[0])
            || growbuf_append(&t, "\", \"operation\": ", 16) || text_put_str(&t, args[1])
            || growbuf_append(&t, ", \"jobs\": [", 11))
        goto done;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(jobs); i++)
        if ((i && growbuf_append(&t, ", ", 2)) || text_put_str(&t, PyList_GET_ITEM(jobs, i)))
            goto done;
    if (growbuf_append(&t, "], \"start\": ", 12) || text_put_float(&t, start)
            || growbuf_append(&t, ", \"end\": ", 9) || text_put_float(&t, end)
            || growbuf_append(&t, ", \"duration\": ", 14) || text_put_float(&t, end - start)
            || growbuf_append(&t, ", \"status\": ", 12) || text_put_str(&t, args[5])
            || growbuf_append(&t, ", \"error\": ", 11)
            || (args[6] == Py_None ? growbuf_append(&t, "null", 4) : text_put_str(&t, args[6]))
            || growbuf_append(&t, ", \"files\": [", 12))
        goto done;
    int flat = changes_into(args[7], args[8], args[9], args[10] == Py_None ? NULL : args[10],
                            &t);
    if (flat < 0)
        goto done;
    if (flat == 0) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    if (growbuf_append(&t, "], ", 3) || text_put_raw(&t, args[11])
            || growbuf_append(&t, "}\n", 2))
        goto done;
    result = PyBytes_FromStringAndSize(t.data, (Py_ssize_t)t.len);
done:
    text_keep(t);
    return result;
}

static PyMethodDef methods[] = {
    {"configure", (PyCFunction)(void (*)(void))configure, METH_FASTCALL, configure_doc},
    {"flat_sigs", (PyCFunction)(void (*)(void))flat_sigs, METH_FASTCALL, flat_sigs_doc},
    {"flat_changes", (PyCFunction)(void (*)(void))flat_changes, METH_FASTCALL,
     flat_changes_doc},
    {"files_text", (PyCFunction)(void (*)(void))files_text, METH_FASTCALL, files_text_doc},
    {"flat_changes_text", (PyCFunction)(void (*)(void))flat_changes_text, METH_FASTCALL,
     flat_changes_text_doc},
    {"record_line", (PyCFunction)(void (*)(void))record_line, METH_FASTCALL, record_line_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "suite.provenance._capture",
    "The scans of provenance records in C (optional; see suite/native.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__capture(void)
{
    PyObject *hashlib = PyImport_ImportModule("hashlib");
    if (hashlib == NULL)
        return NULL;
    sha256_new = PyObject_GetAttrString(hashlib, "sha256");
    Py_DECREF(hashlib);
    if (sha256_new == NULL)
        return NULL;
    if (!(k_job = PyUnicode_InternFromString("job")) || !(k_path = PyUnicode_InternFromString("path"))
            || !(k_size = PyUnicode_InternFromString("size"))
            || !(k_sha256 = PyUnicode_InternFromString("sha256"))
            || !(k_removed = PyUnicode_InternFromString("removed"))
            || !(s_hexdigest = PyUnicode_InternFromString("hexdigest"))
            || !(s_update = PyUnicode_InternFromString("update"))
            || !(s_st_size = PyUnicode_InternFromString("st_size"))
            || !(s_st_mtime_ns = PyUnicode_InternFromString("st_mtime_ns"))
            || !(s_st_ctime_ns = PyUnicode_InternFromString("st_ctime_ns"))
            || !(s_st_ino = PyUnicode_InternFromString("st_ino")))
        return NULL;
    if (find_stat_items() != 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    PyObject *items = stat_type == NULL ? Py_NewRef(Py_None)
        : Py_BuildValue("(nnnn)", stat_items[0], stat_items[1], stat_items[2], stat_items[3]);
    /* STAT_ITEMS: where the fields of an os.stat_result are read (None: by attribute) */
    if (items == NULL || PyModule_AddObject(m, "STAT_ITEMS", items) != 0) {
        Py_XDECREF(items);
        Py_DECREF(m);
        return NULL;
    }
    if (PyModule_AddIntConstant(m, "CHUNK", CHUNK) != 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
