/* suite._spcanon: a state point's canonical JSON text and its job id (the MD5 of that text)
 * in one call, for the 10,000 state points an import of 10,000 jobs checks.
 *
 * Optional: suite/statepoint.py loads it through suite/native.py; its pure-Python reference
 * is suite.statepoint.canonical_python, and tests/suite/test_spcanon.py compares the two on
 * generated values (hypothesis). canonical(sp) gives:
 *
 *   None             when sp is not plain as suite.statepoint._fast takes it (exact dict,
 *                    list, str, int, finite float, bool, None; string keys without '.' and
 *                    not starting with '$'; at most MAX_DEPTH levels): the Python path then
 *                    decides, and raises its precise error;
 *   (text, job id)   otherwise: text = json.dumps(sp, sort_keys=True).encode() (default
 *                    separators, ensure_ascii), job id = md5(text).hexdigest();
 *   an exception     where json.dumps raises one for a plain value (an int of more digits
 *                    than sys.get_int_max_str_digits(): ValueError), or MemoryError.
 *
 * The text is written as json's C encoder writes it: keys sorted by code point, floats by
 * float.__repr__, ints by int.__repr__, strings escaped as encode_basestring_ascii escapes
 * them. MD5 after RFC 1321.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>

#include "growbuf.h"
#include "jsonesc.h"

#define MAX_DEPTH 100 /* suite.statepoint.MAX_DEPTH */

#include "md5.h"

/* ---- the check: is value plain as suite.statepoint._fast takes it? ---- */

/* 1 plain, 0 not. room: levels of dicts and lists still allowed (as _fast's). */
static int
plain(PyObject *value, int room)
{
    if (PyUnicode_CheckExact(value) || PyLong_CheckExact(value) || PyBool_Check(value) ||
        value == Py_None)
        return 1;
    if (PyFloat_CheckExact(value))
        return isfinite(PyFloat_AS_DOUBLE(value)) ? 1 : 0;
    if (PyDict_CheckExact(value)) {
        if (room <= 0)
            return 0;
        Py_ssize_t pos = 0;
        PyObject *key, *item;
        while (PyDict_Next(value, &pos, &key, &item)) {
            if (!PyUnicode_CheckExact(key) || PyUnicode_READY(key) < 0)
                return 0;
            Py_ssize_t n = PyUnicode_GET_LENGTH(key);
            if (n > 0 && PyUnicode_READ_CHAR(key, 0) == '$')
                return 0;
            if (PyUnicode_FindChar(key, '.', 0, n, 1) != -1) /* -2 (error) cannot happen */
                return 0;
            if (!plain(item, room - 1))
                return 0;
        }
        return 1;
    }
    if (PyList_CheckExact(value)) {
        if (room <= 0)
            return 0;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(value); i++)
            if (!plain(PyList_GET_ITEM(value, i), room - 1))
                return 0;
        return 1;
    }
    return 0;
}

/* ---- the text: as json.dumps(value, sort_keys=True) writes it ---- */

static int
put(growbuf *b, const char *s, size_t n)
{
    return growbuf_append(b, s, n);
}

#define STRING_PIECE 4096 /* code points escaped per reservation of room */

/* A str as encode_basestring_ascii writes it. */
static int
put_string(growbuf *b, PyObject *s)
{
    Py_ssize_t n = PyUnicode_GET_LENGTH(s);
    int kind = PyUnicode_KIND(s);
    const void *data = PyUnicode_DATA(s);
    if (growbuf_append(b, "\"", 1) < 0)
        return -1;
    for (Py_ssize_t from = 0; from < n; from += STRING_PIECE) {
        Py_ssize_t to = n - from > STRING_PIECE ? from + STRING_PIECE : n;
        /* at most 12 bytes a code point (a surrogate pair's two escapes) */
        if (growbuf_reserve(b, (size_t)(to - from) * 12) < 0)
            return -1;
        char *out = b->data + b->len;
        for (Py_ssize_t i = from; i < to; i++) {
            Py_UCS4 c = PyUnicode_READ(kind, data, i);
            if (c >= ' ' && c <= '~' && c != '\\' && c != '"') {
                *out++ = (char)c;
                continue;
            }
            out = json_escape(out, c);
        }
        b->len = (size_t)(out - b->data);
    }
    return growbuf_append(b, "\"", 1);
}

/* The text of a str object made by a repr (ASCII) appended; the object released. */
static int
put_text(growbuf *b, PyObject *text)
{
    if (text == NULL)
        return -1;
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(text, &n);
    int r = s == NULL ? -1 : put(b, s, (size_t)n);
    Py_DECREF(text);
    return r;
}

typedef struct {
    PyObject *key, *value; /* borrowed from the dict */
} pair;

static int
key_order(const void *x, const void *y)
{
    /* exact str keys (checked): PyUnicode_Compare cannot fail; code point order, as sorted() */
    return PyUnicode_Compare(((const pair *)x)->key, ((const pair *)y)->key);
}

static int put_value(growbuf *b, PyObject *value, int sort);

static int
put_dict(growbuf *b, PyObject *dict, int sort)
{
    Py_ssize_t n = PyDict_GET_SIZE(dict);
    if (n == 0)
        return put(b, "{}", 2);
    pair small[16], *items = small;
    if (n > 16) {
        items = PyMem_Malloc((size_t)n * sizeof(pair));
        if (items == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    Py_ssize_t pos = 0, i = 0;
    PyObject *key, *value;
    /* borrowed: nothing below runs Python code that could change the dict */
    while (i < n && PyDict_Next(dict, &pos, &key, &value)) {
        items[i].key = key;
        items[i++].value = value;
    }
    if (sort)
        qsort(items, (size_t)n, sizeof(pair), key_order);
    int r = put(b, "{", 1);
    for (i = 0; i < n && r == 0; i++) {
        if (i)
            r = put(b, ", ", 2);
        if (r == 0)
            r = put_string(b, items[i].key);
        if (r == 0)
            r = put(b, ": ", 2);
        if (r == 0)
            r = put_value(b, items[i].value, sort);
    }
    if (r == 0)
        r = put(b, "}", 1);
    if (items != small)
        PyMem_Free(items);
    return r;
}

/* value as json.dumps(value, sort_keys=sort) writes it (value plain, checked before) */
static int
put_value(growbuf *b, PyObject *value, int sort)
{
    if (PyUnicode_CheckExact(value))
        return put_string(b, value);
    if (value == Py_None)
        return put(b, "null", 4);
    if (value == Py_True)
        return put(b, "true", 4);
    if (value == Py_False)
        return put(b, "false", 5);
    if (PyLong_CheckExact(value)) {
        int overflow;
        long long v = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (!overflow) { /* as "%lld" writes it; snprintf cost 9 in 10 of a small state point */
            char digits[24], *end = digits + sizeof digits, *at = end;
            unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
            do {
                *--at = (char)('0' + u % 10);
                u /= 10;
            } while (u);
            if (v < 0)
                *--at = '-';
            return put(b, at, (size_t)(end - at));
        }
        /* int.__repr__, as json's encoder calls it (ValueError past the digit limit) */
        return put_text(b, PyLong_Type.tp_repr(value));
    }
    if (PyFloat_CheckExact(value)) {
        char *s = PyOS_double_to_string(PyFloat_AS_DOUBLE(value), 'r', 0, Py_DTSF_ADD_DOT_0,
                                        NULL); /* float.__repr__ */
        if (s == NULL)
            return -1;
        int r = put(b, s, strlen(s));
        PyMem_Free(s);
        return r;
    }
    if (PyDict_CheckExact(value))
        return put_dict(b, value, sort);
    /* a list (checked plain before) */
    Py_ssize_t n = PyList_GET_SIZE(value);
    if (n == 0)
        return put(b, "[]", 2);
    int r = put(b, "[", 1);
    for (Py_ssize_t i = 0; i < n && r == 0; i++) {
        if (i)
            r = put(b, ", ", 2);
        if (r == 0)
            r = put_value(b, PyList_GET_ITEM(value, i), sort);
    }
    return r == 0 ? put(b, "]", 1) : r;
}

static PyObject *
canonical(PyObject *module, PyObject *sp)
{
    (void)module;
    if (!PyDict_CheckExact(sp) || !plain(sp, MAX_DEPTH))
        Py_RETURN_NONE;
    growbuf b = {NULL, 0, 0};
    if (put_value(&b, sp, 1) < 0) {
        growbuf_free(&b);
        return NULL;
    }
    char hex[32];
    md5_hex((const unsigned char *)b.data, b.len, hex);
    PyObject *text = PyBytes_FromStringAndSize(b.data, (Py_ssize_t)b.len);
    growbuf_free(&b);
    if (text == NULL)
        return NULL;
    PyObject *id = PyUnicode_FromStringAndSize(hex, 32);
    if (id == NULL) {
        Py_DECREF(text);
        return NULL;
    }
    PyObject *out = PyTuple_Pack(2, text, id);
    Py_DECREF(text);
    Py_DECREF(id);
    return out;
}

/* texts(sps): for each item of the list sps, json.dumps(sp) (its keys in their order, default
 * separators, ensure_ascii) as str where sp is plain as canonical takes it, else None. One
 * call for an export's state points: json's encoder costs a call and its own machinery a
 * state point. Raises what json.dumps raises for a plain value (ValueError: an int of too
 * many digits), TypeError when sps is not a list. */
static PyObject *
texts(PyObject *module, PyObject *sps)
{
    (void)module;
    if (!PyList_CheckExact(sps)) {
        PyErr_SetString(PyExc_TypeError, "texts() takes a list of state points");
        return NULL;
    }
    Py_ssize_t n = PyList_GET_SIZE(sps);
    PyObject *out = PyList_New(n);
    if (out == NULL)
        return NULL;
    growbuf b = {NULL, 0, 0};
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *sp = PyList_GET_ITEM(sps, i), *text;
        if (!PyDict_CheckExact(sp) || !plain(sp, MAX_DEPTH)) {
            text = Py_NewRef(Py_None);
        } else {
            b.len = 0;
            if (put_value(&b, sp, 0) < 0)
                goto fail;
            /* the text is ASCII (every other code point escaped) */
            text = PyUnicode_New((Py_ssize_t)b.len, 127);
            if (text == NULL)
                goto fail;
            memcpy(PyUnicode_1BYTE_DATA(text), b.data, b.len);
        }
        PyList_SET_ITEM(out, i, text);
    }
    growbuf_free(&b);
    return out;
fail:
    growbuf_free(&b);
    Py_DECREF(out);
    return NULL;
}

static PyObject *
md5_hexdigest(PyObject *module, PyObject *arg)
{
    (void)module;
    Py_buffer view;
    if (PyObject_GetBuffer(arg, &view, PyBUF_SIMPLE) < 0)
        return NULL;
    char hex[32];
    md5_hex(view.buf, (size_t)view.len, hex);
    PyBuffer_Release(&view);
    return PyUnicode_FromStringAndSize(hex, 32);
}

static PyMethodDef methods[] = {
    {"canonical", canonical, METH_O,
     "canonical(sp) -> (text, job id) or None; reference: "
     "suite.statepoint.canonical_python."},
    {"texts", texts, METH_O,
     "texts(sps) -> [json.dumps(sp) or None, ...] (None: not plain); reference: "
     "suite.statepoint.texts_python."},
    {"md5_hexdigest", md5_hexdigest, METH_O,
     "md5_hexdigest(data) -> str: hashlib.md5(data).hexdigest() (the reference), for "
     "the tests of the MD5 canonical uses."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "suite._spcanon",
    .m_doc = "A state point's canonical JSON text and job id in one call (optional; see "
             "suite/native.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__spcanon(void)
{
    return PyModule_Create(&module_def);
}
