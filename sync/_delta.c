/* sync._delta: the per-block loops of the delta transfer (sync/delta.py) in C.
 *
 * Optional: sync/blocks.py loads it through suite/native.py, and each function here has a
 * pure-Python (numpy) reference named in its docstring that the tests compare it with. The
 * delta row hashes every block of 100 MiB on both sides; per block in Python that is a call,
 * a slice and a hash object (~1.5 us), here a few nanoseconds plus the hashing itself.
 *
 * The block hash is XXH64 (seed 0), written from its public specification
 * (github.com/Cyan4973/xxHash, doc/xxhash_spec.md): a fast non-cryptographic 64-bit hash, as
 * rsync uses for its block checksums. Bytes are read little-endian whatever the machine.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

static const uint64_t P1 = 0x9E3779B185EBCA87ULL;
static const uint64_t P2 = 0xC2B2AE3D27D4EB4FULL;
static const uint64_t P3 = 0x165667B19E3779F9ULL;
static const uint64_t P4 = 0x85EBCA77C2B2AE63ULL;
static const uint64_t P5 = 0x27D4EB2F165667C5ULL;

static inline uint64_t
rotl64(uint64_t x, int r)
{
    return (x << r) | (x >> (64 - r));
}

static inline uint64_t
read64(const unsigned char *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static inline uint32_t
read32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t
xxh_round(uint64_t acc, uint64_t input)
{
    acc += input * P2;
    acc = rotl64(acc, 31);
    return acc * P1;
}

static inline uint64_t
xxh_merge(uint64_t h, uint64_t v)
{
    h ^= xxh_round(0, v);
    return h * P1 + P4;
}

static uint64_t
xxh64(const unsigned char *p, size_t len)
{
    const unsigned char *end = p + len;
    uint64_t h;
    if (len >= 32) {
        uint64_t v1 = P1 + P2, v2 = P2, v3 = 0, v4 = (uint64_t)0 - P1;
        const unsigned char *limit = end - 32;
        do {
            v1 = xxh_round(v1, read64(p));
            v2 = xxh_round(v2, read64(p + 8));
            v3 = xxh_round(v3, read64(p + 16));
            v4 = xxh_round(v4, read64(p + 24));
            p += 32;
        } while (p <= limit);
        h = rotl64(v1, 1) + rotl64(v2, 7) + rotl64(v3, 12) + rotl64(v4, 18);
        h = xxh_merge(h, v1);
        h = xxh_merge(h, v2);
        h = xxh_merge(h, v3);
        h = xxh_merge(h, v4);
    } else {
        h = P5;
    }
    h += (uint64_t)len;
    while (end - p >= 8) {
        h ^= xxh_round(0, read64(p));
        h = rotl64(h, 27) * P1 + P4;
        p += 8;
    }
    if (end - p >= 4) {
        h ^= (uint64_t)read32(p) * P1;
        h = rotl64(h, 23) * P2 + P3;
        p += 4;
    }
    while (p < end) {
        h ^= (uint64_t)(*p) * P5;
        h = rotl64(h, 11) * P1;
        p++;
    }
    h ^= h >> 33;
    h *= P2;
    h ^= h >> 29;
    h *= P3;
    h ^= h >> 32;
    return h;
}

/* One block's digest of n bytes at x, written little-endian to dst. */
typedef void (*block_fn)(const unsigned char *x, Py_ssize_t n, unsigned char *dst);

/* XXH64 (seed 0), 8 bytes */
static void
xxh_block(const unsigned char *x, Py_ssize_t n, unsigned char *dst)
{
    uint64_t h = xxh64(x, (size_t)n);
    for (int k = 0; k < 8; k++)
        dst[k] = (unsigned char)(h >> (8 * k));
}

/* rsync's weak sum, 4 bytes */
static void
weak_block(const unsigned char *x, Py_ssize_t n, unsigned char *dst)
{
    /* b = sum((n - j) * x[j]) is the sum of the running sums of a; eight bytes a step
     * (b gains 8 * a before them plus their own weighted sum) keep the chain short */
    uint32_t a = 0, b = 0;
    Py_ssize_t j = 0;
    for (; j + 8 <= n; j += 8) {
        uint32_t s = (uint32_t)x[j] + x[j + 1] + x[j + 2] + x[j + 3] + x[j + 4]
            + x[j + 5] + x[j + 6] + x[j + 7];
        uint32_t w = 8u * x[j] + 7u * x[j + 1] + 6u * x[j + 2] + 5u * x[j + 3]
            + 4u * x[j + 4] + 3u * x[j + 5] + 2u * x[j + 6] + x[j + 7];
        b += 8u * a + w;
        a += s;
    }
    for (; j < n; j++) {
        a += x[j];
        b += a;
    }
    uint32_t weak = (a & 0xFFFF) | (b & 0xFFFF) << 16;
    for (int k = 0; k < 4; k++)
        dst[k] = (unsigned char)(weak >> (8 * k));
}

/* The module functions' shared body: parses (buffer, size) by fmt (ValueError for
 * size < 1), then digest(block) of each consecutive piece of size bytes (the last may be
 * shorter), width bytes each, without the GIL, as one bytes object. Inlined so that each
 * caller's digest is a direct call. */
static inline PyObject *
per_block(PyObject *args, const char *fmt, int width, block_fn digest)
{
    Py_buffer view;
    Py_ssize_t size;
    if (!PyArg_ParseTuple(args, fmt, &view, &size))
        return NULL;
    if (size < 1) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "block size must be at least 1");
        return NULL;
    }
    Py_ssize_t count = view.len / size + (view.len % size != 0);
    PyObject *out = PyBytes_FromStringAndSize(NULL, count * width);
    if (out == NULL) {
        PyBuffer_Release(&view);
        return NULL;
    }
    unsigned char *dst = (unsigned char *)PyBytes_AS_STRING(out);
    const unsigned char *src = view.buf;
    Py_ssize_t len = view.len;
    Py_BEGIN_ALLOW_THREADS
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_ssize_t start = i * size;
        digest(src + start, len - start < size ? len - start : size, dst + i * width);
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    return out;
}

PyDoc_STRVAR(block_hashes_doc,
"block_hashes(data, size) -> bytes\n\n"
"XXH64 (seed 0) of each consecutive piece of size bytes of data (the last piece may be\n"
"shorter), 8 little-endian bytes each. Reference: sync.blocks.block_hashes_python.\n"
"Raises ValueError for size < 1, TypeError for data without the buffer protocol.");

static PyObject *
block_hashes(PyObject *self, PyObject *args)
{
    (void)self;
    return per_block(args, "y*n:block_hashes", 8, xxh_block);
}

PyDoc_STRVAR(block_weak_sums_doc,
"block_weak_sums(data, size) -> bytes\n\n"
"rsync's weak sum of each consecutive piece of size bytes of data (the last piece may be\n"
"shorter and is summed over its own length), a | b << 16 with a = sum(x[i]) and\n"
"b = sum((L - i) * x[i]) modulo 2**16, 4 little-endian bytes each. Reference:\n"
"sync.blocks.block_weak_sums_python. Raises ValueError for size < 1, TypeError for data\n"
"without the buffer protocol.");

static PyObject *
block_weak_sums(PyObject *self, PyObject *args)
{
    (void)self;
    return per_block(args, "y*n:block_weak_sums", 4, weak_block);
}

static PyMethodDef methods[] = {
    {"block_hashes", block_hashes, METH_VARARGS, block_hashes_doc},
    {"block_weak_sums", block_weak_sums, METH_VARARGS, block_weak_sums_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "sync._delta",
    "Per-block loops of the delta transfer in C (optional; see suite/native.py).", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__delta(void)
{
    return PyModule_Create(&module);
}
