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
    /* FNV-1a over 8-byte words (the last one's missing bytes as zeros, the length mixed in),
     * then MurmurHash3's finalizer: a product's low bits depend on its factors' low bits
     * only, so without it the table's slots (the low bits) saw a few bytes of each name */
    uint64_t h = 1469598103934665603ULL ^ n;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, s + i, 8);
        h = (h ^ w) * 1099511628211ULL;
    }
    if (i < n) {
        uint64_t w = 0;
        for (size_t j = 0; i + j < n; j++)
            w |= (uint64_t)(unsigned char)s[i + j] << (8 * j);
        h = (h ^ w) * 1099511628211ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return (size_t)h;
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
