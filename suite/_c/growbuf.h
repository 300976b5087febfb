/* A growing byte buffer (doubling), for the tar members, file lists and path blocks the C
 * modules build before handing them to Python as one object; and the growth of an array of
 * directory entries (array_room).
 *
 * Shared by the C modules that build such objects (grep for its name). Memory comes
 * from PyMem_RawRealloc, so the buffer may grow with or without the GIL; only the MemoryError
 * of a failed growth needs the GIL. Include after <Python.h>. */
#ifndef SUITE_C_GROWBUF_H
#define SUITE_C_GROWBUF_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    char *data;
    size_t len, cap;
} growbuf;  /* {NULL, 0, 0} is an empty buffer */

#define GROWBUF_FIRST 4096  /* bytes allocated at the first growth */

/* Room for more bytes after len: 0, or -1 out of memory (the buffer is unchanged), without
 * setting an exception: for code that runs without the GIL. */
static inline int
growbuf_room(growbuf *b, size_t more)
{
    if (more <= b->cap - b->len)
        return 0;
    if (more > PY_SSIZE_T_MAX - b->len)
        return -1;
    size_t need = b->len + more, cap = b->cap ? b->cap : GROWBUF_FIRST;
    while (cap < need)
        cap *= 2;
    char *data = PyMem_RawRealloc(b->data, cap);
    if (data == NULL)
        return -1;
    b->data = data;
    b->cap = cap;
    return 0;
}

/* Room for more bytes after len: 0, or -1 with MemoryError set (the buffer is unchanged). */
static inline int
growbuf_reserve(growbuf *b, size_t more)
{
    if (growbuf_room(b, more) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

/* data[:n] added at the end: 0, or -1 out of memory (the buffer is unchanged), without
 * setting an exception: for code that runs without the GIL. */
static inline int
growbuf_put(growbuf *b, const void *data, size_t n)
{
    if (growbuf_room(b, n) < 0)
        return -1;
    if (n)
        memcpy(b->data + b->len, data, n);
    b->len += n;
    return 0;
}

/* data[:n] added at the end: 0, or -1 with MemoryError set. */
static inline int
growbuf_append(growbuf *b, const void *data, size_t n)
{
    if (growbuf_put(b, data, n) < 0) {
        PyErr_NoMemory();
        return -1;
    }
    return 0;
}

static inline void
growbuf_free(growbuf *b)
{
    PyMem_RawFree(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

/* items (an array of *cap elements of size bytes, count of them used) with room for one more:
 * items itself or a bigger copy (*cap updated), or NULL when out of memory (items unchanged,
 * still the caller's). malloc'ed (free() it); no Python API: usable without the GIL. */
static inline void *
array_room(void *items, size_t count, size_t *cap, size_t size)
{
    if (count < *cap)
        return items;
    size_t more = *cap ? *cap * 2 : 16;
    if (more > SIZE_MAX / size)
        return NULL;
    void *grown = realloc(items, more * size);
    if (grown != NULL)
        *cap = more;
    return grown;
}

#endif
