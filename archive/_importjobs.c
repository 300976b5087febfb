/* archive._importjobs: an import's per-job loops in C, after the scan (archive/importer.py).
 *
 * Optional: archive/importer.py loads it through suite.native.load; each function has a
 * pure-Python reference named in its docstring, and tests/archive/test_importjobs.py compares
 * the two on generated inputs (hypothesis), error cases included.
 *
 * check_manifest_jobs takes the common job only (the state point valid and hashing to the
 * manifest's id, the archived state point file absent or holding the canonical bytes, every
 * member a regular file that the manifest lists with its size and hash, no links, no
 * directories) and stops at the first other job: the Python loop, the reference, takes that
 * one and raises what it raises. rename_all makes the landing renames without the GIL.
 *
 * parse_manifest and check_manifest_text read the manifest in the layout suite's exporter
 * writes (archive/manifest.py: job_line, _joined) without a Python object per entry: the
 * text is recognised whole or not at all, and the caller falls back to json.loads and the
 * Python checks for anything else (odd but valid manifests, damaged ones: their errors).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "cleanname.h"
#include "growbuf.h"
#include "md5.h"
#include "membertable.h"

static PyObject *s_statepoint, *s_id, *s_files, *s_dirs, *s_size, *s_sha256;

/* 1: the staged entry have is (file_kind, size, sha256) as info ({"size", "sha256"}) says;
 * 0: not (or not of the exact types compared here); -1: exception set */
static int
same_file(PyObject *have, PyObject *info, PyObject *file_kind)
{
    if (!PyTuple_CheckExact(have) || PyTuple_GET_SIZE(have) != 3 || !PyDict_CheckExact(info))
        return 0;
    PyObject *kind = PyTuple_GET_ITEM(have, 0), *size = PyTuple_GET_ITEM(have, 1);
    PyObject *sha = PyTuple_GET_ITEM(have, 2);
    PyObject *want_size = PyDict_GetItemWithError(info, s_size);
    if (want_size == NULL)
        return PyErr_Occurred() ? -1 : 0;
    PyObject *want_sha = PyDict_GetItemWithError(info, s_sha256);
    if (want_sha == NULL)
        return PyErr_Occurred() ? -1 : 0;
    /* exact types: the comparisons run no code of the values' own */
    if (!PyUnicode_CheckExact(kind) || !PyLong_CheckExact(size) || !PyUnicode_CheckExact(sha) ||
        !PyLong_CheckExact(want_size) || !PyUnicode_CheckExact(want_sha))
        return 0;
    if (PyUnicode_Compare(kind, file_kind) != 0 || PyUnicode_Compare(sha, want_sha) != 0)
        return 0;
    return PyObject_RichCompareBool(size, want_size, Py_EQ);
}

/* The job made (a new reference), None when it is not the common case, NULL with an
 * exception set. */
static PyObject *
one_job(PyObject *entry, PyObject *path, PyObject *grouped, PyObject *small, PyObject *validate,
        PyObject *make_job, PyObject *file_kind, PyObject *sp_name)
{
    if (!PyDict_CheckExact(entry) || !PyUnicode_CheckExact(path))
        Py_RETURN_NONE;
    int has_dirs = PyDict_Contains(entry, s_dirs);
    if (has_dirs != 0)
        return has_dirs < 0 ? NULL : Py_NewRef(Py_None);
    PyObject *sp = PyDict_GetItemWithError(entry, s_statepoint);
    PyObject *files = sp == NULL ? NULL : PyDict_GetItemWithError(entry, s_files);
    PyObject *want_id = files == NULL ? NULL : PyDict_GetItemWithError(entry, s_id);
    if (want_id == NULL)
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    PyObject *members = PyDict_GetItemWithError(grouped, path);
    if (members == NULL)
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    if (!PyDict_CheckExact(files) || !PyDict_CheckExact(members) ||
        PyDict_GET_SIZE(files) != PyDict_GET_SIZE(members))
        Py_RETURN_NONE;

    /* held across the calls of Python code below (validate, make_job) */
    Py_INCREF(files);
    Py_INCREF(want_id);
    Py_INCREF(members);
    PyObject *out = NULL, *job_files = NULL, *links = NULL, *dirs = NULL, *sp_key = NULL;
    PyObject *checked = PyObject_CallOneArg(validate, sp);
    if (checked == NULL) { /* the reference raises it again, with its own message */
        if (PyErr_ExceptionMatches(PyExc_Exception)) {
            PyErr_Clear();
            out = Py_NewRef(Py_None);
        }
        goto done;
    }
    if (!PyTuple_CheckExact(checked) || PyTuple_GET_SIZE(checked) != 3)
        goto not_common;
    PyObject *plain = PyTuple_GET_ITEM(checked, 0), *job_id = PyTuple_GET_ITEM(checked, 1);
    PyObject *text = PyTuple_GET_ITEM(checked, 2);
    if (!PyUnicode_CheckExact(job_id) || !PyUnicode_CheckExact(want_id) ||
        PyUnicode_Compare(job_id, want_id) != 0 || !PyBytes_CheckExact(text))
        goto not_common;
    /* the archived state point file: absent, or exactly the canonical bytes */
    sp_key = PyUnicode_FromFormat("%U/%U", path, sp_name);
    if (sp_key == NULL)
        goto done;
    PyObject *sp_file = PyDict_GetItemWithError(small, sp_key);
    if (sp_file == NULL && PyErr_Occurred())
        goto done;
    if (sp_file != NULL) {
        if (!PyBytes_CheckExact(sp_file) || PyBytes_GET_SIZE(sp_file) != PyBytes_GET_SIZE(text) ||
            memcmp(PyBytes_AS_STRING(sp_file), PyBytes_AS_STRING(text),
                   (size_t)PyBytes_GET_SIZE(text)) != 0)
            goto not_common;
    }
    /* every manifest file among the job's members, as many members as files: the same set */
    job_files = PyDict_New();
    if (job_files == NULL)
        goto done;
    Py_ssize_t pos = 0;
    PyObject *rel, *info;
    while (PyDict_Next(files, &pos, &rel, &info)) {
        if (!PyUnicode_CheckExact(rel))
            goto not_common;
        PyObject *have = PyDict_GetItemWithError(members, rel);
        if (have == NULL) {
            if (PyErr_Occurred())
                goto done;
            goto not_common; /* missing, or named otherwise in the manifest: the reference says */
        }
        int same = same_file(have, info, file_kind);
        if (same < 0)
            goto done;
        if (!same)
            goto not_common;
        PyObject *pair = PyTuple_GetSlice(have, 1, 3);
        int rc = pair == NULL ? -1 : PyDict_SetItem(job_files, rel, pair);
        Py_XDECREF(pair);
        if (rc < 0)
            goto done;
    }
    links = PyDict_New();
    dirs = PyList_New(0);
    if (links == NULL || dirs == NULL)
        goto done;
    PyObject *args[] = {job_id, plain, path, job_files, links, dirs};
    out = PyObject_Vectorcall(make_job, args, 6, NULL);
    goto done;
not_common:
    out = Py_NewRef(Py_None);
done:
    Py_XDECREF(checked);
    Py_DECREF(files);
    Py_DECREF(want_id);
    Py_DECREF(members);
    Py_XDECREF(sp_key);
    Py_XDECREF(job_files);
    Py_XDECREF(links);
    Py_XDECREF(dirs);
    return out;
}

PyDoc_STRVAR(check_manifest_jobs_doc,
"check_manifest_jobs(entries, paths, grouped, small, validate, start, jobs, make_job,\n"
"                    file_kind, sp_name) -> int\n\n"
"From entries[start] on (the manifest's job entries; paths: their clean paths), append to\n"
"the list jobs make_job(id, statepoint, path, files, {}, []) for each job as\n"
"archive.importer._manifest_job makes it (the reference), while the job is the common case:\n"
"validate(statepoint) (suite.statepoint.validate_owned) gives the manifest's id, the file\n"
"path/sp_name in small is absent or the canonical bytes, and grouped[path] holds exactly\n"
"the manifest's files, each (file_kind, size, sha256) as the manifest says. Returns the\n"
"index of the first job that is not (len(entries) when all were): the reference takes it.\n"
"Raises TypeError for arguments of other types, MemoryError, and what make_job raises.");

static PyObject *
check_manifest_jobs(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *entries, *paths, *grouped, *small, *validate, *jobs, *make_job, *file_kind, *sp_name;
    Py_ssize_t start;
    if (!PyArg_ParseTuple(args, "O!O!O!O!OnO!OUU:check_manifest_jobs", &PyList_Type, &entries,
                          &PyList_Type, &paths, &PyDict_Type, &grouped, &PyDict_Type, &small,
                          &validate, &start, &PyList_Type, &jobs, &make_job, &file_kind,
                          &sp_name))
        return NULL;
    Py_ssize_t i = start < 0 ? 0 : start;
    for (; i < PyList_GET_SIZE(entries) && i < PyList_GET_SIZE(paths); i++) {
        PyObject *entry = PyList_GET_ITEM(entries, i), *path = PyList_GET_ITEM(paths, i);
        Py_INCREF(entry); /* held: validate and make_job run Python code */
        Py_INCREF(path);
        PyObject *job = one_job(entry, path, grouped, small, validate, make_job, file_kind,
                                sp_name);
        Py_DECREF(entry);
        Py_DECREF(path);
        if (job == NULL)
            return NULL;
        if (job == Py_None) {
            Py_DECREF(job);
            break;
        }
        int rc = PyList_Append(jobs, job);
        Py_DECREF(job);
        if (rc < 0)
            return NULL;
    }
    return PyLong_FromSsize_t(i);
}

PyDoc_STRVAR(rename_all_doc,
"rename_all(sources, targets) -> None\n\n"
"os.rename(sources[i], targets[i]) for each i in order (paths as str), without the\n"
"interpreter lock. Reference: archive.importer.rename_all_python. Raises OSError naming\n"
"both paths at the first that fails (those before it are renamed), TypeError or\n"
"ValueError for arguments os.rename refuses (not str, NUL inside, lists of two lengths).");

static PyObject *
rename_all(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *sources, *targets;
    if (!PyArg_ParseTuple(args, "O!O!:rename_all", &PyList_Type, &sources, &PyList_Type,
                          &targets))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(sources);
    if (PyList_GET_SIZE(targets) != n) {
        PyErr_SetString(PyExc_ValueError, "rename_all: sources and targets differ in length");
        return NULL;
    }
    /* the paths' bytes, taken first: nothing of Python is touched without the lock */
    PyObject *encoded = PyList_New(2 * n);
    const char **names = PyMem_Malloc((size_t)(2 * n + 1) * sizeof(char *));
    if (encoded == NULL || names == NULL) {
        Py_XDECREF(encoded);
        PyMem_Free(names);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < 2 * n; i++) {
        PyObject *path = PyList_GET_ITEM(i < n ? sources : targets, i < n ? i : i - n);
        PyObject *bytes = NULL;
        if (!PyUnicode_Check(path)) {
            PyErr_Format(PyExc_TypeError, "rename_all: a path must be a str, not %.100s",
                         Py_TYPE(path)->tp_name);
        }
        else if (PyUnicode_FSConverter(path, &bytes) && bytes != NULL) {
            PyList_SET_ITEM(encoded, i, bytes);
            names[i] = PyBytes_AS_STRING(bytes);
            continue;
        }
        Py_DECREF(encoded);
        PyMem_Free(names);
        return NULL;
    }
    Py_ssize_t done = 0;
    int err = 0;
    Py_BEGIN_ALLOW_THREADS
    for (; done < n; done++)
        if (rename(names[done], names[n + done]) != 0) {
            err = errno;
            break;
        }
    Py_END_ALLOW_THREADS
    PyObject *out = Py_NewRef(Py_None);
    if (done < n) {
        Py_DECREF(out);
        out = NULL;
        errno = err;
        PyErr_SetFromErrnoWithFilenameObjects(PyExc_OSError, PyList_GET_ITEM(sources, done),
                                              PyList_GET_ITEM(targets, done));
    }
    Py_DECREF(encoded);
    PyMem_Free(names);
    return out;
}

/* ---- the manifest's text, as suite's exporter writes it ---- */

/* a job entry is {"id": S, "path": S, "statepoint": V, "files": {S: {"size": N, "sha256": S},
 * ...}} on a line of its own, entries joined by ",\n" after the head's ', "jobs": [\n' and
 * followed by "\n]}\n"; S a string of printable ASCII without escapes, V a state point
 * whose canonical text (json.dumps(sp, sort_keys=True)) can be told from the text itself */

#define JOBS_MARK ", \"jobs\": [\n"
#define JOBS_END "\n]}\n"
#define SP_DEPTH 32 /* deeper state points go to the Python path (suite allows 100) */
#define MAX_INT_DIGITS 18

typedef struct {
    const char *p, *end;
} cursor;

typedef struct {
    const char *s;
    size_t n;
} span;

static int
lit(cursor *c, const char *text, size_t n)
{
    if ((size_t)(c->end - c->p) < n || memcmp(c->p, text, n) != 0)
        return 0;
    c->p += n;
    return 1;
}
#define LIT(c, text) lit(c, text, sizeof(text) - 1)

/* 1 for the characters a raw string holds: printable ASCII but '"' and '\\' */
static unsigned char plain_char[256];

static void
init_plain_char(void)
{
    for (int ch = 0x20; ch <= 0x7e; ch++)
        plain_char[ch] = ch != '"' && ch != '\\';
}

/* a string of printable ASCII but '"' and '\\' (no escapes): its characters in out */
static int
raw_string(cursor *c, span *out)
{
    if (c->p >= c->end || *c->p != '"')
        return 0;
    const char *s = ++c->p, *end = c->end;
    const char *p = s;
    while (p < end && plain_char[(unsigned char)*p]) /* one load a character */
        p++;
    c->p = p;
    if (p >= end || *p != '"')
        return 0;
    out->s = s;
    out->n = (size_t)(c->p - s);
    c->p++;
    return 1;
}

static int
hex_value(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1; /* upper case too: json.dumps writes lower case */
}

/* a string exactly as json.dumps (ensure_ascii) writes the value it holds */
static int
canonical_string(cursor *c)
{
    if (c->p >= c->end || *c->p != '"')
        return 0;
    const char *p = c->p + 1;
    while (p < c->end && *p != '"') {
        unsigned char ch = (unsigned char)*p;
        if (ch < 0x20 || ch > 0x7e)
            return 0;
        if (ch != '\\') {
            p++;
            continue;
        }
        if (c->end - p < 2)
            return 0;
        char e = p[1];
        if (e == '"' || e == '\\' || e == 'n' || e == 'r' || e == 't' || e == 'b' || e == 'f') {
            p += 2;
            continue;
        }
        if (e != 'u' || c->end - p < 6)
            return 0;
        int v = 0;
        for (int i = 2; i < 6; i++) {
            int h = hex_value(p[i]);
            if (h < 0)
                return 0;
            v = v * 16 + h;
        }
        /* the short escapes, printable ASCII and surrogates are written otherwise (or go to
         * the Python path) */
        if (v == 8 || v == 9 || v == 10 || v == 12 || v == 13 || (v >= 0x20 && v < 0x7f)
            || (v >= 0xd800 && v <= 0xdfff))
            return 0;
        p += 6;
    }
    if (p >= c->end)
        return 0;
    c->p = p + 1;
    return 1;
}

/* a number as json.dumps writes the int or float json.loads makes of it; 0 not, -1 error */
static int
canonical_number(cursor *c)
{
    const char *s = c->p, *p = c->p, *end = c->end;
    int is_float = 0;
    if (p < end && *p == '-')
        p++;
    if (p < end && *p == '0')
        p++;
    else if (p < end && *p >= '1' && *p <= '9')
        while (p < end && *p >= '0' && *p <= '9')
            p++;
    else
        return 0;
    if (p < end && *p == '.') {
        const char *digits = ++p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == digits)
            return 0;
        is_float = 1;
    }
    if (p < end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < end && (*p == '+' || *p == '-'))
            p++;
        const char *digits = p;
        while (p < end && *p >= '0' && *p <= '9')
            p++;
        if (p == digits)
            return 0;
        is_float = 1;
    }
    size_t n = (size_t)(p - s);
    if (!is_float) { /* "-0" is 0, written "0"; long ints go to the Python path */
        if ((n == 2 && s[0] == '-' && s[1] == '0') || n > MAX_INT_DIGITS)
            return 0;
        c->p = p;
        return 1;
    }
    char text[40];
    if (n >= sizeof text)
        return 0;
    memcpy(text, s, n);
    text[n] = '\0';
    double d = PyOS_string_to_double(text, NULL, NULL);
    if (d == -1.0 && PyErr_Occurred()) {
        PyErr_Clear();
        return 0;
    }
    if (!isfinite(d))
        return 0;
    char *repr = PyOS_double_to_string(d, 'r', 0, Py_DTSF_ADD_DOT_0, NULL);
    if (repr == NULL)
        return -1;
    int same = strlen(repr) == n && memcmp(repr, s, n) == 0;
    PyMem_Free(repr);
    if (same)
        c->p = p;
    return same;
}

typedef struct {
    span key;
    size_t from, to; /* the member's canonical text in the output */
} member_at;

static int
by_key(const void *a, const void *b)
{
    const span *x = &((const member_at *)a)->key, *y = &((const member_at *)b)->key;
    int d = memcmp(x->s, y->s, x->n < y->n ? x->n : y->n);
    return d ? d : (x->n > y->n) - (x->n < y->n);
}

static int canonical_value(cursor *c, growbuf *out, int depth);

/* an object's members, put in key order in out (json.dumps's sort_keys: keys of printable
 * ASCII compare as code points); 1, 0 (not recognised), -1 (exception set) */
static int
canonical_object(cursor *c, growbuf *out, int depth)
{
    if (!LIT(c, "{"))
        return 0;
    if (growbuf_reserve(out, 1) < 0)
        return -1;
    out->data[out->len++] = '{';
    if (LIT(c, "}")) {
        if (growbuf_reserve(out, 1) < 0)
            return -1;
        out->data[out->len++] = '}';
        return 1;
    }
    member_at local[16], *m = local;
    size_t count = 0, cap = 16, first = out->len;
    int sorted = 1, rc = 0;
    do {
        if (count == cap) {
            member_at *more = PyMem_Malloc(2 * cap * sizeof *more);
            if (more == NULL) {
                PyErr_NoMemory();
                rc = -1;
                goto done;
            }
            memcpy(more, m, count * sizeof *m);
            if (m != local)
                PyMem_Free(m);
            m = more;
            cap *= 2;
        }
        member_at *at = &m[count];
        const char *key_from = c->p;
        /* keys: not empty, no '.', not starting with '$' (suite's own checks), no escapes */
        if (!raw_string(c, &at->key) || at->key.n == 0 || at->key.s[0] == '$'
            || memchr(at->key.s, '.', at->key.n) || !LIT(c, ": "))
            goto done;
        if (count > 0) {
            int order = by_key(&m[count - 1], at);
            if (order == 0)
                goto done; /* a key twice: json.loads keeps the last */
            if (order > 0)
                sorted = 0;
        }
        if (count > 0) {
            if (growbuf_reserve(out, 2) < 0) {
                rc = -1;
                goto done;
            }
            memcpy(out->data + out->len, ", ", 2);
            out->len += 2;
        }
        at->from = out->len;
        size_t key_len = (size_t)(c->p - key_from);
        if (growbuf_reserve(out, key_len) < 0) {
            rc = -1;
            goto done;
        }
        memcpy(out->data + out->len, key_from, key_len);
        out->len += key_len;
        int value = canonical_value(c, out, depth + 1);
        if (value <= 0) {
            rc = value;
            goto done;
        }
        at->to = out->len;
        count++;
    } while (LIT(c, ", "));
    if (!LIT(c, "}"))
        goto done;
    if (!sorted) { /* the members again, in key order */
        size_t n = out->len - first;
        char *copy = PyMem_Malloc(n ? n : 1);
        if (copy == NULL) {
            PyErr_NoMemory();
            rc = -1;
            goto done;
        }
        memcpy(copy, out->data + first, n);
        qsort(m, count, sizeof *m, by_key);
        for (size_t i = 1; i < count; i++)
            if (by_key(&m[i - 1], &m[i]) == 0) { /* a key twice, apart: json.loads keeps */
                PyMem_Free(copy);                 /* the last, so the text is not the value */
                out->len = first;
                goto done;
            }
        out->len = first;
        for (size_t i = 0; i < count; i++) {
            if (i > 0) {
                memcpy(out->data + out->len, ", ", 2);
                out->len += 2;
            }
            size_t len = m[i].to - m[i].from;
            memcpy(out->data + out->len, copy + (m[i].from - first), len);
            out->len += len;
        }
        PyMem_Free(copy);
    }
    if (growbuf_reserve(out, 1) < 0) {
        rc = -1;
        goto done;
    }
    out->data[out->len++] = '}';
    rc = 1;
done:
    if (m != local)
        PyMem_Free(m);
    return rc;
}

/* a JSON value whose canonical text is told from its own text, that text appended to out;
 * 1, 0 (not recognised), -1 (exception set) */
static int
canonical_value(cursor *c, growbuf *out, int depth)
{
    if (depth > SP_DEPTH || c->p >= c->end)
        return 0;
    const char *from = c->p;
    int rc;
    switch (*c->p) {
    case '{':
        return canonical_object(c, out, depth);
    case '[':
        c->p++;
        if (growbuf_reserve(out, 1) < 0)
            return -1;
        out->data[out->len++] = '[';
        if (!LIT(c, "]")) {
            int first = 1;
            do {
                if (!first) {
                    if (growbuf_reserve(out, 2) < 0)
                        return -1;
                    memcpy(out->data + out->len, ", ", 2);
                    out->len += 2;
                }
                first = 0;
                rc = canonical_value(c, out, depth + 1);
                if (rc <= 0)
                    return rc;
            } while (LIT(c, ", "));
            if (!LIT(c, "]"))
                return 0;
        }
        if (growbuf_reserve(out, 1) < 0)
            return -1;
        out->data[out->len++] = ']';
        return 1;
    case '"':
        rc = canonical_string(c);
        break;
    case 't':
        rc = LIT(c, "true");
        break;
    case 'f':
        rc = LIT(c, "false");
        break;
    case 'n':
        rc = LIT(c, "null");
        break;
    default:
        rc = canonical_number(c);
    }
    if (rc <= 0)
        return rc;
    size_t n = (size_t)(c->p - from);
    if (growbuf_reserve(out, n) < 0)
        return -1;
    memcpy(out->data + out->len, from, n);
    out->len += n;
    return 1;
}

/* a non-negative int as json.dumps writes it (at most MAX_INT_DIGITS digits) */
static int
plain_int(cursor *c, long long *value)
{
    const char *p = c->p;
    long long v = 0;
    while (p < c->end && *p >= '0' && *p <= '9' && p - c->p < MAX_INT_DIGITS)
        v = v * 10 + (*p++ - '0');
    size_t n = (size_t)(p - c->p);
    if (n == 0 || (n > 1 && *c->p == '0') || (p < c->end && *p >= '0' && *p <= '9'))
        return 0;
    c->p = p;
    *value = v;
    return 1;
}

typedef struct {
    span name, sha;
    long long size;
} file_entry;

typedef struct {
    span id, path;
    growbuf sp;             /* the state point's canonical text */
    file_entry *files;      /* the manifest's files of the job, in its order */
    size_t nfiles, cap;
} job_entry;

static void
job_free(job_entry *j)
{
    PyMem_RawFree(j->sp.data);
    PyMem_Free(j->files);
}

/* one job entry at c (its line); 1, 0 (not recognised), -1 (exception set) */
static int
parse_job(cursor *c, job_entry *j)
{
    j->sp.len = 0;
    j->nfiles = 0;
    if (!LIT(c, "{\"id\": ") || !raw_string(c, &j->id) || !LIT(c, ", \"path\": ")
        || !raw_string(c, &j->path) || !LIT(c, ", \"statepoint\": ") || c->p >= c->end
        || *c->p != '{')
        return 0;
    int rc = canonical_value(c, &j->sp, 0);
    if (rc <= 0)
        return rc;
    if (j->sp.len == 2 || !LIT(c, ", \"files\": {")) /* an empty state point: Python's */
        return 0;
    if (!LIT(c, "}")) {
        do {
            if (j->nfiles == j->cap) {
                size_t cap = j->cap ? 2 * j->cap : 8;
                file_entry *more = PyMem_Realloc(j->files, cap * sizeof *more);
                if (more == NULL) {
                    PyErr_NoMemory();
                    return -1;
                }
                j->files = more;
                j->cap = cap;
            }
            file_entry *f = &j->files[j->nfiles];
            if (!raw_string(c, &f->name) || !LIT(c, ": {\"size\": ") || !plain_int(c, &f->size)
                || !LIT(c, ", \"sha256\": ") || !raw_string(c, &f->sha) || !LIT(c, "}"))
                return 0;
            j->nfiles++;
        } while (LIT(c, ", "));
        if (!LIT(c, "}"))
            return 0;
    }
    return LIT(c, "}"); /* no links, no dirs: those go to the Python path */
}

/* where the job entries begin (after the head and JOBS_MARK); 0 if the text is not laid
 * out so */
static size_t
jobs_start(const char *data, size_t n, size_t *head_end)
{
    size_t mark = sizeof JOBS_MARK - 1;
    for (size_t i = 0; i + mark <= n; i++) {
        const char *hit = memchr(data + i, ',', n - i);
        if (hit == NULL)
            return 0;
        i = (size_t)(hit - data);
        if (i + mark <= n && memcmp(hit, JOBS_MARK, mark) == 0) {
            *head_end = i;
            return i + mark;
        }
    }
    return 0;
}

/* walk the job entries of data; for each, call visit(job, ctx) (NULL: only read them).
 * 1: all recognised and visited with 1; 0: not (or a visit said 0); -1: exception set */
static int
walk_jobs(const char *data, size_t n, size_t *head_end, Py_ssize_t *count,
          int (*visit)(job_entry *, void *), void *ctx)
{
    size_t at = jobs_start(data, n, head_end);
    if (at == 0)
        return 0;
    cursor c = {data + at, data + n};
    job_entry j = {{NULL, 0}, {NULL, 0}, {NULL, 0, 0}, NULL, 0, 0};
    int rc = 1;
    *count = 0;
    if (!LIT(&c, JOBS_END)) {
        do {
            rc = parse_job(&c, &j);
            if (rc > 0 && visit != NULL)
                rc = visit(&j, ctx);
            if (rc <= 0)
                break;
            ++*count;
        } while (LIT(&c, ",\n"));
        if (rc > 0 && !LIT(&c, JOBS_END))
            rc = 0;
    }
    if (rc > 0 && c.p != c.end)
        rc = 0;
    job_free(&j);
    return rc;
}

/* the job entries as parse_manifest read them, for check_manifest_text not to read the
 * text again: spans into the bytes (held), the canonical state points one after another */
typedef struct {
    span id, path;
    size_t sp_at, sp_len, file_at, nfiles;
} kept_job;

typedef struct {
    PyObject *data;
    growbuf texts;
    kept_job *jobs;
    size_t njobs, cap;
    file_entry *files;
    size_t nfiles, fcap;
} kept;

#define KEPT_NAME "archive._importjobs.jobs"

static void
kept_free(kept *k)
{
    Py_XDECREF(k->data);
    PyMem_RawFree(k->texts.data);
    PyMem_Free(k->jobs);
    PyMem_Free(k->files);
    PyMem_Free(k);
}

static void
kept_capsule_free(PyObject *capsule)
{
    kept_free(PyCapsule_GetPointer(capsule, KEPT_NAME));
}

static int
keep_job(job_entry *j, void *ctx)
{
    kept *k = ctx;
    if (k->njobs == k->cap) {
        size_t cap = k->cap ? 2 * k->cap : 1024;
        kept_job *more = PyMem_Realloc(k->jobs, cap * sizeof *more);
        if (more == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        k->jobs = more;
        k->cap = cap;
    }
    if (k->fcap - k->nfiles < j->nfiles) {
        size_t cap = k->fcap ? k->fcap : 4096;
        while (cap - k->nfiles < j->nfiles)
            cap *= 2;
        file_entry *more = PyMem_Realloc(k->files, cap * sizeof *more);
        if (more == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        k->files = more;
        k->fcap = cap;
    }
    if (growbuf_reserve(&k->texts, j->sp.len) < 0)
        return -1;
    kept_job *to = &k->jobs[k->njobs++];
    *to = (kept_job){j->id, j->path, k->texts.len, j->sp.len, k->nfiles, j->nfiles};
    memcpy(k->texts.data + k->texts.len, j->sp.data, j->sp.len);
    k->texts.len += j->sp.len;
    memcpy(k->files + k->nfiles, j->files, j->nfiles * sizeof *j->files);
    k->nfiles += j->nfiles;
    return 1;
}

PyDoc_STRVAR(parse_manifest_doc,
"parse_manifest(data) -> (head_end, count, jobs) or None\n\n"
"Whether the manifest text data (bytes) is laid out as archive.manifest.dumps writes it,\n"
"every job entry with only id, path, statepoint and files, its strings printable ASCII\n"
"without escapes but in the state point, whose canonical text (json.dumps(sp,\n"
"sort_keys=True)) can be told from its own text. Then json.loads(data) gives the head\n"
"json.loads(data[:head_end] + b'}') with the list of count job entries, each one that\n"
"archive.manifest._well_formed takes; jobs holds them as read (for check_manifest_text;\n"
"None where data is not exactly bytes). None for anything else: the caller reads it by\n"
"json.loads (the reference, archive.manifest.loads). Raises TypeError, MemoryError.");

static PyObject *
parse_manifest(PyObject *Py_UNUSED(self), PyObject *arg)
{
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    kept *k = NULL;
    if (PyBytes_CheckExact(arg)) { /* immutable: the spans stay valid while it is held */
        k = PyMem_Calloc(1, sizeof *k);
        if (k == NULL) {
            PyBuffer_Release(&view);
            return PyErr_NoMemory();
        }
        k->data = Py_NewRef(arg);
    }
    size_t head_end = 0;
    Py_ssize_t count = 0;
    int rc = walk_jobs(view.buf, (size_t)view.len, &head_end, &count,
                       k != NULL ? keep_job : NULL, k);
    PyBuffer_Release(&view);
    if (rc <= 0) {
        if (k != NULL)
            kept_free(k);
        if (rc < 0)
            return NULL;
        Py_RETURN_NONE;
    }
    PyObject *jobs = Py_None;
    if (k != NULL && (jobs = PyCapsule_New(k, KEPT_NAME, kept_capsule_free)) == NULL) {
        kept_free(k);
        return NULL;
    }
    return Py_BuildValue(k != NULL ? "(nnN)" : "(nnO)", (Py_ssize_t)head_end, count, jobs);
}

/* ---- the job checks on the text: check_manifest_text ---- */

/* a set of spans (open addressing; the member table's hash) */
typedef struct {
    span *slots;
    size_t cap, used;
} span_set;

static size_t
span_hash(span s)
{
    return mt_hash(s.s, s.n); /* suite/_c/membertable.h */
}

/* room for n spans without growing; 0, or -1 MemoryError */
static int
span_reserve(span_set *set, size_t n)
{
    size_t cap = 1024;
    while (cap < 2 * n + 2)
        cap *= 2;
    if (set->cap >= cap)
        return 0;
    span *slots = PyMem_Calloc(cap, sizeof *slots);
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i < set->cap; i++)
        if (set->slots[i].s != NULL)
            for (size_t k = span_hash(set->slots[i]) & (cap - 1);; k = (k + 1) & (cap - 1))
                if (slots[k].s == NULL) {
                    slots[k] = set->slots[i];
                    break;
                }
    PyMem_Free(set->slots);
    set->slots = slots;
    set->cap = cap;
    return 0;
}

/* 1 added, 0 there already, -1 MemoryError */
static int
span_add(span_set *set, span s)
{
    if (2 * (set->used + 1) > set->cap && span_reserve(set, 2 * (set->used + 1)) < 0)
        return -1;
    for (size_t k = span_hash(s) & (set->cap - 1);; k = (k + 1) & (set->cap - 1)) {
        span *slot = &set->slots[k];
        if (slot->s == NULL) {
            *slot = s;
            set->used++;
            return 1;
        }
        if (slot->n == s.n && memcmp(slot->s, s.s, s.n) == 0)
            return 0;
    }
}

static int
span_has(const span_set *set, span s)
{
    if (set->cap == 0)
        return 0;
    for (size_t k = span_hash(s) & (set->cap - 1);; k = (k + 1) & (set->cap - 1)) {
        const span *slot = &set->slots[k];
        if (slot->s == NULL)
            return 0;
        if (slot->n == s.n && memcmp(slot->s, s.s, s.n) == 0)
            return 1;
    }
}

typedef struct {
    PyObject *staged, *small, *dirs, *file_kind, *dir_kind;
    member_table *table;     /* staged when it is a _tarpack.MemberTable (else NULL) */
    const char *sp_name;
    size_t sp_len;
    PyObject *ids, *paths, *sources;
    span_set path_set, id_set;
    Py_ssize_t members;      /* the staged entries the jobs account for */
    Py_ssize_t depth;        /* the number of '/' in the first job's path, */
    int depths_differ;       /* and whether another job's differs */
    growbuf name;            /* path/name of a member */
} checks;

/* the str of s[:n], which is ASCII (the manifest's raw strings are): copied, not decoded */
static PyObject *
ascii_str(const char *s, size_t n)
{
    PyObject *out = PyUnicode_New((Py_ssize_t)n, 127);
    if (out != NULL)
        memcpy(PyUnicode_1BYTE_DATA(out), s, n);
    return out;
}

/* 1 if the str s holds exactly the ASCII characters of t */
static int
str_is(PyObject *s, span t)
{
    return PyUnicode_CheckExact(s) && PyUnicode_IS_COMPACT_ASCII(s)
        && (size_t)PyUnicode_GET_LENGTH(s) == t.n && memcmp(PyUnicode_DATA(s), t.s, t.n) == 0;
}

/* whether the 64 characters of hex are the lowercase hex of the 32 bytes raw (as
 * hashlib's hexdigest writes them) */
static int
hex_is(span hex, const unsigned char raw[32])
{
    if (hex.n != 64)
        return 0;
#ifdef __SSE2__
    /* 16 bytes at a time: their nibbles interleaved high first, each made its digit ('0'
     * plus the nibble, plus 39 more past 9: 'a' - '0' - 10), compared with 32 characters
     * (a byte at a time cost ~330 instructions a hash) */
    const __m128i low4 = _mm_set1_epi8(0x0f), nine = _mm_set1_epi8(9);
    const __m128i zero = _mm_set1_epi8('0'), past9 = _mm_set1_epi8(39);
    int same = 0xffff;
    for (int i = 0; i < 2; i++) {
        __m128i x = _mm_loadu_si128((const __m128i *)(raw + 16 * i));
        __m128i hi = _mm_and_si128(_mm_srli_epi16(x, 4), low4), lo = _mm_and_si128(x, low4);
        __m128i a = _mm_unpacklo_epi8(hi, lo), b = _mm_unpackhi_epi8(hi, lo);
        a = _mm_add_epi8(_mm_add_epi8(a, zero), _mm_and_si128(_mm_cmpgt_epi8(a, nine), past9));
        b = _mm_add_epi8(_mm_add_epi8(b, zero), _mm_and_si128(_mm_cmpgt_epi8(b, nine), past9));
        same &= _mm_movemask_epi8(_mm_cmpeq_epi8(a, _mm_loadu_si128((const __m128i *)(hex.s + 32 * i))));
        same &= _mm_movemask_epi8(_mm_cmpeq_epi8(b, _mm_loadu_si128((const __m128i *)(hex.s + 32 * i + 16))));
    }
    return same == 0xffff;
#else
    static const char digits[] = "0123456789abcdef";
    for (int i = 0; i < 32; i++)
        if (hex.s[2 * i] != digits[raw[i] >> 4] || hex.s[2 * i + 1] != digits[raw[i] & 15])
            return 0;
    return 1;
#endif
}

/* 1 if kind is the object want or a str equal to it; 0 not; -1 exception */
static int
same_kind(PyObject *kind, PyObject *want)
{
    if (kind == want)
        return 1;
    if (!PyUnicode_CheckExact(kind) || !PyUnicode_CheckExact(want))
        return 0;
    int rc = PyUnicode_Compare(kind, want);
    return rc == -1 && PyErr_Occurred() ? -1 : rc == 0;
}

static int staged_value_is(checks *k, PyObject *have, PyObject *kind, long long size, span sha);

/* whether the member named name (its str key, or NULL where staged is a table: made only if
 * needed) is of kind, with (for a file) size and hash sha */
static int
staged_is(checks *k, span name, PyObject *key, PyObject *kind, long long size, span sha)
{
    if (k->table != NULL) {
        mt_entry *e = mt_find(k->table, name.s, name.n, mt_hash(name.s, name.n));
        if (e == NULL)
            return 0;
        if (e->kind == MT_OBJECT)
            return staged_value_is(k, e->u.obj.value, kind, size, sha);
        int rc = same_kind(e->kind == MT_FILE ? k->table->file_kind : k->table->dir_kind, kind);
        if (rc <= 0 || kind == k->dir_kind)
            return rc;
        return e->kind == MT_FILE && e->size == size && hex_is(sha, e->u.sha);
    }
    PyObject *have = PyDict_GetItemWithError(k->staged, key);
    if (have == NULL)
        return PyErr_Occurred() ? -1 : 0;
    return staged_value_is(k, have, kind, size, sha);
}

/* whether the staged value have is (kind, size, sha) ((kind, ...) for a directory) */
static int
staged_value_is(checks *k, PyObject *have, PyObject *kind, long long size, span sha)
{
    if (!PyTuple_CheckExact(have) || PyTuple_GET_SIZE(have) != 3)
        return 0;
    PyObject *have_kind = PyTuple_GET_ITEM(have, 0), *have_size = PyTuple_GET_ITEM(have, 1);
    if (have_kind != kind
        && (!PyUnicode_CheckExact(have_kind) || PyUnicode_Compare(have_kind, kind) != 0))
        return PyErr_Occurred() ? -1 : 0;
    if (kind == k->dir_kind)
        return 1;
    if (!PyLong_CheckExact(have_size))
        return 0;
    int overflow;
    long long n = PyLong_AsLongLongAndOverflow(have_size, &overflow);
    if (n == -1 && PyErr_Occurred())
        return -1;
    return !overflow && n == size && str_is(PyTuple_GET_ITEM(have, 2), sha);
}

/* the checks of importer.jobs_from_manifest and _manifest_job on one job entry */
static int
check_job(job_entry *j, void *ctx)
{
    checks *k = ctx;
    char hex[32];
    md5_hex((const unsigned char *)j->sp.data, j->sp.len, hex);
    if (j->id.n != 32 || memcmp(hex, j->id.s, 32) != 0 || !clean_as_is(j->path.s, j->path.n))
        return 0;
    int added = span_add(&k->path_set, j->path);
    if (added <= 0)
        return added; /* two jobs at one path: the Python path says so */
    added = span_add(&k->id_set, j->id);
    if (added <= 0)
        return added;
    Py_ssize_t depth = 0;
    for (size_t i = 0; i < j->path.n; i++)
        depth += j->path.s[i] == '/';
    if (k->path_set.used == 1)
        k->depth = depth;
    else if (depth != k->depth)
        k->depths_differ = 1;
    /* the files: names of the job's top level only, none twice (json.loads keeps the last),
     * its state point file among them */
    int has_sp = 0, sorted = 1;
    for (size_t i = 1; sorted && i < j->nfiles; i++) {
        member_at a = {j->files[i - 1].name, 0, 0}, b = {j->files[i].name, 0, 0};
        sorted = by_key(&a, &b) < 0;
    }
    if (!sorted) { /* as suite writes them, they are in order: else sorted here */
        member_at *names = PyMem_Malloc(j->nfiles * sizeof *names);
        if (names == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        for (size_t i = 0; i < j->nfiles; i++)
            names[i] = (member_at){j->files[i].name, 0, 0};
        qsort(names, j->nfiles, sizeof *names, by_key);
        int twice = 0;
        for (size_t i = 1; !twice && i < j->nfiles; i++)
            twice = by_key(&names[i - 1], &names[i]) == 0;
        PyMem_Free(names);
        if (twice)
            return 0;
    }
    k->name.len = 0;
    if (growbuf_reserve(&k->name, j->path.n + 1) < 0)
        return -1;
    memcpy(k->name.data, j->path.s, j->path.n);
    k->name.data[j->path.n] = '/';
    for (size_t i = 0; i < j->nfiles; i++) {
        file_entry *f = &j->files[i];
        if (!clean_as_is(f->name.s, f->name.n) || memchr(f->name.s, '/', f->name.n))
            return 0;
        k->name.len = j->path.n + 1;
        if (growbuf_reserve(&k->name, f->name.n) < 0)
            return -1;
        memcpy(k->name.data + k->name.len, f->name.s, f->name.n);
        k->name.len += f->name.n;
        int is_sp = f->name.n == k->sp_len && memcmp(f->name.s, k->sp_name, k->sp_len) == 0;
        PyObject *key = NULL;
        if ((is_sp || k->table == NULL)
            && (key = ascii_str(k->name.data, k->name.len)) == NULL)
            return -1;
        span name = {k->name.data, k->name.len};
        int rc = staged_is(k, name, key, k->file_kind, f->size, f->sha);
        if (rc > 0 && is_sp) {
            /* the archived state point file: the canonical bytes */
            has_sp = 1;
            PyObject *data = PyDict_GetItemWithError(k->small, key);
            if (data == NULL)
                rc = PyErr_Occurred() ? -1 : 0;
            else
                rc = PyBytes_CheckExact(data) && (size_t)PyBytes_GET_SIZE(data) == j->sp.len
                     && memcmp(PyBytes_AS_STRING(data), j->sp.data, j->sp.len) == 0;
        }
        Py_XDECREF(key);
        if (rc <= 0)
            return rc;
    }
    if (!has_sp)
        return 0; /* landing writes the file: the Python path */
    k->members += (Py_ssize_t)j->nfiles;
    PyObject *path = ascii_str(j->path.s, j->path.n);
    if (path == NULL)
        return -1;
    int rc = staged_is(k, j->path, path, k->dir_kind, 0, j->id); /* the job's directory */
    k->members += rc > 0;
    if (rc >= 0 && k->dirs != NULL) { /* its staging directory holds all its files */
        PyObject *source = PyDict_GetItemWithError(k->dirs, path);
        rc = source == NULL ? (PyErr_Occurred() ? -1 : 0)
                            : PyUnicode_CheckExact(source) && PyList_Append(k->sources, source) == 0
                                  ? 1 : (PyErr_Occurred() ? -1 : 0);
    }
    else if (rc >= 0)
        rc = 1;
    if (rc > 0)
        rc = PyList_Append(k->paths, path) == 0 ? 1 : -1;
    Py_DECREF(path);
    if (rc <= 0)
        return rc;
    PyObject *id = ascii_str(j->id.s, 32);
    if (id == NULL)
        return -1;
    rc = PyList_Append(k->ids, id) == 0 ? 1 : -1;
    Py_DECREF(id);
    return rc;
}

/* archive._tarpack.MemberTable (a borrowed reference, kept), whose instances hold the
 * layout of suite/_c/membertable.h; NULL with an exception set */
static PyObject *
member_table_type(void)
{
    static PyObject *type;
    if (type == NULL) {
        PyObject *module = PyImport_ImportModule("archive._tarpack");
        PyObject *found = module == NULL ? NULL : PyObject_GetAttrString(module, "MemberTable");
        Py_XDECREF(module);
        if (found != NULL && !PyType_Check(found)) {
            Py_CLEAR(found);
            PyErr_SetString(PyExc_TypeError, "archive._tarpack.MemberTable is not a type");
        }
        type = found;
    }
    return type;
}

PyDoc_STRVAR(check_manifest_text_doc,
"check_manifest_text(data, staged, small, dirs, file_kind, dir_kind, sp_name)\n"
"    -> (ids, paths, sources) or None\n\n"
"The jobs of the manifest text data (one parse_manifest takes; or the jobs it gave for it)\n"
"checked against the members\n"
"read (staged, small: as archive.importer.scan leaves them, staged a dict or a\n"
"archive._tarpack.MemberTable; dirs: Stage.dirs, or None when\n"
"nothing is written) where each job is the common one: its path clean, no two jobs at\n"
"one path or with one id, none inside another; the state point hashing to the id, the\n"
"archived state point file among the files and holding the canonical bytes; every file at\n"
"the job's top level and a member of file_kind with the manifest's size and hash; and the\n"
"jobs' files and directories (of dir_kind, at the job paths) are all the members. Returns\n"
"the ids, paths and staging directories (dirs[path]; [] without dirs) in manifest order,\n"
"what archive.importer.jobs_from_manifest (the reference) gives as Incoming jobs with no\n"
"member outside them. None for anything else: the reference then takes the manifest, and\n"
"raises what it raises. Raises TypeError for arguments of other types, MemoryError.");

static PyObject *
check_manifest_text(PyObject *Py_UNUSED(self), PyObject *args)
{
    Py_buffer view = {0};
    checks k;
    memset(&k, 0, sizeof k);
    Py_ssize_t sp_len;
    PyObject *text;
    if (!PyArg_ParseTuple(args, "OOO!OOOs#:check_manifest_text", &text, &k.staged,
                          &PyDict_Type, &k.small, &k.dirs, &k.file_kind, &k.dir_kind,
                          &k.sp_name, &sp_len))
        return NULL;
    if (!PyDict_Check(k.staged)) {
        PyObject *table_type = member_table_type();
        if (table_type == NULL)
            return NULL;
        if (Py_TYPE(k.staged) != (PyTypeObject *)table_type) {
            PyErr_SetString(PyExc_TypeError, "staged must be a dict or a MemberTable");
            return NULL;
        }
        k.table = (member_table *)k.staged;
    }
    k.sp_len = (size_t)sp_len;
    if (k.dirs == Py_None)
        k.dirs = NULL;
    else if (!PyDict_Check(k.dirs)) {
        PyErr_SetString(PyExc_TypeError, "dirs must be a dict or None");
        return NULL;
    }
    kept *read = NULL;
    if (PyCapsule_IsValid(text, KEPT_NAME))
        read = PyCapsule_GetPointer(text, KEPT_NAME);
    else if (PyObject_GetBuffer(text, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *out = NULL;
    k.ids = PyList_New(0);
    k.paths = PyList_New(0);
    k.sources = PyList_New(0);
    if (k.ids == NULL || k.paths == NULL || k.sources == NULL)
        goto done;
    size_t head_end;
    Py_ssize_t count;
    int rc = 1;
    if (read != NULL && (span_reserve(&k.path_set, read->njobs) < 0
                         || span_reserve(&k.id_set, read->njobs) < 0))
        goto done;
    if (read != NULL) /* as parse_manifest read them */
        for (size_t i = 0; rc > 0 && i < read->njobs; i++) {
            kept_job *at = &read->jobs[i];
            job_entry j = {at->id, at->path, {read->texts.data + at->sp_at, at->sp_len, at->sp_len},
                           read->files + at->file_at, at->nfiles, at->nfiles};
            rc = check_job(&j, &k);
        }
    else
        rc = walk_jobs(view.buf, (size_t)view.len, &head_end, &count, check_job, &k);
    if (rc > 0 && k.depths_differ) { /* no job inside another */
        for (size_t i = 0; rc > 0 && i < k.path_set.cap; i++) {
            span p = k.path_set.slots[i];
            for (size_t n = p.n; rc > 0 && p.s != NULL && n-- > 0;)
                if (p.s[n] == '/' && span_has(&k.path_set, (span){p.s, n}))
                    rc = 0;
        }
    }
    if (rc > 0 && k.members != (k.table != NULL ? (Py_ssize_t)k.table->count
                                               : PyDict_GET_SIZE(k.staged)))
        rc = 0; /* other members: the reference says which are refused or ignored */
    if (rc > 0)
        out = PyTuple_Pack(3, k.ids, k.paths, k.sources);
    else if (rc == 0)
        out = Py_NewRef(Py_None);
done:
    if (read == NULL)
        PyBuffer_Release(&view);
    Py_XDECREF(k.ids);
    Py_XDECREF(k.paths);
    Py_XDECREF(k.sources);
    PyMem_Free(k.path_set.slots);
    PyMem_Free(k.id_set.slots);
    PyMem_RawFree(k.name.data);
    return out;
}

static PyMethodDef methods[] = {
    {"check_manifest_jobs", check_manifest_jobs, METH_VARARGS, check_manifest_jobs_doc},
    {"rename_all", rename_all, METH_VARARGS, rename_all_doc},
    {"parse_manifest", parse_manifest, METH_O, parse_manifest_doc},
    {"check_manifest_text", check_manifest_text, METH_VARARGS, check_manifest_text_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "archive._importjobs",
    .m_doc = "An import's per-job checks and landing renames in C (optional; see "
             "suite/native.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__importjobs(void)
{
    init_plain_char();
    if (s_statepoint == NULL &&
        ((s_statepoint = PyUnicode_InternFromString("statepoint")) == NULL ||
         (s_id = PyUnicode_InternFromString("id")) == NULL ||
         (s_files = PyUnicode_InternFromString("files")) == NULL ||
         (s_dirs = PyUnicode_InternFromString("dirs")) == NULL ||
         (s_size = PyUnicode_InternFromString("size")) == NULL ||
         (s_sha256 = PyUnicode_InternFromString("sha256")) == NULL))
        return NULL;
    return PyModule_Create(&module);
}
