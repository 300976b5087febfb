/* suite.index._keyrows: the key rows of a few keys, made from many stored JSON texts in C.
 *
 * Optional: suite/native.py loads it when it was built; the pure-Python reference is
 * suite.index.keyrows._rows_of_keys_python (json.loads of each text, then keyrows.flatten,
 * the rows of the keys asked kept), and the tests compare the two. An index (version 9) makes
 * a key's rows on its first query from every job's text: a million texts parsed whole and
 * flattened in Python took ~16 s; here one pass over each text's bytes checks the JSON
 * grammar as Python's reader does and builds only the asked rows.
 *
 * What this code does not decide itself it hands to Python, so the rows stay the reference's:
 * a value that is a list, a dict, a string with escapes or an integer of more than 15 digits
 * becomes its row through ``row_of_value(id, src, key, value_text)``; a whole text this scanner
 * does not accept (bad JSON, a key with an escape where keys are compared, a compared key
 * written twice in one object, nesting past MAX_DEPTH, text that is not UTF-8) goes to
 * ``rows_of_text(id, src, text, keys)``, the reference itself, which gives its rows or raises
 * what the reference raises.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <string.h>

/* type codes of suite.index.keyrows */
enum { T_NULL = 0, T_BOOL, T_INT, T_FLOAT, T_STR };
#define MAX_DEPTH 400
/* an integer of more digits is left to the reference: Python's reader refuses more than
 * sys.get_int_max_str_digits() (4300 by default, never below 640) */
#define INT_DIGITS_MAX 640

typedef struct {
    PyObject *obj; /* the key (str) */
    const char *utf8;
    Py_ssize_t len;
} wanted;

typedef struct {
    const char *p, *end;
    wanted *keys;
    Py_ssize_t nkeys;
    char *name; /* the dotted key being read */
    Py_ssize_t name_len, name_cap;
    PyObject *job_id, *src, *out, *row_of_value;
    int max_depth; /* deeper nesting is left to the reference */
    int fail;  /* the text is not for this scanner: the reference decides */
    int error; /* a Python exception is set */
} scan;

static void
skip_ws(scan *s)
{
    while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
        s->p++;
}

static int
is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* at '"': the string's content [*start, *start + *len), escapes checked as Python's strict
 * reader does (no control character inside); 0, or -1 with s->fail */
static int
scan_string(scan *s, const char **start, Py_ssize_t *len, int *escaped)
{
    const char *p = s->p + 1;
    *escaped = 0;
    *start = p;
    while (p < s->end) {
        unsigned char c = (unsigned char)*p;
        if (c == '"') {
            *len = p - *start;
            s->p = p + 1;
            return 0;
        }
        if (c < 0x20)
            break;
        if (c == '\\') {
            *escaped = 1;
            if (p + 1 >= s->end)
                break;
            c = (unsigned char)p[1];
            if (c == 'u') {
                if (p + 5 >= s->end || !is_hex(p[2]) || !is_hex(p[3]) || !is_hex(p[4]) ||
                    !is_hex(p[5]))
                    break;
                p += 6;
                continue;
            }
            if (!strchr("\"\\/bfnrt", c) || c == 0)
                break;
            p += 2;
            continue;
        }
        p++;
    }
    s->fail = 1;
    return -1;
}

/* a number as Python's reader matches it: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)? */
static int
scan_number(scan *s, int *is_int)
{
    const char *p = s->p;
    if (p < s->end && *p == '-')
        p++;
    if (p < s->end && *p == '0')
        p++;
    else if (p < s->end && *p >= '1' && *p <= '9')
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    else {
        s->fail = 1;
        return -1;
    }
    *is_int = 1;
    Py_ssize_t digits = p - s->p;
    if (p + 1 < s->end && *p == '.' && p[1] >= '0' && p[1] <= '9') {
        *is_int = 0;
        p += 2;
        while (p < s->end && *p >= '0' && *p <= '9')
            p++;
    }
    if (p < s->end && (*p == 'e' || *p == 'E')) {
        const char *q = p + 1;
        if (q < s->end && (*q == '-' || *q == '+'))
            q++;
        if (q < s->end && *q >= '0' && *q <= '9') {
            while (q < s->end && *q >= '0' && *q <= '9')
                q++;
            *is_int = 0;
            p = q;
        }
    }
    if (*is_int && digits > INT_DIGITS_MAX) {
        s->fail = 1;
        return -1;
    }
    s->p = p;
    return 0;
}

static int
literal(scan *s, const char *word)
{
    size_t n = strlen(word);
    if ((size_t)(s->end - s->p) >= n && memcmp(s->p, word, n) == 0) {
        s->p += n;
        return 0;
    }
    s->fail = 1;
    return -1;
}

/* append the row (id, src, key, t, num, txt); steals num and txt (NULL: None) */
static int
append_row(scan *s, PyObject *key, int t, PyObject *num, PyObject *txt)
{
    PyObject *code = PyLong_FromLong(t);
    if (code == NULL) {
        Py_XDECREF(num);
        Py_XDECREF(txt);
        s->error = 1;
        return -1;
    }
    if (num == NULL)
        num = Py_NewRef(Py_None);
    if (txt == NULL)
        txt = Py_NewRef(Py_None);
    PyObject *row = PyTuple_Pack(6, s->job_id, s->src, key, code, num, txt);
    Py_DECREF(code);
    Py_DECREF(num);
    Py_DECREF(txt);
    if (row == NULL || PyList_Append(s->out, row) < 0) {
        Py_XDECREF(row);
        s->error = 1;
        return -1;
    }
    Py_DECREF(row);
    return 0;
}

/* the row of a value Python makes (lists, dicts, escaped strings, long integers) */
static PyObject *
python_row(scan *s, PyObject *key, const char *start)
{
    PyObject *text = PyUnicode_DecodeUTF8(start, s->p - start, "strict");
    if (text == NULL) {
        s->error = 1;
        return NULL;
    }
    PyObject *row = PyObject_CallFunctionObjArgs(s->row_of_value, s->job_id, s->src, key, text,
                                                 NULL);
    Py_DECREF(text);
    if (row == NULL)
        s->error = 1;
    return row;
}

static int
append_python_row(scan *s, PyObject *key, const char *start)
{
    PyObject *row = python_row(s, key, start);
    if (row == NULL)
        return -1;
    int r = PyList_Append(s->out, row);
    Py_DECREF(row);
    if (r < 0)
        s->error = 1;
    return r;
}

static int skip_value(scan *s, int depth);
static int walk_object_for_rows(scan *s, int depth);

/* the index of the wanted key equal to the name being read, or -1 */
static Py_ssize_t
wanted_index(scan *s)
{
    for (Py_ssize_t i = 0; i < s->nkeys; i++)
        if (s->keys[i].len == s->name_len && memcmp(s->keys[i].utf8, s->name, s->name_len) == 0)
            return i;
    return -1;
}

/* whether a wanted key starts with the name being read (which ends in '.' or is empty) */
static int
live(scan *s)
{
    for (Py_ssize_t i = 0; i < s->nkeys; i++)
        if (s->keys[i].len > s->name_len && memcmp(s->keys[i].utf8, s->name, s->name_len) == 0)
            return 1;
    return 0;
}

static int
set_name(scan *s, Py_ssize_t base, const char *part, Py_ssize_t len)
{
    if (base + len + 1 > s->name_cap) {
        Py_ssize_t cap = (base + len + 1) * 2;
        char *name = PyMem_Realloc(s->name, cap);
        if (name == NULL) {
            PyErr_NoMemory();
            s->error = 1;
            return -1;
        }
        s->name = name;
        s->name_cap = cap;
    }
    memcpy(s->name + base, part, len);
    s->name_len = base + len;
    return 0;
}

/* a value whose key is wanted (key: its index) or not (-1); the name being read is its key */
static int
read_member_value(scan *s, Py_ssize_t k, int depth)
{
    PyObject *key = k >= 0 ? s->keys[k].obj : NULL;
    const char *start = s->p;
    if (s->p >= s->end) {
        s->fail = 1;
        return -1;
    }
    char c = *s->p;
    if (c == '{') {
        Py_ssize_t slot = PyList_GET_SIZE(s->out);
        if (key != NULL && PyList_Append(s->out, Py_None) < 0) { /* its row comes first */
            s->error = 1;
            return -1;
        }
        Py_ssize_t base = s->name_len;
        if (set_name(s, base, ".", 1) < 0)
            return -1;
        int r = live(s) ? walk_object_for_rows(s, depth + 1) : skip_value(s, depth + 1);
        s->name_len = base;
        if (r < 0)
            return -1;
        if (key != NULL) {
            PyObject *row = python_row(s, key, start);
            if (row == NULL)
                return -1;
            PyList_SET_ITEM(s->out, slot, row);
            Py_DECREF(Py_None); /* the placeholder's reference */
        }
        return 0;
    }
    if (c == '"') {
        const char *str;
        Py_ssize_t len;
        int escaped;
        if (scan_string(s, &str, &len, &escaped) < 0)
            return -1;
        if (key == NULL)
            return 0;
        if (escaped)
            return append_python_row(s, key, start);
        PyObject *txt = PyUnicode_DecodeUTF8(str, len, "strict");
        if (txt == NULL) {
            s->error = 1;
            return -1;
        }
        return append_row(s, key, T_STR, NULL, txt);
    }
    if (c == '[') {
        if (skip_value(s, depth) < 0)
            return -1;
        return key == NULL ? 0 : append_python_row(s, key, start);
    }
    if (c == 't' || c == 'f') {
        if (literal(s, c == 't' ? "true" : "false") < 0)
            return -1;
        if (key == NULL)
            return 0;
        PyObject *num = PyLong_FromLong(c == 't');
        if (num == NULL) {
            s->error = 1;
            return -1;
        }
        return append_row(s, key, T_BOOL, num, NULL);
    }
    if (c == 'n') {
        if (literal(s, "null") < 0)
            return -1;
        return key == NULL ? 0 : append_row(s, key, T_NULL, NULL, NULL);
    }
    double special = 0;
    if (c == 'N') {
        if (literal(s, "NaN") < 0)
            return -1;
        special = Py_NAN;
    }
    else if (c == 'I') {
        if (literal(s, "Infinity") < 0)
            return -1;
        special = Py_HUGE_VAL;
    }
    else if (c == '-' && s->p + 1 < s->end && s->p[1] == 'I') {
        s->p++;
        if (literal(s, "Infinity") < 0)
            return -1;
        special = -Py_HUGE_VAL;
    }
    if (special != 0 || c == 'N') {
        if (key == NULL)
            return 0;
        PyObject *num = PyFloat_FromDouble(special);
        if (num == NULL) {
            s->error = 1;
            return -1;
        }
        return append_row(s, key, T_FLOAT, num, NULL);
    }
    int is_int;
    if (scan_number(s, &is_int) < 0)
        return -1;
    if (key == NULL)
        return 0;
    Py_ssize_t len = s->p - start;
    int negative = *start == '-';
    if (is_int && len - negative <= 15) { /* below 2**53: its float is exact */
        long long v = 0;
        for (const char *q = start + negative; q < s->p; q++)
            v = v * 10 + (*q - '0');
        PyObject *num = PyFloat_FromDouble((double)(negative ? -v : v));
        if (num == NULL) {
            s->error = 1;
            return -1;
        }
        return append_row(s, key, T_INT, num, NULL);
    }
    if (is_int || len >= 64)
        return append_python_row(s, key, start);
    char buf[64];
    memcpy(buf, start, len);
    buf[len] = '\0';
    /* as float() of the number's text, which Python's reader calls */
    double d = PyOS_string_to_double(buf, NULL, NULL);
    if (d == -1.0 && PyErr_Occurred()) {
        s->error = 1;
        return -1;
    }
    PyObject *num = PyFloat_FromDouble(d);
    if (num == NULL) {
        s->error = 1;
        return -1;
    }
    return append_row(s, key, T_FLOAT, num, NULL);
}

/* members remembered per object for keys written twice, in a walk for rows: only the compared
 * ones (a wanted key or a prefix of one) count; an object with more goes to the reference */
#define SEEN_MAX 32
/* the same in a walk for names, where every member counts */
#define NAMES_SEEN_MAX 256

/* at '{' of an object whose dotted prefix is in s->name, the one walker of both uses (a copy
 * of it for each: walk_object_for_rows, walk_object_for_names): for rows (for_names 0, names
 * NULL), the rows of its members under a wanted key (each value read by read_member_value,
 * which comes back here for an object under a live name); for names, the dotted name of each
 * member appended to names, a member holding an object followed by its own
 * members' names (the order of suite.index.keyrows.key_names). Either way a key with an escape
 * (it may equal a wanted one; the reference decodes it), a compared key written twice (Python
 * keeps the last value, names at the first place), more compared keys than remembered, and
 * nesting past s->max_depth leave the text to the reference (s->fail). */
static int walk_object_for_names(scan *s, int depth, PyObject *names);

static inline __attribute__((always_inline)) int
walk_object_as(scan *s, int depth, PyObject *names, const int for_names)
{
    /* sized by the use (a walk for rows recurses up to MAX_DEPTH deep); for_names is a
     * constant in each copy, so these are fixed arrays and the branches on it go */
    const int seen_max = for_names ? NAMES_SEEN_MAX : SEEN_MAX;
    const char *seen[for_names ? NAMES_SEEN_MAX : SEEN_MAX];
    Py_ssize_t seen_len[for_names ? NAMES_SEEN_MAX : SEEN_MAX];
    int nseen = 0;
    Py_ssize_t base = s->name_len;
    if (depth > s->max_depth) {
        s->fail = 1;
        return -1;
    }
    s->p++;
    skip_ws(s);
    if (s->p < s->end && *s->p == '}') {
        s->p++;
        return 0;
    }
    for (;;) {
        const char *str;
        Py_ssize_t len;
        int escaped;
        if (s->p >= s->end || *s->p != '"' || scan_string(s, &str, &len, &escaped) < 0 ||
            escaped) {
            s->fail = 1;
            return -1;
        }
        skip_ws(s);
        if (s->p >= s->end || *s->p != ':') {
            s->fail = 1;
            return -1;
        }
        s->p++;
        skip_ws(s);
        if (set_name(s, base, str, len) < 0)
            return -1;
        Py_ssize_t k = -1; /* a walk for rows: the wanted key's index */
        int compared = 1;
        if (!for_names) {
            k = wanted_index(s);
            compared = k >= 0;
            if (k < 0 && set_name(s, base + len, ".", 1) == 0) {
                compared = live(s);
                s->name_len = base + len;
            }
            if (s->error)
                return -1;
        }
        if (compared) {
            for (int i = 0; i < nseen; i++)
                if (seen_len[i] == len && memcmp(seen[i], str, len) == 0) {
                    s->fail = 1;
                    return -1;
                }
            if (nseen == seen_max) {
                s->fail = 1;
                return -1;
            }
            seen[nseen] = str;
            seen_len[nseen++] = len;
        }
        int r;
        if (!for_names)
            r = compared ? read_member_value(s, k, depth) : skip_value(s, depth + 1);
        else {
            /* the text was checked as UTF-8 whole, and a key lies between two '"' */
            PyObject *name = PyUnicode_DecodeUTF8(s->name, s->name_len, "strict");
            if (name == NULL || PyList_Append(names, name) < 0) {
                Py_XDECREF(name);
                s->error = 1;
                return -1;
            }
            Py_DECREF(name);
            if (s->p < s->end && *s->p == '{')
                r = set_name(s, base + len, ".", 1) < 0 ? -1 : walk_object_for_names(s, depth + 1,
                                                                                      names);
            else
                r = skip_value(s, depth + 1);
        }
        s->name_len = base;
        if (r < 0)
            return -1;
        skip_ws(s);
        if (s->p < s->end && *s->p == ',') {
            s->p++;
            skip_ws(s);
            continue;
        }
        if (s->p < s->end && *s->p == '}') {
            s->p++;
            return 0;
        }
        s->fail = 1;
        return -1;
    }
}

static int
walk_object_for_names(scan *s, int depth, PyObject *names)
{
    return walk_object_as(s, depth, names, 1);
}

static int
walk_object_for_rows(scan *s, int depth)
{
    return walk_object_as(s, depth, NULL, 0);
}

/* any JSON value, checked and passed over */
static int
skip_value(scan *s, int depth)
{
    if (depth > s->max_depth || s->p >= s->end) {
        s->fail = 1;
        return -1;
    }
    char c = *s->p;
    const char *str;
    Py_ssize_t len;
    int escaped, is_int;
    if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        s->p++;
        skip_ws(s);
        if (s->p < s->end && *s->p == close) {
            s->p++;
            return 0;
        }
        for (;;) {
            if (c == '{') {
                if (s->p >= s->end || *s->p != '"' || scan_string(s, &str, &len, &escaped) < 0) {
                    s->fail = 1;
                    return -1;
                }
                skip_ws(s);
                if (s->p >= s->end || *s->p != ':') {
                    s->fail = 1;
                    return -1;
                }
                s->p++;
                skip_ws(s);
            }
            if (skip_value(s, depth + 1) < 0)
                return -1;
            skip_ws(s);
            if (s->p < s->end && *s->p == ',') {
                s->p++;
                skip_ws(s);
                continue;
            }
            if (s->p < s->end && *s->p == close) {
                s->p++;
                return 0;
            }
            s->fail = 1;
            return -1;
        }
    }
    if (c == '"')
        return scan_string(s, &str, &len, &escaped);
    if (c == 't')
        return literal(s, "true");
    if (c == 'f')
        return literal(s, "false");
    if (c == 'n')
        return literal(s, "null");
    if (c == 'N')
        return literal(s, "NaN");
    if (c == 'I')
        return literal(s, "Infinity");
    if (c == '-' && s->p + 1 < s->end && s->p[1] == 'I') {
        s->p++;
        return literal(s, "Infinity");
    }
    return scan_number(s, &is_int);
}

/* the rows of one text; 1 if it is left to the reference (nothing appended), -1 on error */
static int
rows_of_one(scan *s, const char *text, Py_ssize_t size)
{
    Py_ssize_t before = PyList_GET_SIZE(s->out);
    s->p = text;
    s->end = text + size;
    s->fail = s->error = 0;
    s->name_len = 0;
    skip_ws(s);
    if (s->p < s->end && *s->p == '{' && walk_object_for_rows(s, 1) == 0) {
        skip_ws(s);
        if (s->p == s->end)
            return 0;
        s->fail = 1;
    }
    if (s->error)
        return -1;
    if (PyList_SetSlice(s->out, before, PyList_GET_SIZE(s->out), NULL) < 0)
        return -1;
    return 1;
}

static int
load_keys(PyObject *list, wanted **keys, Py_ssize_t *n, int *all_utf8)
{
    PyObject *seq = PySequence_Fast(list, "keys must be a sequence of str");
    if (seq == NULL)
        return -1;
    *n = PySequence_Fast_GET_SIZE(seq);
    *keys = PyMem_Calloc(*n ? *n : 1, sizeof(wanted));
    if (*keys == NULL) {
        Py_DECREF(seq);
        PyErr_NoMemory();
        return -1;
    }
    *all_utf8 = 1;
    for (Py_ssize_t i = 0; i < *n; i++) {
        PyObject *key = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyUnicode_Check(key)) {
            Py_DECREF(seq);
            PyErr_SetString(PyExc_TypeError, "keys must be str");
            return -1;
        }
        (*keys)[i].obj = key; /* kept alive by the caller's list */
        (*keys)[i].utf8 = PyUnicode_AsUTF8AndSize(key, &(*keys)[i].len);
        if ((*keys)[i].utf8 == NULL) { /* a lone surrogate: such texts go to the reference */
            PyErr_Clear();
            *all_utf8 = 0;
        }
    }
    Py_DECREF(seq);
    return 0;
}

PyDoc_STRVAR(rows_of_keys_doc,
"rows_of_keys(texts, keys, row_of_value, rows_of_text) -> list\n\n"
"The key rows (id, src, key, t, num, txt) of the keys keys[src] (lists of str) that the\n"
"texts (id, src, text or None) make, as flatten's rows of json.loads(text) kept for those\n"
"keys. Reference: suite.index.keyrows._rows_of_keys_python.");

static PyObject *
rows_of_keys(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *texts, *keylists, *row_of_value, *rows_of_text;
    if (!PyArg_ParseTuple(args, "OO!OO:rows_of_keys", &texts, &PyTuple_Type, &keylists,
                          &row_of_value, &rows_of_text))
        return NULL;
    if (PyTuple_GET_SIZE(keylists) != 2) {
        PyErr_SetString(PyExc_ValueError, "keys must be a pair of lists");
        return NULL;
    }
    wanted *keys[2] = {NULL, NULL};
    Py_ssize_t nkeys[2] = {0, 0};
    int utf8[2] = {1, 1};
    PyObject *result = NULL, *seq = NULL;
    scan s = {0};
    s.row_of_value = row_of_value;
    s.max_depth = MAX_DEPTH;
    for (int i = 0; i < 2; i++)
        if (load_keys(PyTuple_GET_ITEM(keylists, i), &keys[i], &nkeys[i], &utf8[i]) < 0)
            goto done;
    seq = PySequence_Fast(texts, "texts must be a sequence");
    if (seq == NULL)
        goto done;
    s.out = PyList_New(0);
    if (s.out == NULL)
        goto done;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 3) {
            PyErr_SetString(PyExc_TypeError, "texts must hold (id, src, text) tuples");
            goto done;
        }
        PyObject *text = PyTuple_GET_ITEM(item, 2);
        s.job_id = PyTuple_GET_ITEM(item, 0);
        s.src = PyTuple_GET_ITEM(item, 1);
        long src = PyLong_Check(s.src) ? PyLong_AsLong(s.src) : -1;
        if (src == -1 && PyErr_Occurred())
            PyErr_Clear();
        int handled = 1;
        if (text == Py_None)
            continue;
        if ((src == 0 || src == 1) && PyUnicode_Check(text)) {
            if (nkeys[src] == 0)
                continue;
            Py_ssize_t size;
            const char *utf = utf8[src] ? PyUnicode_AsUTF8AndSize(text, &size) : NULL;
            if (utf == NULL) {
                PyErr_Clear(); /* lone surrogates: the reference decides */
                handled = 0;
            }
            else {
                s.keys = keys[src];
                s.nkeys = nkeys[src];
                int r = rows_of_one(&s, utf, size);
                if (r < 0)
                    goto done;
                handled = r == 0;
            }
        }
        else
            handled = 0;
        if (!handled) {
            PyObject *names = (src == 0 || src == 1) ? PyTuple_GET_ITEM(keylists, src) : Py_None;
            PyObject *rows = PyObject_CallFunctionObjArgs(rows_of_text, s.job_id, s.src, text,
                                                          names, NULL);
            if (rows == NULL)
                goto done;
            Py_ssize_t end = PyList_GET_SIZE(s.out);
            int r = PyList_SetSlice(s.out, end, end, rows);
            Py_DECREF(rows);
            if (r < 0)
                goto done;
        }
    }
    result = s.out;
    s.out = NULL;
done:
    Py_XDECREF(s.out);
    Py_XDECREF(seq);
    PyMem_Free(keys[0]);
    PyMem_Free(keys[1]);
    PyMem_Free(s.name);
    return result;
}

/* ---- the key names of a job file, for an index build ---------------------------------- */

/* half of suite.statepoint.MAX_DEPTH: a deeper file goes to the reference, which applies the
 * limit itself */
#define NAMES_MAX_DEPTH 50

PyDoc_STRVAR(names_of_file_doc,
"names_of_file(data) -> (text, names) or None\n\n"
"For the bytes of a job file that are one JSON object in UTF-8, starting at its '{': the text\n"
"decoded and the dotted names keyrows.key_names gives of the parsed object. None where this\n"
"scanner does not decide (not JSON, or a key with an escape, a key written twice in one\n"
"object, nesting past half of MAX_DEPTH, an integer of many digits, not UTF-8): the caller then\n"
"parses with the reference (suite.index.reading.parse, then keyrows.key_names).");

/* (text, names) of the bytes [data, data + size), or None where the reference decides; NULL
 * with an exception */
static PyObject *
names_of_bytes(const char *data, Py_ssize_t size)
{
    if (size < 2 || data[0] != '{')
        Py_RETURN_NONE;
    PyObject *text = PyUnicode_DecodeUTF8(data, size, "strict");
    if (text == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError))
            return NULL;
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    PyObject *names = PyList_New(0);
    if (names == NULL) {
        Py_DECREF(text);
        return NULL;
    }
    scan s = {0};
    s.max_depth = NAMES_MAX_DEPTH;
    s.p = data;
    s.end = data + size;
    int r = walk_object_for_names(&s, 1, names);
    if (r == 0) {
        skip_ws(&s);
        if (s.p != s.end)
            s.fail = 1;
    }
    PyMem_Free(s.name);
    if (s.error || s.fail) {
        Py_DECREF(text);
        Py_DECREF(names);
        if (s.error)
            return NULL;
        Py_RETURN_NONE;
    }
    PyObject *out = PyTuple_Pack(2, text, names);
    Py_DECREF(text);
    Py_DECREF(names);
    return out;
}

static PyObject *
names_of_file(PyObject *Py_UNUSED(module), PyObject *arg)
{
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "data must be bytes");
        return NULL;
    }
    return names_of_bytes(PyBytes_AS_STRING(arg), PyBytes_GET_SIZE(arg));
}

PyDoc_STRVAR(names_of_files_doc,
"names_of_files(raws, too_big, max_bytes, max_keys) -> list\n\n"
"For each (data, signature) of raws (suite.index.reading.read_files's results): where data is\n"
"bytes other than too_big, of at most max_bytes, and names_of_file(data) decides,\n"
"(text, names, None, signature); with more than max_keys names (max_keys >= 0: a document\n"
"held to the caps), (None, None, None, signature); else None (the caller reads that file with\n"
"the reference: suite.index.reading.text_and_names). One call for a batch of files instead\n"
"of the interpreter's loop around names_of_file. Raises TypeError where raws is not a\n"
"sequence of 2-tuples.");

static PyObject *
names_of_files(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *raws, *too_big;
    Py_ssize_t max_bytes, max_keys;
    if (!PyArg_ParseTuple(args, "OOnn:names_of_files", &raws, &too_big, &max_bytes, &max_keys))
        return NULL;
    PyObject *seq = PySequence_Fast(raws, "raws must be a sequence");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    PyObject *out = PyList_New(n);
    if (out == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *raw = items[i];
        if (!PyTuple_Check(raw) || PyTuple_GET_SIZE(raw) != 2) {
            PyErr_SetString(PyExc_TypeError, "raws must hold (data, signature) pairs");
            goto fail;
        }
        PyObject *data = PyTuple_GET_ITEM(raw, 0), *sig = PyTuple_GET_ITEM(raw, 1);
        PyObject *got = NULL, *row;
        if (PyBytes_CheckExact(data) && data != too_big && PyBytes_GET_SIZE(data) <= max_bytes) {
            got = names_of_bytes(PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data));
            if (got == NULL)
                goto fail;
        }
        if (got == NULL || got == Py_None)
            row = Py_NewRef(Py_None);
        else if (max_keys >= 0 && PyList_GET_SIZE(PyTuple_GET_ITEM(got, 1)) > max_keys)
            row = PyTuple_Pack(4, Py_None, Py_None, Py_None, sig);
        else
            row = PyTuple_Pack(4, PyTuple_GET_ITEM(got, 0), PyTuple_GET_ITEM(got, 1), Py_None,
                               sig);
        Py_XDECREF(got);
        if (row == NULL)
            goto fail;
        PyList_SET_ITEM(out, i, row);
    }
    Py_DECREF(seq);
    return out;
fail:
    Py_DECREF(out);
    Py_DECREF(seq);
    return NULL;
}

static PyMethodDef methods[] = {
    {"rows_of_keys", rows_of_keys, METH_VARARGS, rows_of_keys_doc},
    {"names_of_file", names_of_file, METH_O, names_of_file_doc},
    {"names_of_files", names_of_files, METH_VARARGS, names_of_files_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "suite.index._keyrows",
    .m_doc = "The key rows of a few keys made from many JSON texts, and the key names of job files "
              "(see suite.index.keyrows, suite.index.reading).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__keyrows(void)
{
    return PyModule_Create(&module);
}
