/* archive._tarpack: the per-file loops of tar export and import in C.
 *
 * Optional: archive/tarformat.py and archive/importer.py load it through suite.native.load,
 * and every function here has a pure-Python reference (named in its docstring) that
 * tests/archive/test_native_tar.py compares it with. Python spends ~25 us a file on the walk,
 * the header, the read and the hash of an export (~30 us on an import's header, checks, hash
 * and write); the system calls and SHA-256 of a small file take ~4 us.
 *
 * Both handle the common case only and hand everything else to the Python reference before
 * any of it is written: pack_tree (export) returns None for a job with a link, a fifo, an
 * unreadable, big or changing file, or any error, and the caller exports that job by the
 * Python walk, which decides (skips, raises) as it always did; scan_members (import) stops at
 * the first member that is not plain or that a check would refuse, and the Python reader
 * reads it (and raises what it raises).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define BLOCK 512
#define MAX_NUMBER (1LL << 33) /* 8**11: what 11 octal digits hold */
#define SMALL (1 << 20)        /* archive.export.SMALL: bigger files are streamed by Python */
#define MAX_DEPTH 64           /* deeper trees go to Python */
#define HASHLIB_FROM 2048      /* from this size hashlib's SHA-256 (OpenSSL) is faster than
                                  * the plain C one; with SHA-NI the C one is never slower */

#include "ascii.h"
#include "cleanname.h"
#include "dirread.h"
#include "growbuf.h"
#include "jsonesc.h"
#include "membertable.h"
#include "quietopen.h"
#include "sha256.h"

static PyObject *hashlib_sha256; /* hashlib.sha256, for larger files */

/* the hex SHA-256 of data as a str (NULL with an exception set) */
static PyObject *
digest_of(const char *data, Py_ssize_t n)
{
    if (n < HASHLIB_FROM || sha256_accelerated()) {
        /* written straight into the str (its 64 characters and the NUL after them) */
        PyObject *hex = PyUnicode_New(64, 127);
        if (hex != NULL)
            sha256_hex((const unsigned char *)data, (size_t)n, (char *)PyUnicode_1BYTE_DATA(hex));
        return hex;
    }
    PyObject *view = PyMemoryView_FromMemory((char *)data, n, PyBUF_READ);
    if (view == NULL)
        return NULL;
    PyObject *h = PyObject_CallOneArg(hashlib_sha256, view);
    Py_DECREF(view);
    if (h == NULL)
        return NULL;
    PyObject *hex = PyObject_CallMethod(h, "hexdigest", NULL);
    Py_DECREF(h);
    return hex;
}

/* the SHA-256 of data as 32 bytes into out (digest_of's engines); -1 with an exception set */
static int
digest_raw(const char *data, Py_ssize_t n, unsigned char out[32])
{
    if (n < HASHLIB_FROM || sha256_accelerated()) {
        sha256_raw((const unsigned char *)data, (size_t)n, out);
        return 0;
    }
    PyObject *view = PyMemoryView_FromMemory((char *)data, n, PyBUF_READ);
    PyObject *h = view == NULL ? NULL : PyObject_CallOneArg(hashlib_sha256, view);
    Py_XDECREF(view);
    PyObject *raw = h == NULL ? NULL : PyObject_CallMethod(h, "digest", NULL);
    Py_XDECREF(h);
    if (raw == NULL)
        return -1;
    int ok = PyBytes_Check(raw) && PyBytes_GET_SIZE(raw) == 32;
    if (ok)
        memcpy(out, PyBytes_AS_STRING(raw), 32);
    else
        PyErr_SetString(PyExc_SystemError, "hashlib's sha256 digest is not 32 bytes");
    Py_DECREF(raw);
    return ok ? 0 : -1;
}

/* ---- the growing byte buffer (suite/_c/growbuf.h), without the GIL ---- */

/* The export's walk runs without the GIL (in the caller's thread or a worker of pack_trees):
 * its buffers grow by growbuf_room and say "out of memory" by returning -1, and the caller,
 * holding the GIL again, raises MemoryError (growbuf_put, growbuf_room). */

static int
put_zeros(growbuf *b, size_t n)
{
    if (growbuf_room(b, n) < 0)
        return -1;
    memset(b->data + b->len, 0, n);
    b->len += n;
    return 0;
}

/* ---- ustar and pax headers: archive/tarwriter.py member_header, byte for byte ---- */

static void
octal(char *field, int width, unsigned long long value)
{
    /* width - 1 octal digits, zero-padded, then NUL (as Python's "%0{w-1}o\0") */
    field[width - 1] = '\0';
    for (int i = width - 2; i >= 0; i--) {
        field[i] = (char)('0' + (value & 7));
        value >>= 3;
    }
}

/* one 512-byte ustar header (tarwriter._header): names cut at 100 bytes; -1 out of memory */
static int
ustar_header(growbuf *b, const char *name, size_t name_len, long long size, long long mode,
             long long mtime, char flag, const char *link, size_t link_len)
{
    if (growbuf_room(b, BLOCK) < 0)
        return -1;
    char *h = b->data + b->len;
    memset(h, 0, BLOCK);
    memcpy(h, name, name_len < 100 ? name_len : 100);
    octal(h + 100, 8, (unsigned long long)(mode & 07777));
    octal(h + 108, 8, 0);
    octal(h + 116, 8, 0);
    octal(h + 124, 12, (unsigned long long)size);
    octal(h + 136, 12, (unsigned long long)mtime);
    memset(h + 148, ' ', 8);
    h[156] = flag;
    if (link_len)
        memcpy(h + 157, link, link_len < 100 ? link_len : 100);
    memcpy(h + 257, "ustar\0" "00", 8);
    octal(h + 329, 8, 0);
    octal(h + 337, 8, 0);
    unsigned int sum = 0;
    for (int i = 0; i < 345; i++)  /* the rest (prefix, padding) is zeros: nothing to add */
        sum += (unsigned char)h[i];
    octal(h + 148, 7, sum);
    h[155] = ' ';
    b->len += BLOCK;
    return 0;
}

/* "<length> key=value\n" where length counts itself (tarwriter._pax_record) */
static int
pax_record(growbuf *b, const char *key, const char *value, size_t value_len)
{
    size_t body = 1 + strlen(key) + 1 + value_len + 1;
    size_t length = body + 1;
    char digits[32];
    for (;;) {
        int d = snprintf(digits, sizeof digits, "%zu", length);
        if ((size_t)d + body == length)
            break;
        length = (size_t)d + body;
    }
    if (growbuf_put(b, digits, strlen(digits)) < 0 || growbuf_put(b, " ", 1) < 0
        || growbuf_put(b, key, strlen(key)) < 0 || growbuf_put(b, "=", 1) < 0
        || growbuf_put(b, value, value_len) < 0 || growbuf_put(b, "\n", 1) < 0)
        return -1;
    return 0;
}

/* the header block(s) of one member (pax records first where ustar cannot hold a value);
 * -1 out of memory */
static int
member_header(growbuf *b, const char *name, size_t name_len, long long size, long long mode,
              long long mtime, char flag, const char *link, size_t link_len)
{
    int long_name = name_len > 100 || !is_ascii(name, name_len);
    int long_link = link_len && (link_len > 100 || !is_ascii(link, link_len));
    int big = size >= MAX_NUMBER;
    int odd_time = !(mtime >= 0 && mtime < MAX_NUMBER);
    if (!(long_name || long_link || big || odd_time))
        return ustar_header(b, name, name_len, size, mode, mtime, flag, link, link_len);
    growbuf pax = {NULL, 0, 0};
    char number[32];
    int failed = (long_name && pax_record(&pax, "path", name, name_len) < 0)
        || (long_link && pax_record(&pax, "linkpath", link, link_len) < 0);
    if (!failed && big) {
        snprintf(number, sizeof number, "%lld", size);
        failed = pax_record(&pax, "size", number, strlen(number)) < 0;
    }
    if (!failed && odd_time) {
        snprintf(number, sizeof number, "%lld", mtime);
        failed = pax_record(&pax, "mtime", number, strlen(number)) < 0;
    }
    if (odd_time) /* readers take it from the pax record */
        mtime = 0;
    failed = failed
        || ustar_header(b, "././@PaxHeader", 14, (long long)pax.len, 0644, mtime, 'x', "", 0) < 0
        || growbuf_put(b, pax.data, pax.len) < 0
        || put_zeros(b, (BLOCK - pax.len % BLOCK) % BLOCK) < 0
        || ustar_header(b, name, name_len, big ? 0 : size, mode, mtime, flag, link, link_len) < 0;
    growbuf_free(&pax);
    return failed ? -1 : 0;
}

static long long
whole_seconds(const struct timespec *t)
{
    /* floor(st_mtime) with st_mtime computed as CPython does (sec + nsec * 1e-9, a double):
     * a time 0.9999999999 s past a second is a float that rounds up to the next one */
    return (long long)floor((double)t->tv_sec + (double)t->tv_nsec * 1e-9);
}

PyDoc_STRVAR(header_doc,
"header(name, size, mode, mtime, kind, linkname='') -> bytes\n\n"
"The tar header block(s) of one member, pax records included. Reference:\n"
"archive.tarwriter.member_header. kind is file, dir, symlink or hardlink (KeyError\n"
"otherwise); size and mtime (seconds, floored) must fit in 64 bits (OverflowError), size\n"
"must not be negative (ValueError); names that are not UTF-8 raise UnicodeEncodeError.");

static PyObject *
header(PyObject *Py_UNUSED(self), PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"name", "size", "mode", "mtime", "kind", "linkname", NULL};
    PyObject *name, *mode_obj, *mtime_obj, *kind, *link = NULL;
    long long size;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "ULOOU|U:header", keywords, &name, &size,
                                     &mode_obj, &mtime_obj, &kind, &link))
        return NULL;
    char flag;
    if (PyUnicode_CompareWithASCIIString(kind, "file") == 0)
        flag = '0';
    else if (PyUnicode_CompareWithASCIIString(kind, "dir") == 0)
        flag = '5';
    else if (PyUnicode_CompareWithASCIIString(kind, "symlink") == 0)
        flag = '2';
    else if (PyUnicode_CompareWithASCIIString(kind, "hardlink") == 0)
        flag = '1';
    else {
        PyErr_SetObject(PyExc_KeyError, kind);
        return NULL;
    }
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "a member's size cannot be negative");
        return NULL;
    }
    PyObject *mask = PyLong_FromLong(07777);
    PyObject *masked = mask ? PyNumber_And(mode_obj, mask) : NULL;
    Py_XDECREF(mask);
    if (masked == NULL)
        return NULL;
    long long mode = PyLong_AsLongLong(masked);
    Py_DECREF(masked);
    if (mode == -1 && PyErr_Occurred())
        return NULL;
    PyObject *one = PyLong_FromLong(1);
    PyObject *floored = one ? PyNumber_FloorDivide(mtime_obj, one) : NULL;
    Py_XDECREF(one);
    if (floored == NULL)
        return NULL;
    double seconds = 0;
    long long mtime;
    if (PyFloat_Check(floored)) {
        seconds = PyFloat_AS_DOUBLE(floored);
        Py_DECREF(floored);
        if (!(seconds >= -9.2e18 && seconds <= 9.2e18)) {
            PyErr_SetString(PyExc_OverflowError, "mtime out of range");
            return NULL;
        }
        mtime = (long long)seconds;
    } else {
        mtime = PyLong_AsLongLong(floored);
        Py_DECREF(floored);
        if (mtime == -1 && PyErr_Occurred())
            return NULL;
    }
    Py_ssize_t name_len, link_len = 0;
    const char *name_text = PyUnicode_AsUTF8AndSize(name, &name_len);
    if (name_text == NULL)
        return NULL;
    const char *link_text = "";
    if (link != NULL && (link_text = PyUnicode_AsUTF8AndSize(link, &link_len)) == NULL)
        return NULL;
    growbuf b = {NULL, 0, 0};
    if (member_header(&b, name_text, (size_t)name_len, size, mode, mtime, flag, link_text,
                      (size_t)link_len) < 0) {
        growbuf_free(&b);
        return PyErr_NoMemory();
    }
    PyObject *out = PyBytes_FromStringAndSize(b.data, (Py_ssize_t)b.len);
    growbuf_free(&b);
    return out;
}

/* ---- the walk of one job directory: archive.export._add_tree ---- */

/* No Python API from here to walk_job: the walk runs without the GIL. */

typedef struct {
    growbuf out;          /* the tar members */
    growbuf member;       /* the member name being built: prefix + rel */
    size_t prefix_len;    /* bytes of the member name before rel */
    const char *skip;     /* names of non-directories containing this are left out */
    const char *need;     /* the file the job must hold at its top level */
    int has_need;
    int accelerated;      /* sha256_accelerated(): every file is hashed here */
    growbuf files;        /* the manifest's "files" as JSON text */
    Py_ssize_t nfiles;
    growbuf dirs;         /* each subdirectory inside the job: a dir_row, then its name */
    growbuf later;        /* later_hash rows: files left to hashlib (no SHA-NI, 2 KiB up) */
    long long total;
} walk;

typedef struct {
    size_t len;           /* bytes of the name (rel inside the job) after the row */
    long long mode, mtime;
} dir_row;

typedef struct {
    size_t data_at, size; /* the file's data in out */
    size_t hex_at;        /* its 64 hex digits in files (written as zeros meanwhile) */
} later_hash;

/* 1: done; 0: not the common case (the caller falls back to Python); -1: out of memory */
#define FALLBACK 0

typedef struct {
    char *name;
    unsigned char type; /* d_type: DT_UNKNOWN where the file system does not say */
} entry;

static int
by_name(const void *a, const void *b)
{
    return strcmp(((const entry *)a)->name, ((const entry *)b)->name);
}

static void
free_entries(entry *entries, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(entries[i].name);
    free(entries);
}

/* what add_entry (a dir_each callback) fills in */
typedef struct {
    entry *entries;
    size_t n, cap;
} entries_read;

/* keep name; 0, or -1 out of memory (apart from dir_each's errno values) */
static int
add_entry(void *ctx, const char *name, unsigned char d_type)
{
    entries_read *r = ctx;
    entry *more = array_room(r->entries, r->n, &r->cap, sizeof *more);
    if (more == NULL)
        return -1;
    r->entries = more;
    if ((r->entries[r->n].name = strdup(name)) == NULL)
        return -1;
    r->entries[r->n++].type = d_type;
    return 0;
}

/* the entries of dir (sorted by name, without . and ..), or NULL with *err FALLBACK (the
 * directory could not be read) or -1 (out of memory) */
static entry *
sorted_entries(int dir_fd, size_t *count, int *err)
{
    *err = FALLBACK;
    /* allocated up front: an empty directory gives a non-NULL empty array */
    entries_read r = {malloc(16 * sizeof(entry)), 0, 16};
    int failed = r.entries == NULL ? -1 : dir_each(dir_fd, add_entry, &r);
    if (failed) {
        free_entries(r.entries, r.n);
        if (failed == -1)
            *err = -1;
        return NULL;
    }
    qsort(r.entries, r.n, sizeof *r.entries, by_name);
    *count = r.n;
    return r.entries;
}

/* the length of the UTF-8 sequence at s (n > 0 bytes left) as Python's strict decoder takes
 * it (no overlong forms, surrogates or code points past U+10FFFF), its code point in *c; 0
 * where it is not UTF-8 */
static int
utf8_char(const unsigned char *s, size_t n, uint32_t *c)
{
    unsigned char first = s[0];
    int len;
    if (first < 0x80) {
        *c = first;
        return 1;
    }
    if (first >= 0xC2 && first <= 0xDF)
        len = 2, *c = first & 0x1F;
    else if (first >= 0xE0 && first <= 0xEF)
        len = 3, *c = first & 0x0F;
    else if (first >= 0xF0 && first <= 0xF4)
        len = 4, *c = first & 0x07;
    else
        return 0;
    if ((size_t)len > n)
        return 0;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        *c = (*c << 6) | (s[i] & 0x3F);
    }
    if (len == 3 && (*c < 0x800 || (*c >= 0xD800 && *c <= 0xDFFF)))
        return 0;
    if (len == 4 && (*c < 0x10000 || *c > 0x10FFFF))
        return 0;
    return len;
}

static int
is_utf8(const char *s, size_t n)
{
    uint32_t c;
    for (size_t i = 0; i < n;) {
        int len = utf8_char((const unsigned char *)s + i, n - i, &c);
        if (len == 0)
            return 0;
        i += (size_t)len;
    }
    return 1;
}

/* the UTF-8 text s[:n] as json.dumps writes the str it decodes to (ensure_ascii, the json
 * module's escapes): printable ASCII as it is but for quote and backslash, \b \f \n \r \t,
 * anything else as \uxxxx (a UTF-16 pair above U+FFFF). 1, FALLBACK (not UTF-8) or -1. */
static int
json_string(growbuf *b, const char *s, size_t n)
{
    if (n > (PY_SSIZE_T_MAX - 2) / 6 || growbuf_room(b, n * 6 + 2) < 0)
        return -1; /* 6 bytes out at most per byte in: \u001f, or a pair for four */
    char *o = b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n;) {
        uint32_t c;
        int len = utf8_char((const unsigned char *)s + i, n - i, &c);
        if (len == 0)
            return FALLBACK;
        i += (size_t)len;
        if (c >= ' ' && c <= '~' && c != '"' && c != '\\') {
            *o++ = (char)c;
            continue;
        }
        o = json_escape(o, c);
    }
    *o++ = '"';
    b->len = (size_t)(o - b->data);
    return 1;
}

/* the subdirectory whose name inside the job ends at end of the member name, with its mode
 * and mtime, for the manifest's dirs */
static int
set_dir(walk *w, size_t end, long long mode, long long mtime)
{
    const char *rel = w->member.data + w->prefix_len;
    dir_row row = {end - w->prefix_len, mode & 07777, mtime};
    if (!is_utf8(rel, row.len))
        return FALLBACK; /* the reference says so in its own words */
    return growbuf_put(&w->dirs, &row, sizeof row) < 0
           || growbuf_put(&w->dirs, rel, row.len) < 0 ? -1 : 1;
}

/* one file of the manifest's "files": "name": {"size": n, "sha256": "hex"}; the hex digits
 * start at *hex_at of files */
static int
json_file(walk *w, size_t end, long long size, const char *hex, size_t *hex_at)
{
    static const char before[] = ": {\"size\": ", after[] = ", \"sha256\": \"";
    char digits[24];  /* size in decimal (not negative), by hand: snprintf cost 0.4 us */
    size_t n = sizeof digits;
    unsigned long long v = (unsigned long long)size;
    do
        digits[--n] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    if (growbuf_put(&w->files, w->nfiles ? ", " : "{", w->nfiles ? 2 : 1) < 0)
        return -1;
    int rc = json_string(&w->files, w->member.data + w->prefix_len, end - w->prefix_len);
    if (rc <= 0)
        return rc;
    if (growbuf_put(&w->files, before, sizeof before - 1) < 0
        || growbuf_put(&w->files, digits + n, sizeof digits - n) < 0
        || growbuf_put(&w->files, after, sizeof after - 1) < 0)
        return -1;
    *hex_at = w->files.len;
    if (growbuf_put(&w->files, hex, 64) < 0 || growbuf_put(&w->files, "\"}", 2) < 0)
        return -1;
    w->nfiles++;
    return 1;
}

/* O_NOATIME until the kernel refuses it (another owner's file): an export reads the jobs'
 * files and directories without moving their access times (quietopen.h) */
static int pack_noatime = O_NOATIME;

/* read the regular file name (in dir_fd) into the member: header, data, padding */
static int
add_file(walk *w, int dir_fd, const char *name, size_t end)
{
    int fd = open_quietly(dir_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK,
                          &pack_noatime);
    if (fd < 0)
        return FALLBACK;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > SMALL) {
        close(fd);
        return FALLBACK;
    }
    long long size = (long long)st.st_size;
    if (member_header(&w->out, w->member.data, end, size, st.st_mode, whole_seconds(&st.st_mtim),
                      '0', "", 0) < 0
        || growbuf_room(&w->out, (size_t)size + 1 + BLOCK) < 0) {
        close(fd);
        return -1;
    }
    size_t data_at = w->out.len;
    char *data = w->out.data + data_at;
    ssize_t got = read(fd, data, (size_t)size + 1);
    close(fd);
    if (got != (ssize_t)size) /* short, grown, or an error: the reference says which */
        return FALLBACK;
    char hex[65];
    int later = !w->accelerated && size >= HASHLIB_FROM;
    if (later)
        memset(hex, '0', 64);
    else
        sha256_hex((const unsigned char *)data, (size_t)size, hex);
    later_hash row = {data_at, (size_t)size, 0};
    int rc = json_file(w, end, size, hex, &row.hex_at);
    if (rc <= 0)
        return rc;
    if (later && growbuf_put(&w->later, &row, sizeof row) < 0)
        return -1;
    if (end - w->prefix_len == strlen(w->need)
        && memcmp(w->member.data + w->prefix_len, w->need, end - w->prefix_len) == 0)
        w->has_need = 1;
    size_t pad = (BLOCK - (size_t)size % BLOCK) % BLOCK;
    memset(data + size, 0, pad);
    w->out.len += (size_t)size + pad;
    w->total += size;
    return 1;
}

/* set the member name to its first base bytes, then name (and a slash for a directory) */
static int
member_at(walk *w, size_t base, const char *name, size_t len, int slash)
{
    w->member.len = base;
    if (growbuf_put(&w->member, name, len) < 0 || (slash && growbuf_put(&w->member, "/", 1) < 0))
        return -1;
    return 0;
}

/* the entries of the directory dir_fd, whose member name (ending in a slash) is
 * w->member[:w->member.len]: as the reference, the subdirectories' members first, then the
 * files', then each subdirectory's entries */
static int
add_tree(walk *w, int dir_fd, int depth)
{
    if (depth > MAX_DEPTH)
        return FALLBACK;
    size_t n = 0;
    int err;
    entry *entries = sorted_entries(dir_fd, &n, &err);
    if (entries == NULL)
        return err;
    size_t base = w->member.len;
    int rc = 1;
    for (size_t i = 0; rc > 0 && i < n; i++) {
        entry *e = &entries[i];
        struct stat st;
        if (e->type == DT_UNKNOWN || e->type == DT_DIR) {
            if (fstatat(dir_fd, e->name, &st, AT_SYMLINK_NOFOLLOW) != 0) {
                rc = FALLBACK;
                break;
            }
            e->type = S_ISDIR(st.st_mode) ? DT_DIR : S_ISREG(st.st_mode) ? DT_REG : DT_UNKNOWN;
        }
        if (e->type == DT_DIR) {
            size_t len = strlen(e->name);
            long long mtime = whole_seconds(&st.st_mtim);
            if (member_at(w, base, e->name, len, 1) < 0)
                rc = -1;
            else if ((rc = set_dir(w, base + len, st.st_mode, mtime)) > 0
                     && member_header(&w->out, w->member.data, w->member.len, 0, st.st_mode,
                                      mtime, '5', "", 0) < 0)
                rc = -1;
        } else if (strstr(e->name, w->skip) != NULL) {
            e->type = DT_WHT; /* a write in progress: not the job's (marked as done) */
        } else if (e->type != DT_REG) {
            rc = FALLBACK; /* links and special files: the reference decides */
        }
    }
    for (size_t i = 0; rc > 0 && i < n; i++) {
        if (entries[i].type != DT_REG)
            continue;
        size_t len = strlen(entries[i].name);
        rc = member_at(w, base, entries[i].name, len, 0) < 0 ? -1
            : add_file(w, dir_fd, entries[i].name, base + len);
    }
    for (size_t i = 0; rc > 0 && i < n; i++) {
        if (entries[i].type != DT_DIR)
            continue;
        int fd = open_quietly(dir_fd, entries[i].name,
                              O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC, &pack_noatime);
        if (fd < 0) {
            rc = FALLBACK;
            break;
        }
        if (member_at(w, base, entries[i].name, strlen(entries[i].name), 1) < 0)
            rc = -1;
        else
            rc = add_tree(w, fd, depth + 1);
        close(fd);
    }
    w->member.len = base;
    free_entries(entries, n);
    return rc;
}

/* tests: 1 makes every walk leave its hashes from HASHLIB_FROM bytes to hashlib, as on a CPU
 * without SHA-NI (set by _defer_hashes while no walk runs) */
static int defer_hashes;

static void
walk_free(walk *w)
{
    growbuf_free(&w->out);
    growbuf_free(&w->member);
    growbuf_free(&w->files);
    growbuf_free(&w->dirs);
    growbuf_free(&w->later);
}

/* walk the job directory root (a path) exported as prefix[:prefix_len] into w (zeroed here):
 * 1, FALLBACK or -1 (out of memory); w's buffers are the caller's to free in every case.
 * Without the GIL. */
static int
walk_job(walk *w, const char *root, const char *prefix, size_t prefix_len, const char *skip,
         const char *need)
{
    memset(w, 0, sizeof *w);
    w->skip = skip;
    w->need = need;
    w->accelerated = sha256_accelerated() && !defer_hashes;
    int fd = open_quietly(AT_FDCWD, root, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC,
                          &pack_noatime);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) {
        if (fd >= 0)
            close(fd);
        return FALLBACK;
    }
    int rc = 1;
    if (growbuf_put(&w->member, prefix, prefix_len) < 0 || growbuf_put(&w->member, "/", 1) < 0
        || member_header(&w->out, w->member.data, w->member.len, 0, st.st_mode,
                         whole_seconds(&st.st_mtim), '5', "", 0) < 0)
        rc = -1;
    w->prefix_len = w->member.len;
    if (rc > 0)
        rc = add_tree(w, fd, 0);
    close(fd);
    if (rc > 0 && !w->has_need)
        rc = FALLBACK;  /* the reference says what is missing */
    if (rc > 0 && growbuf_put(&w->files, w->nfiles ? "}" : "{}", w->nfiles ? 1 : 2) < 0)
        rc = -1;
    return rc;
}

/* ---- with the GIL: a walk's result as Python objects ---- */

/* pack_tree's tuple (or None for FALLBACK, NULL with MemoryError for -1) of a walk that
 * returned rc; frees w's buffers */
static PyObject *
walk_result(walk *w, int rc)
{
    PyObject *out = NULL, *data = NULL, *files = NULL, *dirs = NULL;
    if (rc == FALLBACK) {
        out = Py_NewRef(Py_None);
        goto done;
    }
    if (rc < 0) {
        PyErr_NoMemory();
        goto done;
    }
    for (size_t at = 0; at < w->later.len; at += sizeof(later_hash)) {
        later_hash row;
        memcpy(&row, w->later.data + at, sizeof row);
        PyObject *hex = digest_of(w->out.data + row.data_at, (Py_ssize_t)row.size);
        const char *text = hex == NULL ? NULL : PyUnicode_AsUTF8(hex);
        if (text != NULL)
            memcpy(w->files.data + row.hex_at, text, 64);
        Py_XDECREF(hex);
        if (text == NULL)
            goto done;
    }
    if ((dirs = PyDict_New()) == NULL)
        goto done;
    for (size_t at = 0; at < w->dirs.len;) {
        dir_row row;
        memcpy(&row, w->dirs.data + at, sizeof row);
        at += sizeof row;
        PyObject *name = PyUnicode_DecodeUTF8(w->dirs.data + at, (Py_ssize_t)row.len, "strict");
        at += row.len;
        PyObject *value = name == NULL ? NULL : Py_BuildValue("[LL]", row.mode, row.mtime);
        int failed = value == NULL || PyDict_SetItem(dirs, name, value) < 0;
        Py_XDECREF(name);
        Py_XDECREF(value);
        if (failed)
            goto done;
    }
    data = PyBytes_FromStringAndSize(w->out.data, (Py_ssize_t)w->out.len);
    files = data == NULL ? NULL
        : PyUnicode_FromStringAndSize(w->files.data, (Py_ssize_t)w->files.len);
    if (files != NULL)
        out = Py_BuildValue("(OOnOL)", data, files, w->nfiles, dirs, w->total);
done:
    Py_XDECREF(data);
    Py_XDECREF(files);
    Py_XDECREF(dirs);
    walk_free(w);
    return out;
}

PyDoc_STRVAR(pack_tree_doc,
"pack_tree(root, prefix, skip, need) -> (bytes, files_json, nfiles, dirs, total) or None\n\n"
"The tar members of the job directory root exported under prefix (no trailing slash): its\n"
"own directory member, then those of archive.export._add_tree (the reference, with\n"
"TarWriter.add_dir before it), byte for byte; files_json is the manifest's 'files' of the\n"
"job as archive.manifest.encode writes the reference's dict (each file's name inside the\n"
"job to {'size', 'sha256'}), nfiles their number, dirs maps each subdirectory's name to\n"
"[mode, mtime], total is the bytes of data. Names of non-directories containing skip are\n"
"left out. None where the job is not the common case (no file need at its top level, links,\n"
"special files, files over 1 MiB, names not UTF-8, any error of the file system): nothing\n"
"was written, export it by the reference. The walk runs without the GIL. Raises\n"
"MemoryError, and TypeError for arguments of other types.");

static PyObject *
pack_tree(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *root_obj, *prefix;
    const char *skip, *need;
    if (!PyArg_ParseTuple(args, "O&Uss:pack_tree", PyUnicode_FSConverter, &root_obj, &prefix,
                          &skip, &need))
        return NULL;
    Py_ssize_t prefix_len;
    const char *prefix_text = PyUnicode_AsUTF8AndSize(prefix, &prefix_len);
    if (prefix_text == NULL) { /* not UTF-8: the reference says so in its own words */
        PyErr_Clear();
        Py_DECREF(root_obj);
        Py_RETURN_NONE;
    }
    walk w;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = walk_job(&w, PyBytes_AS_STRING(root_obj), prefix_text, (size_t)prefix_len, skip, need);
    Py_END_ALLOW_THREADS
    Py_DECREF(root_obj);
    return walk_result(&w, rc);
}

PyDoc_STRVAR(defer_hashes_doc,
"_defer_hashes(on)\n\nFor tests: with on true, pack_tree and pack_trees hash files from 2 KiB\n"
"by hashlib, after the walk, as they do on a CPU without SHA-NI. Not while a walk runs.");

static PyObject *
set_defer_hashes(PyObject *Py_UNUSED(self), PyObject *arg)
{
    int on = PyObject_IsTrue(arg);
    if (on < 0)
        return NULL;
    defer_hashes = on;
    Py_RETURN_NONE;
}

/* ---- pack_trees: the jobs of an export walked in order, by a worker thread ahead ---- */

#define AHEAD_BYTES (16 << 20) /* the worker waits with this much walked and not taken */
#define WAKE_BATCH 16          /* a waiting consumer is woken when this many jobs are ready */

typedef struct {
    walk w;
    int rc;
} walked;

typedef struct {
    PyObject_HEAD
    PyObject *roots;          /* tuple of bytes: the job directories, file-system encoded */
    PyObject *prefixes;       /* tuple of str, kept for prefix_text */
    const char **prefix_text; /* each prefix's UTF-8 (NULL: none, the job falls back) */
    size_t *prefix_len;
    char *skip, *need;
    Py_ssize_t n, next;       /* the jobs; the next one to hand out */
    Py_ssize_t ahead;         /* slots of ring; 0: no worker, next walks (in ring[0]) */
    walked *ring;
    int busy;                 /* in next (which waits without the GIL) */
    /* shared with the worker, under lock */
    pthread_mutex_t lock;
    pthread_cond_t ready, room;
    Py_ssize_t done, taken;   /* jobs walked; jobs handed out (their slot free again) */
    size_t bytes_ahead;       /* tar bytes walked and not yet taken */
    int stop, consumer_waits, worker_waits, started;
    pthread_t thread;
} packer;

static PyTypeObject packer_type;

static int
walk_nth(packer *p, Py_ssize_t i, walk *w)
{
    /* the tuples and their items are immutable and held by p: read without the GIL */
    if (p->prefix_text[i] == NULL) {
        memset(w, 0, sizeof *w);
        return FALLBACK;
    }
    return walk_job(w, PyBytes_AS_STRING(PyTuple_GET_ITEM(p->roots, i)), p->prefix_text[i],
                    p->prefix_len[i], p->skip, p->need);
}

static void *
packer_work(void *arg)
{
    packer *p = arg;
    for (Py_ssize_t i = 0; i < p->n; i++) {
        pthread_mutex_lock(&p->lock);
        /* a free slot, and not too many bytes waiting (unless none is waiting) */
        while (!p->stop && (i - p->taken >= p->ahead
                            || (p->bytes_ahead >= AHEAD_BYTES && i > p->taken))) {
            p->worker_waits = 1;
            pthread_cond_wait(&p->room, &p->lock);
        }
        p->worker_waits = 0;
        int stop = p->stop;
        pthread_mutex_unlock(&p->lock);
        if (stop)
            break;
        walked *slot = &p->ring[i % p->ahead];
        slot->rc = walk_nth(p, i, &slot->w);
        pthread_mutex_lock(&p->lock);
        p->done = i + 1;
        p->bytes_ahead += slot->w.out.len;
        /* a waiting consumer is woken for a batch, not for each job: a wake-up per job cost
         * two context switches a job */
        if (p->consumer_waits && (p->done - p->taken >= WAKE_BATCH || p->done == p->n
                                  || p->done - p->taken >= p->ahead
                                  || p->bytes_ahead >= AHEAD_BYTES))
            pthread_cond_signal(&p->ready);
        pthread_mutex_unlock(&p->lock);
    }
    return NULL;
}

/* stop the worker (if any) and free what it walked */
static void
packer_stop(packer *p)
{
    if (p->started) {
        pthread_mutex_lock(&p->lock);
        p->stop = 1;
        pthread_cond_signal(&p->room);
        pthread_mutex_unlock(&p->lock);
        Py_BEGIN_ALLOW_THREADS
        pthread_join(p->thread, NULL);
        Py_END_ALLOW_THREADS
        p->started = 0;
    }
    for (Py_ssize_t k = 0; p->ring != NULL && k < (p->ahead ? p->ahead : 1); k++)
        walk_free(&p->ring[k].w); /* free again is harmless: freed buffers are empty */
    p->next = p->n;
}

static PyObject *
packer_next(packer *p)
{
    if (p->next >= p->n)
        return NULL;
    if (p->busy) {
        PyErr_SetString(PyExc_RuntimeError, "pack_trees: next() of one iterator in two threads");
        return NULL;
    }
    p->busy = 1;
    walked *slot;
    if (p->ahead == 0) {
        slot = &p->ring[0];
        Py_BEGIN_ALLOW_THREADS
        slot->rc = walk_nth(p, p->next, &slot->w);
        Py_END_ALLOW_THREADS
    } else {
        slot = &p->ring[p->next % p->ahead];
        pthread_mutex_lock(&p->lock);
        int ready = p->done > p->next;
        pthread_mutex_unlock(&p->lock);
        if (!ready) {
            /* the mutex is never held while taking the GIL back: no lock-order trouble */
            Py_BEGIN_ALLOW_THREADS
            pthread_mutex_lock(&p->lock);
            while (p->done <= p->next) {
                p->consumer_waits = 1;
                pthread_cond_wait(&p->ready, &p->lock);
            }
            p->consumer_waits = 0;
            pthread_mutex_unlock(&p->lock);
            Py_END_ALLOW_THREADS
        }
    }
    size_t len = slot->w.out.len;
    PyObject *out = walk_result(&slot->w, slot->rc);
    p->next++;
    if (p->ahead) {
        pthread_mutex_lock(&p->lock);
        p->taken = p->next;
        p->bytes_ahead -= len;
        /* likewise the worker, once half of its slots (or of its bytes) are free again */
        if (p->worker_waits && p->done - p->taken <= p->ahead / 2
            && p->bytes_ahead <= AHEAD_BYTES / 2)
            pthread_cond_signal(&p->room);
        pthread_mutex_unlock(&p->lock);
    }
    p->busy = 0;
    return out;
}

PyDoc_STRVAR(packer_close_doc,
"close()\n\nStop walking: the worker thread ends and what it walked is freed; the iterator\n"
"is exhausted.");

static PyObject *
packer_close(packer *p, PyObject *Py_UNUSED(ignored))
{
    if (p->busy) {
        PyErr_SetString(PyExc_RuntimeError, "pack_trees: close() while next() waits");
        return NULL;
    }
    packer_stop(p);
    Py_RETURN_NONE;
}

static void
packer_dealloc(packer *p)
{
    packer_stop(p);
    if (p->ahead) {
        pthread_cond_destroy(&p->ready);
        pthread_cond_destroy(&p->room);
        pthread_mutex_destroy(&p->lock);
    }
    PyMem_Free(p->ring);
    PyMem_Free(p->prefix_text);
    PyMem_Free(p->prefix_len);
    PyMem_Free(p->skip);
    PyMem_Free(p->need);
    Py_XDECREF(p->roots);
    Py_XDECREF(p->prefixes);
    Py_TYPE(p)->tp_free((PyObject *)p);
}

static PyMethodDef packer_methods[] = {
    {"close", (PyCFunction)packer_close, METH_NOARGS, packer_close_doc},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject packer_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "archive._tarpack.Packer",
    .tp_basicsize = sizeof(packer),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "The jobs of pack_trees, in order (an iterator).",
    .tp_dealloc = (destructor)packer_dealloc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)packer_next,
    .tp_methods = packer_methods,
};

static char *
copy_text(const char *s)
{
    size_t n = strlen(s) + 1;
    char *copy = PyMem_Malloc(n);
    if (copy == NULL)
        PyErr_NoMemory();
    else
        memcpy(copy, s, n);
    return copy;
}

PyDoc_STRVAR(pack_trees_doc,
"pack_trees(roots, prefixes, skip, need, ahead=0) -> iterator\n\n"
"pack_tree(root, prefix, skip, need) of each root and prefix (two sequences of the same\n"
"length) in order, as an iterator of its results (tuples, or None where the reference must\n"
"export the job). With ahead > 0 a worker thread walks up to ahead jobs (and up to 16 MiB)\n"
"ahead of the iterator, without the GIL; with 0, each step walks its job. The results are\n"
"the same either way. close() stops the worker. Raises TypeError and ValueError for\n"
"arguments of other types or lengths, MemoryError (at the job that needed the memory).");

static PyObject *
pack_trees(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *roots_in, *prefixes_in;
    const char *skip, *need;
    Py_ssize_t ahead = 0;
    if (!PyArg_ParseTuple(args, "OOss|n:pack_trees", &roots_in, &prefixes_in, &skip, &need,
                          &ahead))
        return NULL;
    if (ahead < 0) {
        PyErr_SetString(PyExc_ValueError, "pack_trees: ahead must not be negative");
        return NULL;
    }
    packer *p = PyObject_New(packer, &packer_type);
    if (p == NULL)
        return NULL;
    /* everything the dealloc frees, empty first */
    p->roots = p->prefixes = NULL;
    p->prefix_text = NULL;
    p->prefix_len = NULL;
    p->skip = p->need = NULL;
    p->n = p->next = p->done = p->taken = 0;
    p->ahead = 0;
    p->ring = NULL;
    p->busy = p->stop = p->consumer_waits = p->worker_waits = p->started = 0;
    p->bytes_ahead = 0;
    PyObject *roots = PySequence_Tuple(roots_in);
    p->prefixes = roots == NULL ? NULL : PySequence_Tuple(prefixes_in);
    if (p->prefixes == NULL)
        goto error;
    p->n = PyTuple_GET_SIZE(roots);
    if (PyTuple_GET_SIZE(p->prefixes) != p->n) {
        PyErr_SetString(PyExc_ValueError, "pack_trees: as many prefixes as roots are needed");
        goto error;
    }
    if ((p->roots = PyTuple_New(p->n)) == NULL)
        goto error;
    p->prefix_text = PyMem_Calloc((size_t)p->n + 1, sizeof *p->prefix_text);
    p->prefix_len = PyMem_Calloc((size_t)p->n + 1, sizeof *p->prefix_len);
    p->ring = PyMem_Calloc((size_t)(ahead ? ahead : 1), sizeof *p->ring);
    if (p->prefix_text == NULL || p->prefix_len == NULL || p->ring == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    for (Py_ssize_t i = 0; i < p->n; i++) {
        PyObject *encoded, *prefix = PyTuple_GET_ITEM(p->prefixes, i);
        if (!PyUnicode_FSConverter(PyTuple_GET_ITEM(roots, i), &encoded))
            goto error;
        PyTuple_SET_ITEM(p->roots, i, encoded);
        if (!PyUnicode_Check(prefix)) {
            PyErr_Format(PyExc_TypeError, "pack_trees: a prefix must be str, not %.100s",
                         Py_TYPE(prefix)->tp_name);
            goto error;
        }
        Py_ssize_t len = 0;
        /* not UTF-8: that job falls back, the reference says so in its own words */
        if ((p->prefix_text[i] = PyUnicode_AsUTF8AndSize(prefix, &len)) == NULL)
            PyErr_Clear();
        p->prefix_len[i] = (size_t)len;
    }
    Py_CLEAR(roots);
    if ((p->skip = copy_text(skip)) == NULL || (p->need = copy_text(need)) == NULL)
        goto error;
    if (ahead > 0 && p->n > 0) {
        if (pthread_mutex_init(&p->lock, NULL) != 0)
            goto walk_here;
        if (pthread_cond_init(&p->ready, NULL) != 0) {
            pthread_mutex_destroy(&p->lock);
            goto walk_here;
        }
        if (pthread_cond_init(&p->room, NULL) != 0) {
            pthread_cond_destroy(&p->ready);
            pthread_mutex_destroy(&p->lock);
            goto walk_here;
        }
        p->ahead = ahead;
        if (pthread_create(&p->thread, NULL, packer_work, p) == 0)
            p->started = 1;
        else { /* no thread to be had: each step walks its job */
            pthread_cond_destroy(&p->room);
            pthread_cond_destroy(&p->ready);
            pthread_mutex_destroy(&p->lock);
            p->ahead = 0;
        }
    }
walk_here:
    return (PyObject *)p;
error:
    Py_XDECREF(roots);
    Py_DECREF(p);
    return NULL;
}

/* ---- import: the members read, by name (suite/_c/membertable.h) ---- */

static PyTypeObject member_table_type;
static PyObject *name_str(const char *s, size_t n);

/* a new entry named s[:n] (hash h; not in t yet), its kind and data for the caller to set;
 * NULL with MemoryError */
static mt_entry *
mt_add(member_table *t, const char *s, size_t n, size_t h)
{
    if (t->count == t->room) {
        size_t room = t->room ? 2 * t->room : 1024;
        mt_entry *entries = PyMem_Realloc(t->entries, room * sizeof *entries);
        if (entries == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        t->entries = entries;
        t->room = room;
    }
    if (2 * (t->count + 1) > t->cap) { /* at most half full */
        size_t cap = t->cap ? 2 * t->cap : 2048;
        if (cap > UINT32_MAX) {
            PyErr_NoMemory();
            return NULL;
        }
        uint32_t *slots = PyMem_Calloc(cap, sizeof *slots);
        if (slots == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        for (size_t i = 0; i < t->count; i++)
            for (size_t k = t->entries[i].hash & (cap - 1);; k = (k + 1) & (cap - 1))
                if (slots[k] == 0) {
                    slots[k] = (uint32_t)(i + 1);
                    break;
                }
        PyMem_Free(t->slots);
        t->slots = slots;
        t->cap = cap;
    }
    if (growbuf_room(&t->names, n) < 0) {
        PyErr_NoMemory();
        return NULL;
    }
    mt_entry *e = &t->entries[t->count];
    memset(e, 0, sizeof *e);
    e->name_at = t->names.len;
    e->name_len = n;
    e->hash = h;
    memcpy(t->names.data + t->names.len, s, n);
    t->names.len += n;
    for (size_t k = h & (t->cap - 1);; k = (k + 1) & (t->cap - 1))
        if (t->slots[k] == 0) {
            t->slots[k] = (uint32_t)(t->count + 1);
            break;
        }
    t->count++;
    return e;
}

/* the bytes a str name is kept as (see membertable.h); *holder: a reference to release
 * (NULL for ASCII names, read in place). -1 with an exception set (TypeError: not a str) */
static int
mt_name(PyObject *name, const char **s, size_t *n, PyObject **holder)
{
    *holder = NULL;
    if (!PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "member names are str, not %.100s",
                     Py_TYPE(name)->tp_name);
        return -1;
    }
    if (PyUnicode_IS_ASCII(name)) {
        *s = (const char *)PyUnicode_1BYTE_DATA(name);
        *n = (size_t)PyUnicode_GET_LENGTH(name);
        return 0;
    }
    *holder = PyUnicode_AsEncodedString(name, "utf-8", "surrogatepass");
    if (*holder == NULL)
        return -1;
    *s = PyBytes_AS_STRING(*holder);
    *n = (size_t)PyBytes_GET_SIZE(*holder);
    return 0;
}

static mt_entry *
mt_find_str(member_table *t, PyObject *name, int *err)
{
    const char *s;
    size_t n;
    PyObject *holder;
    *err = mt_name(name, &s, &n, &holder);
    if (*err < 0)
        return NULL;
    mt_entry *e = mt_find(t, s, n, mt_hash(s, n));
    Py_XDECREF(holder);
    return e;
}

static const char hex_digits[] = "0123456789abcdef";

/* the value staged holds for e (a new reference) */
static PyObject *
mt_value(member_table *t, mt_entry *e)
{
    if (e->kind == MT_OBJECT)
        return Py_NewRef(e->u.obj.value);
    if (e->kind == MT_DIR)
        return Py_NewRef(t->dir_value);
    PyObject *hex = PyUnicode_New(64, 127);
    PyObject *size = hex == NULL ? NULL : PyLong_FromLongLong(e->size);
    PyObject *out = size == NULL ? NULL : PyTuple_New(3);
    if (out == NULL) {
        Py_XDECREF(hex);
        Py_XDECREF(size);
        return NULL;
    }
    Py_UCS1 *d = PyUnicode_1BYTE_DATA(hex);
    for (int i = 0; i < 32; i++) {
        d[2 * i] = (Py_UCS1)hex_digits[e->u.sha[i] >> 4];
        d[2 * i + 1] = (Py_UCS1)hex_digits[e->u.sha[i] & 15];
    }
    PyTuple_SET_ITEM(out, 0, Py_NewRef(t->file_kind));
    PyTuple_SET_ITEM(out, 1, size);
    PyTuple_SET_ITEM(out, 2, hex);
    return out;
}

/* the key staged holds for e (a new reference): native names are strict UTF-8 */
static PyObject *
mt_key(member_table *t, mt_entry *e)
{
    if (e->kind == MT_OBJECT)
        return Py_NewRef(e->u.obj.key);
    return name_str(t->names.data + e->name_at, e->name_len);
}

static PyObject *
member_table_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *file_kind, *dir_kind;
    static char *kwlist[] = {"file_kind", "dir_kind", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO:MemberTable", kwlist, &file_kind,
                                     &dir_kind))
        return NULL;
    member_table *t = (member_table *)type->tp_alloc(type, 0);
    if (t == NULL)
        return NULL;
    t->file_kind = Py_NewRef(file_kind);
    t->dir_kind = Py_NewRef(dir_kind);
    t->dir_value = Py_BuildValue("(OiO)", dir_kind, 0, Py_None);
    if (t->dir_value == NULL) {
        Py_DECREF(t);
        return NULL;
    }
    return (PyObject *)t;
}

static void
member_table_dealloc(member_table *t)
{
    for (size_t i = 0; i < t->count; i++)
        if (t->entries[i].kind == MT_OBJECT) {
            Py_DECREF(t->entries[i].u.obj.key);
            Py_DECREF(t->entries[i].u.obj.value);
        }
    PyMem_Free(t->entries);
    PyMem_Free(t->slots);
    PyMem_RawFree(t->names.data);
    Py_XDECREF(t->file_kind);
    Py_XDECREF(t->dir_kind);
    Py_XDECREF(t->dir_value);
    Py_TYPE(t)->tp_free((PyObject *)t);
}

static Py_ssize_t
member_table_len(member_table *t)
{
    return (Py_ssize_t)t->count;
}

static int
member_table_contains(member_table *t, PyObject *name)
{
    int err;
    mt_entry *e = mt_find_str(t, name, &err);
    return err < 0 ? -1 : e != NULL;
}

static PyObject *
member_table_getitem(member_table *t, PyObject *name)
{
    int err;
    mt_entry *e = mt_find_str(t, name, &err);
    if (e == NULL) {
        if (err == 0)
            PyErr_SetObject(PyExc_KeyError, name);
        return NULL;
    }
    return mt_value(t, e);
}

static int
member_table_setitem(member_table *t, PyObject *name, PyObject *value)
{
    if (value == NULL) {
        PyErr_SetString(PyExc_TypeError, "members are not removed from a MemberTable");
        return -1;
    }
    const char *s;
    size_t n;
    PyObject *holder;
    if (mt_name(name, &s, &n, &holder) < 0)
        return -1;
    size_t h = mt_hash(s, n);
    mt_entry *e = mt_find(t, s, n, h);
    if (e == NULL)
        e = mt_add(t, s, n, h);
    else if (e->kind == MT_OBJECT) {
        Py_CLEAR(e->u.obj.key);
        Py_CLEAR(e->u.obj.value);
    }
    Py_XDECREF(holder);
    if (e == NULL)
        return -1;
    e->kind = MT_OBJECT;
    e->u.obj.key = Py_NewRef(name);
    e->u.obj.value = Py_NewRef(value);
    return 0;
}

static PyObject *
member_table_get(member_table *t, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 2) {
        PyErr_SetString(PyExc_TypeError, "get(name, default=None)");
        return NULL;
    }
    int err;
    mt_entry *e = mt_find_str(t, args[0], &err);
    if (e == NULL)
        return err < 0 ? NULL : Py_NewRef(nargs > 1 ? args[1] : Py_None);
    return mt_value(t, e);
}

static PyObject *
member_table_to_dict(member_table *t, PyObject *Py_UNUSED(ignored))
{
    PyObject *out = _PyDict_NewPresized((Py_ssize_t)t->count);
    for (size_t i = 0; out != NULL && i < t->count; i++) {
        PyObject *key = mt_key(t, &t->entries[i]);
        PyObject *value = key == NULL ? NULL : mt_value(t, &t->entries[i]);
        if (value == NULL || PyDict_SetItem(out, key, value) < 0)
            Py_CLEAR(out);
        Py_XDECREF(key);
        Py_XDECREF(value);
    }
    return out;
}

/* add_file / add_dir: an entry as scan_members makes it (C data, no Python object) */
static PyObject *
member_table_add_native(member_table *t, PyObject *args, int kind)
{
    PyObject *name;
    long long size = 0;
    Py_buffer digest = {0};
    if (kind == MT_FILE ? !PyArg_ParseTuple(args, "ULy*:add_file", &name, &size, &digest)
                        : !PyArg_ParseTuple(args, "U:add_dir", &name))
        return NULL;
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(name, &n); /* strict: as the scan decodes */
    PyObject *out = NULL;
    if (s == NULL)
        goto done;
    if (kind == MT_FILE && (digest.len != 32 || size < 0)) {
        PyErr_SetString(PyExc_ValueError, "add_file: a size >= 0 and a 32-byte digest");
        goto done;
    }
    size_t h = mt_hash(s, (size_t)n);
    if (mt_find(t, s, (size_t)n, h) != NULL) {
        PyErr_SetObject(PyExc_KeyError, name);
        goto done;
    }
    mt_entry *e = mt_add(t, s, (size_t)n, h);
    if (e == NULL)
        goto done;
    e->kind = kind;
    if (kind == MT_FILE) {
        e->size = size;
        memcpy(e->u.sha, digest.buf, 32);
    }
    out = Py_NewRef(Py_None);
done:
    if (digest.buf != NULL)
        PyBuffer_Release(&digest);
    return out;
}

static PyObject *
member_table_add_file(member_table *t, PyObject *args)
{
    return member_table_add_native(t, args, MT_FILE);
}

static PyObject *
member_table_add_dir(member_table *t, PyObject *args)
{
    return member_table_add_native(t, args, MT_DIR);
}

static PyMethodDef member_table_methods[] = {
    {"add_file", (PyCFunction)member_table_add_file, METH_VARARGS,
     "add_file(name, size, digest): a file as scan_members keeps it (digest: its SHA-256's\n"
     "32 bytes); then t[name] is (file kind, size, hex digest). Raises KeyError for a name\n"
     "there already, UnicodeEncodeError for one that is not UTF-8, ValueError."},
    {"add_dir", (PyCFunction)member_table_add_dir, METH_VARARGS,
     "add_dir(name): a directory as scan_members keeps it; then t[name] is (dir kind, 0,\n"
     "None). Raises KeyError for a name there already, UnicodeEncodeError."},
    {"get", (PyCFunction)(void (*)(void))member_table_get, METH_FASTCALL,
     "get(name, default=None): the member's (kind, size, sha256 or target), as dict.get."},
    {"to_dict", (PyCFunction)member_table_to_dict, METH_NOARGS,
     "to_dict() -> dict: name -> (kind, size, sha256 or target), in the order added."},
    {NULL, NULL, 0, NULL},
};

static PyMappingMethods member_table_mapping = {
    .mp_length = (lenfunc)member_table_len,
    .mp_subscript = (binaryfunc)member_table_getitem,
    .mp_ass_subscript = (objobjargproc)member_table_setitem,
};

static PySequenceMethods member_table_sequence = {
    .sq_contains = (objobjproc)member_table_contains,
};

static PyTypeObject member_table_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "archive._tarpack.MemberTable",
    .tp_doc = "MemberTable(file_kind, dir_kind): the members an import read, by name (what\n"
              "archive.importer.scan's staged dict holds: name -> (kind, size, sha256 or\n"
              "target)); scan_members adds the members it takes as C data, t[name] = value\n"
              "the others. in, [], get, len and to_dict() as a dict's (KeyError, TypeError for\n"
              "names that are not str); members are never removed. Values are not tracked by\n"
              "the cyclic collector (the importer's are tuples of str and int).",
    .tp_basicsize = sizeof(member_table),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = member_table_new,
    .tp_dealloc = (destructor)member_table_dealloc,
    .tp_as_mapping = &member_table_mapping,
    .tp_as_sequence = &member_table_sequence,
    .tp_methods = member_table_methods,
};

/* ---- import: the plain members of a tar buffer, archive.importer.scan ---- */

/* value of a field of octal digits only (no NUL inside); -1 for anything else */
static long long
strict_octal(const unsigned char *p, int n)
{
    long long v = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] < '0' || p[i] > '7')
            return -1;
        v = v * 8 + (p[i] - '0');
    }
    return v;
}

static int
ends_with_name(const char *name, size_t n, const char *base, size_t base_len)
{
    /* name == base or name ends with "/" + base */
    if (n == base_len)
        return memcmp(name, base, n) == 0;
    return n > base_len && name[n - base_len - 1] == '/'
        && memcmp(name + n - base_len, base, base_len) == 0;
}

/* Stage.attrs: (mode or None, mtime or None) */
static PyObject *
stage_attrs(long long mode, long long mtime, int umask, int deflt)
{
    long long m = mode & 0777 & ~umask;
    int keep = m && m != (deflt & ~umask);
    PyObject *a = keep ? PyLong_FromLongLong(m) : Py_NewRef(Py_None);
    PyObject *b = a == NULL ? NULL : mtime ? PyLong_FromLongLong(mtime) : Py_NewRef(Py_None);
    PyObject *out = b == NULL ? NULL : PyTuple_New(2);
    if (out == NULL) {
        Py_XDECREF(a);
        Py_XDECREF(b);
        return NULL;
    }
    PyTuple_SET_ITEM(out, 0, a);
    PyTuple_SET_ITEM(out, 1, b);
    return out;
}

/* the str of the UTF-8 name s[:n]: ASCII names copied as they are (most; no decoder);
 * NULL with an exception set (UnicodeDecodeError: not UTF-8) */
static PyObject *
name_str(const char *s, size_t n)
{
    if (!is_ascii(s, n))
        return PyUnicode_DecodeUTF8(s, (Py_ssize_t)n, "strict");
    PyObject *out = PyUnicode_New((Py_ssize_t)n, 127);
    if (out != NULL)
        memcpy(PyUnicode_1BYTE_DATA(out), s, n);
    return out;
}

/* root + "/d" + count into path (of size cap) as snprintf("%s/d%zd") writes it; its length,
 * or -1 where it does not fit */
static int
staging_path(char *path, size_t cap, const char *root, Py_ssize_t count)
{
    char digits[24];
    int nd = 0;
    size_t v = (size_t)count;
    do
        digits[nd++] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    size_t root_len = strlen(root);
    if (count < 0 || root_len + 2 + (size_t)nd + 1 > cap)
        return -1;
    memcpy(path, root, root_len);
    path[root_len] = '/';
    path[root_len + 1] = 'd';
    for (int i = 0; i < nd; i++)
        path[root_len + 2 + i] = digits[nd - 1 - i];
    path[root_len + 2 + nd] = '\0';
    return (int)(root_len + 2 + (size_t)nd);
}

typedef struct {
    PyObject *dirs;           /* Stage.dirs (NULL: nothing is written) */
    const char *root;         /* Stage.root, file-system encoded */
    Py_ssize_t count;         /* Stage._count: the staging directories made */
    int umask;
    char parent[PATH_MAX];    /* the archive directory of the last file (UTF-8), and */
    size_t parent_len;
    PyObject *target;         /* its staging directory, file-system encoded bytes (or NULL) */
} stage_ref;

/* the staging directory (bytes, borrowed) for the archive directory name[:n]: Stage.dirs's,
 * or made as Stage.dir_for (the reference) makes it; NULL with no exception: hand the
 * member back (the reference makes the directory and reports) */
static PyObject *
staging_dir(stage_ref *st, const char *name, size_t n)
{
    if (st->target != NULL && n == st->parent_len && memcmp(st->parent, name, n) == 0)
        return st->target; /* the same directory as the last file's: most files */
    if (n >= sizeof st->parent)
        return NULL;
    PyObject *parent = PyUnicode_DecodeUTF8(name, (Py_ssize_t)n, "strict");
    if (parent == NULL)
        return NULL;
    PyObject *target = NULL, *dir = PyDict_GetItemWithError(st->dirs, parent);
    if (dir != NULL) {
        target = PyUnicode_EncodeFSDefault(dir);
    } else if (!PyErr_Occurred()) {
        char path[PATH_MAX];
        int len = staging_path(path, sizeof path, st->root, st->count);
        if (len > 0 && mkdir(path, 0777) == 0) {
            st->count++;
            dir = PyUnicode_DecodeFSDefaultAndSize(path, len);
            if (dir != NULL && PyDict_SetItem(st->dirs, parent, dir) == 0)
                target = PyBytes_FromStringAndSize(path, len);
            Py_XDECREF(dir);
        }
    }
    Py_DECREF(parent);
    if (target == NULL)
        return NULL;
    memcpy(st->parent, name, n);
    st->parent_len = n;
    Py_XSETREF(st->target, target);
    return target;
}

/* Stage.write: 1 written; 0 not (nothing left behind: hand the member back); -1 exception */
static int
stage_write(stage_ref *st, const char *name, size_t n, const unsigned char *data,
            long long size, long long mode, long long mtime)
{
    const char *slash = NULL;
    for (size_t i = n; i > 0; i--)
        if (name[i - 1] == '/') {
            slash = name + i - 1;
            break;
        }
    PyObject *dir = staging_dir(st, name, slash ? (size_t)(slash - name) : 0);
    if (dir == NULL)
        return PyErr_Occurred() ? -1 : 0;
    const char *base = slash ? slash + 1 : name;
    size_t base_len = n - (size_t)(base - name), dir_len = (size_t)PyBytes_GET_SIZE(dir);
    char path[PATH_MAX];
    if (dir_len + 1 + base_len + 1 > sizeof path)
        return 0;
    memcpy(path, PyBytes_AS_STRING(dir), dir_len);
    path[dir_len] = '/';
    memcpy(path + dir_len + 1, base, base_len);
    path[dir_len + 1 + base_len] = '\0';
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0)
        return 0;
    int ok = 1;
    for (long long done = 0; ok && done < size;) {
        ssize_t w = write(fd, data + done, (size_t)(size - done));
        if (w < 0 && errno == EINTR)
            continue;
        ok = w > 0;
        done += w;
    }
    long long m = mode & 0777 & ~st->umask;
    if (ok && m && m != (0666 & ~st->umask))
        ok = fchmod(fd, (mode_t)m) == 0;
    if (ok && mtime) {
        struct timespec times[2] = {{(time_t)mtime, 0}, {(time_t)mtime, 0}};
        ok = futimens(fd, times) == 0;
    }
    if (close(fd) != 0)
        ok = 0;
    if (!ok)
        unlink(path);
    return ok;
}

/* a header scan_members takes: plain ustar, type file, directory or pax ('x') */
typedef struct {
    char flag;
    long long mode, size, mtime;
} plain;

#define MAX_PAX_PATH 4096

/* the sum of a block's bytes as unsigned numbers; with SSE2 by PSADBW (16 bytes summed by
 * one instruction: ~100 instructions a block, against ~500 for the compiler's widening
 * loop) */
static unsigned int
block_sum(const unsigned char *h)
{
#ifdef __SSE2__
    __m128i zero = _mm_setzero_si128(), acc = zero;
    for (int i = 0; i < BLOCK; i += 16)
        acc = _mm_add_epi64(acc, _mm_sad_epu8(_mm_loadu_si128((const __m128i *)(h + i)), zero));
    return (unsigned int)(_mm_cvtsi128_si32(acc) + _mm_cvtsi128_si32(_mm_srli_si128(acc, 8)));
#else
    unsigned int sum = 0;
    for (int i = 0; i < BLOCK; i++)
        sum += h[i];
    return sum;
#endif
}

static int
plain_header(const unsigned char *h, plain *p)
{
    /* as tarreader._ordinary takes them: NUL-ended octal digits, no prefix or link name,
     * the unsigned checksum right (anything else: the reference's general parser) */
    char flag = (char)h[156];
    if ((flag != '0' && flag != '5' && flag != 'x') || h[345] || h[107] || h[135] || h[147]
        || h[154] || h[157])
        return 0;
    long long mode = strict_octal(h + 100, 7), size = strict_octal(h + 124, 11);
    long long mtime = strict_octal(h + 136, 11), check = strict_octal(h + 148, 6);
    if (mode < 0 || size < 0 || mtime < 0 || check < 0)
        return 0;
    /* the checksum field counts as 8 spaces; one plain sum over the block and the field
     * taken out after (a test per byte cost ~4,900 instructions a header) */
    unsigned int sum = 256 + block_sum(h);
    for (int i = 148; i < 156; i++)
        sum -= h[i];
    if ((long long)sum != check)
        return 0;
    p->flag = flag;
    p->mode = mode;
    p->size = size;
    p->mtime = mtime;
    return 1;
}

/* the value of pax data that is exactly one record "<length> path=<value>\n" (as
 * tarreader._pax_records reads it) without NUL; 0 for anything else */
static int
pax_path(const unsigned char *data, long long size, const char **value, size_t *n)
{
    long long length = 0, i = 0;
    while (i < size && i < 20 && data[i] >= '0' && data[i] <= '9')
        length = length * 10 + (data[i++] - '0');
    if (i == 0 || length != size || i + 6 > size || memcmp(data + i, " path=", 6) != 0
        || data[size - 1] != '\n')
        return 0;
    *value = (const char *)data + i + 6;
    *n = (size_t)(size - 1 - (i + 6));
    return memchr(*value, '\0', *n) == NULL;
}

PyDoc_STRVAR(scan_members_doc,
"scan_members(buf, pos, written, limit, staged, small, dir_attrs, dirs, root, count, umask,\n"
"             small_max, names) -> (pos, written, count)\n\n"
"Take the plain members of the tar data buf from pos, as archive.importer.scan does with\n"
"the members archive.tarreader.TarStream yields (the reference): files of at most small_max\n"
"bytes and directories, in plain ustar headers (octal digits, a right checksum, no prefix,\n"
"no link name; a pax header before it holding only its path), whose names are UTF-8 and\n"
"safety.clean_name keeps as they are, that are not in staged (a MemberTable) yet, and lie\n"
"whole in buf. Each file is hashed into staged (staged[name] is then (file kind, size,\n"
"sha256)), written (unless dirs\n"
"is None) to the staging directory dirs[parent], or one made as Stage.dir_for(parent) makes\n"
"it (root/d<count>, count then one more; into dirs), with the mode and mtime\n"
"of Stage.attrs, and kept in small if it is a state point file; each directory goes to\n"
"staged as (dir kind, 0, None) and to dir_attrs. names: (manifest, state point file);\n"
"limit: the most bytes to write (-1: none). Stops at the first other member, or one that a\n"
"check would refuse or the file system fails to take (nothing of it is left): the\n"
"reference reads it, and raises what it raises. Returns the position after the members\n"
"taken, the new written and the new count. Raises MemoryError, TypeError for arguments of\n"
"other types.");

static PyObject *
scan_members(PyObject *Py_UNUSED(self), PyObject *args)
{
    Py_buffer view;
    Py_ssize_t pos, small_max;
    long long written, limit;
    PyObject *small, *dir_attrs, *dirs, *root;
    PyObject *root_bytes = NULL;
    member_table *table;
    const char *manifest_name, *sp_name;
    int umask;
    stage_ref st;
    if (!PyArg_ParseTuple(args, "y*nLLO!O!OOOnin(ss):scan_members", &view, &pos, &written,
                          &limit, &member_table_type, &table, &PyDict_Type, &small, &dir_attrs,
                          &dirs, &root, &st.count, &umask, &small_max, &manifest_name,
                          &sp_name))
        return NULL;
    st.dirs = dirs == Py_None ? NULL : dirs;
    st.umask = umask;
    st.parent_len = 0;
    st.target = NULL;
    if (st.dirs != NULL && (!PyDict_Check(dirs) || !PyDict_Check(dir_attrs)
                            || !PyUnicode_Check(root))) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_TypeError,
                        "dirs and dir_attrs must be dicts and root a str (or dirs None)");
        return NULL;
    }
    if (st.dirs != NULL && !PyUnicode_FSConverter(root, &root_bytes)) {
        PyBuffer_Release(&view);
        return NULL;
    }
    st.root = root_bytes != NULL ? PyBytes_AS_STRING(root_bytes) : NULL;
    const unsigned char *buf = view.buf;
    Py_ssize_t len = view.len;
    size_t manifest_len = strlen(manifest_name), sp_len = strlen(sp_name);
    int failed = 0;
    if (pos < 0 || pos > len) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "pos lies outside buf");
        return NULL;
    }
    while (!failed && pos + BLOCK <= len) {
        const unsigned char *h = buf + pos;
        plain p;
        if (!plain_header(h, &p))
            break;
        const char *name = (const char *)h;
        size_t n = strnlen(name, 100);
        long long take = BLOCK; /* the header(s) */
        if (p.flag == 'x') { /* a pax header holding only the next member's path */
            if (p.size > MAX_PAX_PATH)
                break;
            take += p.size + (BLOCK - p.size % BLOCK) % BLOCK;
            if (pos + take + BLOCK > len || !pax_path(h + BLOCK, p.size, &name, &n)
                || !plain_header(buf + pos + take, &p) || p.flag == 'x')
                break;
            take += BLOCK;
        }
        char flag = p.flag;
        long long mode = p.mode, size = p.size, mtime = p.mtime;
        if (flag == '5')
            while (n > 0 && name[n - 1] == '/')
                n--;
        if (!clean_as_is(name, n) || (n == manifest_len && memcmp(name, manifest_name, n) == 0))
            break;
        const unsigned char *data = buf + pos + take;
        if (flag == '0') {
            if (size > small_max)
                break;
            take += size + (BLOCK - size % BLOCK) % BLOCK;
            if (pos + take > len || (limit >= 0 && written + size > limit))
                break;
        } else {
            size = 0; /* a directory's data is never read (as the reference's) */
        }
        /* the name must be UTF-8 (else the reference's name, its surrogates): ASCII names
         * are; the str is made only where a dict needs it (state point files, directories) */
        PyObject *key = NULL;
        int ascii = is_ascii(name, n);
        if (!ascii && (key = PyUnicode_DecodeUTF8(name, (Py_ssize_t)n, "strict")) == NULL) {
            failed = !PyErr_ExceptionMatches(PyExc_UnicodeDecodeError);
            if (!failed)
                PyErr_Clear();
            break;
        }
        size_t name_hash = mt_hash(name, n);
        if (mt_find(table, name, n, name_hash) != NULL) {
            Py_XDECREF(key);
            break;
        }
        int is_sp = flag == '0' && ends_with_name(name, n, sp_name, sp_len);
        int need_key = is_sp || (flag == '5' && st.dirs != NULL);
        if (need_key && key == NULL && (key = name_str(name, n)) == NULL) {
            failed = 1;
            break;
        }
        unsigned char sha[32];
        if (flag == '0') {
            if (st.dirs != NULL) {
                int rc = stage_write(&st, name, n, data, size, mode, mtime);
                if (rc <= 0) {
                    Py_XDECREF(key);
                    failed = rc < 0;
                    break;
                }
            }
            int rc = digest_raw((const char *)data, (Py_ssize_t)size, sha);
            if (rc == 0 && is_sp) {
                PyObject *raw = PyBytes_FromStringAndSize((const char *)data, (Py_ssize_t)size);
                rc = raw == NULL || PyDict_SetItem(small, key, raw) < 0 ? -1 : 0;
                Py_XDECREF(raw);
            }
            if (rc < 0) {
                Py_XDECREF(key);
                failed = 1;
                break;
            }
            written += size;
        } else if (st.dirs != NULL) {
            PyObject *attrs = stage_attrs(mode, mtime, umask, 0777);
            int rc = attrs == NULL || PyDict_SetItem(dir_attrs, key, attrs) < 0 ? -1 : 0;
            Py_XDECREF(attrs);
            if (rc < 0) {
                Py_XDECREF(key);
                failed = 1;
                break;
            }
        }
        Py_XDECREF(key);
        mt_entry *e = mt_add(table, name, n, name_hash);
        if (e == NULL) {
            failed = 1;
            break;
        }
        e->kind = flag == '0' ? MT_FILE : MT_DIR;
        if (flag == '0') {
            e->size = size;
            memcpy(e->u.sha, sha, 32);
        }
        pos += take;
    }
    PyBuffer_Release(&view);
    Py_XDECREF(st.target);
    Py_XDECREF(root_bytes);
    if (failed)
        return NULL;
    return Py_BuildValue("(nLn)", pos, written, st.count);
}

PyDoc_STRVAR(sha256_doc,
"sha256(data, engine=None) -> str\n\n"
"The hex SHA-256 of a bytes-like object as export and import take it: by suite/_c/sha256.h\n"
"(with the CPU's SHA instructions where it has them) and, without them, by hashlib from\n"
"2048 bytes. engine 'plain' or 'sha-ni' forces that C compress function for any length\n"
"(RuntimeError: 'sha-ni' where the CPU lacks it; ValueError: another name); accelerated()\n"
"says which one None uses. Reference: hashlib.sha256(data).hexdigest().");

static PyObject *
sha256(PyObject *Py_UNUSED(self), PyObject *args, PyObject *kwargs)
{
    static char *kwlist[] = {"data", "engine", NULL};
    PyObject *arg;
    const char *engine_name = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O|z:sha256", kwlist, &arg, &engine_name))
        return NULL;
    int engine = SUITE_SHA256_AUTO;
    if (engine_name != NULL) {
        if (strcmp(engine_name, "plain") == 0)
            engine = SUITE_SHA256_PLAIN;
        else if (strcmp(engine_name, "sha-ni") == 0)
            engine = SUITE_SHA256_SHANI;
        else {
            PyErr_Format(PyExc_ValueError, "sha256: unknown engine '%s' (plain or sha-ni)",
                         engine_name);
            return NULL;
        }
    }
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    PyObject *out;
    if (engine == SUITE_SHA256_AUTO)
        out = digest_of(view.buf, view.len);
    else {
        char hex[65];
        int rc;
        Py_BEGIN_ALLOW_THREADS
        rc = sha256_hex_using((const unsigned char *)view.buf, (size_t)view.len, hex, engine);
        Py_END_ALLOW_THREADS
        out = rc < 0 ? PyErr_Format(PyExc_RuntimeError,
                                    "sha256: this CPU has no SHA instructions")
                     : PyUnicode_FromStringAndSize(hex, 64);
    }
    PyBuffer_Release(&view);
    return out;
}

PyDoc_STRVAR(accelerated_doc,
"accelerated() -> bool\n\n"
"True if SHA-256 here uses the CPU's SHA instructions (SHA-NI).");

static PyObject *
accelerated(PyObject *Py_UNUSED(self), PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(sha256_accelerated());
}

/* ---- import: the manifest's files of a job against the members read ---- */

static PyObject *s_size, *s_sha256; /* "size", "sha256" */

PyDoc_STRVAR(match_files_doc,
"match_files(files, path, staged, file_kind) -> dict or None\n\n"
"One job's manifest files (name -> {'size', 'sha256'}) checked against the members read\n"
"(staged: member name -> (kind, size, sha256)): the member path/name must be of file_kind\n"
"with the manifest's size and hash. Returns {name: (size, sha256)} in the order of files, or\n"
"None at the first name that is missing, of another kind, size or hash, or of an odd type:\n"
"the reference (archive.importer._manifest_files) then says which or takes the name in\n"
"another spelling. Raises TypeError for arguments of other types, MemoryError.");

static PyObject *
match_files(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *files, *path, *staged, *kind;
    if (!PyArg_ParseTuple(args, "O!UO!O:match_files", &PyDict_Type, &files, &path, &PyDict_Type,
                          &staged, &kind))
        return NULL;
    PyObject *out = PyDict_New(), *prefix = PyUnicode_FromFormat("%U/", path);
    if (out == NULL || prefix == NULL)
        goto error;
    Py_ssize_t pos = 0;
    PyObject *rel, *info;
    while (PyDict_Next(files, &pos, &rel, &info)) {
        if (!PyUnicode_CheckExact(rel) || !PyDict_CheckExact(info))
            goto fallback;
        PyObject *key = PyUnicode_Concat(prefix, rel);
        if (key == NULL)
            goto error;
        PyObject *have = PyDict_GetItemWithError(staged, key); /* borrowed */
        Py_DECREF(key);
        if (have == NULL) {
            if (PyErr_Occurred())
                goto error;
            goto fallback;
        }
        if (!PyTuple_CheckExact(have) || PyTuple_GET_SIZE(have) != 3)
            goto fallback;
        PyObject *size = PyDict_GetItemWithError(info, s_size);
        PyObject *sha = size == NULL ? NULL : PyDict_GetItemWithError(info, s_sha256);
        if (sha == NULL) {
            if (PyErr_Occurred())
                goto error;
            goto fallback;
        }
        /* exact types: the comparisons run no code of the values' own */
        PyObject *have_kind = PyTuple_GET_ITEM(have, 0), *have_size = PyTuple_GET_ITEM(have, 1);
        PyObject *have_sha = PyTuple_GET_ITEM(have, 2);
        if (!PyUnicode_CheckExact(have_kind) || !PyUnicode_CheckExact(kind)
            || !PyLong_CheckExact(have_size) || !PyLong_CheckExact(size)
            || !PyUnicode_CheckExact(have_sha) || !PyUnicode_CheckExact(sha))
            goto fallback;
        int same = PyUnicode_Compare(have_kind, kind) == 0
            && PyObject_RichCompareBool(have_size, size, Py_EQ) == 1
            && PyUnicode_Compare(have_sha, sha) == 0;
        if (PyErr_Occurred())
            goto error;
        if (!same)
            goto fallback;
        PyObject *pair = PyTuple_Pack(2, have_size, have_sha);
        if (pair == NULL || PyDict_SetItem(out, rel, pair) < 0) {
            Py_XDECREF(pair);
            goto error;
        }
        Py_DECREF(pair);
    }
    Py_DECREF(prefix);
    return out;
fallback:
    Py_DECREF(prefix);
    Py_DECREF(out);
    Py_RETURN_NONE;
error:
    Py_XDECREF(prefix);
    Py_XDECREF(out);
    return NULL;
}

PyDoc_STRVAR(group_by_job_doc,
"group_by_job(staged, job_paths, dir_kind) -> (grouped, outside) or None\n\n"
"The members read (staged: name -> (kind, ...)) by job: grouped maps each of job_paths to\n"
"{name inside the job: staged value}, a member going to the job path that is its nearest\n"
"parent directory; outside is the sorted list of the other members not of dir_kind.\n"
"None for a member name that is not a str (the reference raises). Reference:\n"
"archive.importer._by_job. Raises TypeError for arguments of other types, what iterating\n"
"job_paths or comparing kinds raises, MemoryError.");

static PyObject *
group_by_job(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *staged, *paths, *dir_kind;
    if (!PyArg_ParseTuple(args, "O!OO:group_by_job", &PyDict_Type, &staged, &paths, &dir_kind))
        return NULL;
    PyObject *grouped = PyDict_New(), *outside = PyList_New(0), *it = NULL, *path;
    if (grouped == NULL || outside == NULL || (it = PyObject_GetIter(paths)) == NULL)
        goto error;
    while ((path = PyIter_Next(it)) != NULL) {
        PyObject *members = PyDict_New();
        int rc = members == NULL ? -1 : PyDict_SetItem(grouped, path, members);
        Py_DECREF(path);
        Py_XDECREF(members);
        if (rc < 0)
            goto error;
    }
    if (PyErr_Occurred())
        goto error;
    Py_ssize_t pos = 0;
    PyObject *name, *value;
    while (PyDict_Next(staged, &pos, &name, &value)) {
        if (!PyUnicode_Check(name)) { /* never from a scan: the reference says what */
            Py_DECREF(it);
            Py_DECREF(grouped);
            Py_DECREF(outside);
            Py_RETURN_NONE;
        }
        Py_ssize_t n = PyUnicode_GET_LENGTH(name);
        /* from the member's own directory up: most members lie directly in their job */
        Py_ssize_t i = n ? PyUnicode_FindChar(name, '/', 0, n, -1) : -1;
        int placed = 0;
        while (i > 0) {
            PyObject *parent = PyUnicode_Substring(name, 0, i);
            if (parent == NULL)
                goto error;
            PyObject *members = PyDict_GetItemWithError(grouped, parent); /* borrowed */
            Py_DECREF(parent);
            if (members != NULL) {
                PyObject *rel = PyUnicode_Substring(name, i + 1, n);
                int rc = rel == NULL ? -1 : PyDict_SetItem(members, rel, value);
                Py_XDECREF(rel);
                if (rc < 0)
                    goto error;
                placed = 1;
                break;
            }
            if (PyErr_Occurred())
                goto error;
            i = PyUnicode_FindChar(name, '/', 0, i, -1);
        }
        if (i == -2)
            goto error;
        if (!placed) {
            PyObject *kind = PySequence_GetItem(value, 0);
            int other = kind == NULL ? -1 : PyObject_RichCompareBool(kind, dir_kind, Py_NE);
            Py_XDECREF(kind);
            if (other < 0 || (other && PyList_Append(outside, name) < 0))
                goto error;
        }
    }
    Py_DECREF(it);
    if (PyList_Sort(outside) < 0) {
        Py_DECREF(grouped);
        Py_DECREF(outside);
        return NULL;
    }
    return Py_BuildValue("(NN)", grouped, outside);
error:
    Py_XDECREF(it);
    Py_XDECREF(grouped);
    Py_XDECREF(outside);
    return NULL;
}

static PyMethodDef methods[] = {
    {"header", (PyCFunction)(void (*)(void))header, METH_VARARGS | METH_KEYWORDS, header_doc},
    {"pack_tree", pack_tree, METH_VARARGS, pack_tree_doc},
    {"pack_trees", pack_trees, METH_VARARGS, pack_trees_doc},
    {"_defer_hashes", set_defer_hashes, METH_O, defer_hashes_doc},
    {"scan_members", scan_members, METH_VARARGS, scan_members_doc},
    {"sha256", (PyCFunction)(void (*)(void))sha256, METH_VARARGS | METH_KEYWORDS, sha256_doc},
    {"accelerated", accelerated, METH_NOARGS, accelerated_doc},
    {"match_files", match_files, METH_VARARGS, match_files_doc},
    {"group_by_job", group_by_job, METH_VARARGS, group_by_job_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "archive._tarpack",
    "The per-file loop of tar export in C (optional; see suite/native.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__tarpack(void)
{
    if (hashlib_sha256 == NULL) {
        PyObject *hashlib = PyImport_ImportModule("hashlib");
        if (hashlib == NULL)
            return NULL;
        hashlib_sha256 = PyObject_GetAttrString(hashlib, "sha256");
        Py_DECREF(hashlib);
        if (hashlib_sha256 == NULL)
            return NULL;
    }
    if (s_size == NULL && ((s_size = PyUnicode_InternFromString("size")) == NULL
                           || (s_sha256 = PyUnicode_InternFromString("sha256")) == NULL))
        return NULL;
    if (PyType_Ready(&packer_type) < 0 || PyType_Ready(&member_table_type) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m != NULL && PyModule_AddObjectRef(m, "MemberTable", (PyObject *)&member_table_type) < 0)
        Py_CLEAR(m);
    return m;
}
