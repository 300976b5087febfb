/* The members an import has read, by name (archive._tarpack.MemberTable): what
 * archive.importer.scan's ``staged`` dict holds, kept as C data for the members the native
 * scan takes (name bytes, kind, size, SHA-256 as 32 raw bytes) and as Python objects for
 * those the Python reader takes. The dict is made only where the general path asks for it;
 * the common job's checks (archive._importjobs.check_manifest_text) look names up here by
 * their bytes, without a str per member.
 *
 * Names are kept as UTF-8, with surrogates as "surrogatepass" writes them (so two str never
 * share bytes, and a name the native scan decoded strictly has the bytes it had).
 * Shared by archive/_tarpack.c (the type) and archive/_importjobs.c (lookups). Include after
 * <Python.h> and growbuf.h. */
#ifndef SUITE_C_MEMBERTABLE_H
#define SUITE_C_MEMBERTABLE_H

#include <stdint.h>
#include <string.h>

enum { MT_FILE = 1, MT_DIR = 2, MT_OBJECT = 3 };

typedef struct {
    size_t name_at, name_len; /* in the table's names */
    size_t hash;
    long long size;           /* MT_FILE */
    int kind;
    union {
        unsigned char sha[32];           /* MT_FILE */
        struct { PyObject *key, *value; } obj; /* MT_OBJECT (owned) */
    } u;
} mt_entry;

typedef struct {
    PyObject_HEAD
    mt_entry *entries;
    size_t count, room;
    uint32_t *slots;          /* entry index + 1, 0 empty (open addressing) */
    size_t cap;
    growbuf names;
    PyObject *file_kind, *dir_kind, *dir_value; /* for the dict: (dir_kind, 0, None) */
} member_table;

static inline size_t
mt_hash(const char *s, size_t n)
{
    /* Python's own keyed hash of bytes (SipHash, its secret random per process unless
     * PYTHONHASHSEED says otherwise): names come from archives that may be made to collide
     * under a fixed hash, which would make each lookup walk the whole table; the two modules
     * that share a table run in one process and so agree */
    return (size_t)_Py_HashBytes(s, (Py_ssize_t)n);
}

/* the entry named s[:n] (hash h), or NULL */
static inline mt_entry *
mt_find(const member_table *t, const char *s, size_t n, size_t h)
{
    if (t->cap == 0)
        return NULL;
    for (size_t k = h & (t->cap - 1);; k = (k + 1) & (t->cap - 1)) {
        uint32_t at = t->slots[k];
        if (at == 0)
            return NULL;
        mt_entry *e = &t->entries[at - 1];
        if (e->hash == h && e->name_len == n && memcmp(t->names.data + e->name_at, s, n) == 0)
            return e;
    }
}

#endif
