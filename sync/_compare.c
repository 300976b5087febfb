/* sync._compare: comparing both sides' listings with the record of the last sync, in C.
 *
 * Optional: sync/steady.py loads it through suite.native.load; steady_jobs has the
 * pure-Python reference sync.steady.steady_jobs_python, which tests/sync/test_compare.py compares
 * it with on generated listings and records. Most jobs of most syncs are steady, and deciding
 * that in Python costs more per job than listing it in C.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

/* the keys of a snapshot's job and a record entry, made once */
static PyObject *key_files, *key_doc;

/* Strict JSON equality (sync.merge.same, suite.statepoint.same): the types must be the same
 * (1 is not 1.0, True is not 1), dicts by keys and values, lists item by item, anything else
 * by ==. Returns 1, 0, or -1 with an exception set. */
static int
same(PyObject *a, PyObject *b)
{
    PyTypeObject *type = Py_TYPE(a);
    if (type != Py_TYPE(b))
        return 0;
    if (type == &PyFloat_Type)  /* by value: a NaN is never equal, not even to itself */
        return PyFloat_AS_DOUBLE(a) == PyFloat_AS_DOUBLE(b);
    if (type == &PyUnicode_Type || type == &PyLong_Type || type == &PyBool_Type
            || a == Py_None)
        return PyObject_RichCompareBool(a, b, Py_EQ);  /* no Python code runs */
    if (type == &PyDict_Type) {
        if (PyDict_GET_SIZE(a) != PyDict_GET_SIZE(b))
            return 0;
        if (Py_EnterRecursiveCall(" comparing documents"))
            return -1;
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        int result = 1;
        while (result == 1 && PyDict_Next(a, &pos, &key, &value)) {
            PyObject *other = PyDict_GetItemWithError(b, key);
            if (other == NULL) {
                result = PyErr_Occurred() ? -1 : 0;
                break;
            }
            Py_INCREF(value);
            Py_INCREF(other);
            result = same(value, other);
            Py_DECREF(value);
            Py_DECREF(other);
        }
        Py_LeaveRecursiveCall();
        return result;
    }
    if (type == &PyList_Type) {
        if (PyList_GET_SIZE(a) != PyList_GET_SIZE(b))
            return 0;
        if (Py_EnterRecursiveCall(" comparing documents"))
            return -1;
        int result = 1;
        for (Py_ssize_t i = 0; result == 1 && i < PyList_GET_SIZE(a); i++) {
            if (i >= PyList_GET_SIZE(b)) {  /* b shrank meanwhile */
                result = 0;
                break;
            }
            PyObject *x = PyList_GET_ITEM(a, i), *y = PyList_GET_ITEM(b, i);
            Py_INCREF(x);
            Py_INCREF(y);
            result = same(x, y);
            Py_DECREF(x);
            Py_DECREF(y);
        }
        Py_LeaveRecursiveCall();
        return result;
    }
    return -2;  /* another type (a subclass of dict or list...): the caller uses Python */
}

/* a value JSON gives and comparing which runs no Python code */
static int
plain(PyObject *v)
{
    return PyLong_CheckExact(v) || PyFloat_CheckExact(v) || PyUnicode_CheckExact(v)
        || PyBool_Check(v) || v == Py_None;
}

/* == as Python's chained comparison evaluates it (no identity shortcut: a NaN is unequal);
 * -2 for values other than plain ones */
static int
equal(PyObject *a, PyObject *b)
{
    if (!plain(a) || !plain(b))
        return -2;
    if (!PyFloat_CheckExact(a) && !PyFloat_CheckExact(b))
        return PyObject_RichCompareBool(a, b, Py_EQ);
    PyObject *r = PyObject_RichCompare(a, b, Py_EQ);
    if (r == NULL)
        return -1;
    int truth = PyObject_IsTrue(r);
    Py_DECREF(r);
    return truth;
}

/* a file state as a snapshot or the record holds it: an exact list or tuple */
static int
state_len(PyObject *state)
{
    if (PyList_CheckExact(state))
        return (int)(PyList_GET_SIZE(state) > 3 ? 4 : PyList_GET_SIZE(state));
    if (PyTuple_CheckExact(state))
        return (int)(PyTuple_GET_SIZE(state) > 3 ? 4 : PyTuple_GET_SIZE(state));
    return -1;
}

#define AT(state, k) (PyList_CheckExact(state) ? PyList_GET_ITEM(state, k) \
                      : PyTuple_GET_ITEM(state, k))

/* Whether a job is steady: 1, 0; -1 with an exception; -2 when its data has a shape the C
 * does not follow (the caller asks the Python reference instead). */
static int
job_steady(PyObject *lj, PyObject *rj, PyObject *bj)
{
    if (!PyDict_CheckExact(lj) || !PyDict_CheckExact(rj) || !PyDict_CheckExact(bj))
        return -2;
    if (PyDict_GET_SIZE(lj) != 2 || PyDict_GET_SIZE(rj) != 2)  /* skipped items, links */
        return 0;
    /* str keys (a str's hash is cached): no lookup can fail or run Python code */
    PyObject *lf = PyDict_GetItem(lj, key_files), *rf = PyDict_GetItem(rj, key_files);
    PyObject *bf = PyDict_GetItem(bj, key_files);
    PyObject *ldoc = PyDict_GetItem(lj, key_doc), *rdoc = PyDict_GetItem(rj, key_doc);
    PyObject *bdoc = PyDict_GetItem(bj, key_doc);
    if (lf == NULL || rf == NULL || ldoc == NULL || rdoc == NULL || !PyDict_CheckExact(lf)
            || !PyDict_CheckExact(rf) || (bf != NULL && !PyDict_CheckExact(bf))
            || (bdoc != NULL && !PyDict_CheckExact(bdoc)))
        return -2;
    Py_ssize_t n = bf == NULL ? 0 : PyDict_GET_SIZE(bf);
    if (PyDict_GET_SIZE(lf) != n || PyDict_GET_SIZE(rf) != n)
        return 0;
    if (n > 0) {
        /* the same keys on all three (equal sizes and each of the record's found) first,
         * as the reference compares the key sets before any state */
        Py_ssize_t pos = 0;
        PyObject *rel, *b;
        while (PyDict_Next(bf, &pos, &rel, &b)) {
            if (PyDict_GetItemWithError(lf, rel) == NULL || PyDict_GetItemWithError(rf, rel) == NULL)
                return PyErr_Occurred() ? -1 : 0;
        }
        pos = 0;
        while (PyDict_Next(bf, &pos, &rel, &b)) {
            PyObject *l = PyDict_GetItemWithError(lf, rel), *r = PyDict_GetItemWithError(rf, rel);
            if (l == NULL || r == NULL)
                return PyErr_Occurred() ? -1 : 0;
            int nl = state_len(l), nr = state_len(r), nb = state_len(b);
            if (nl < 0 || nr < 0 || nb < 3)
                return -2;
            if (nl != 3 || nr != 3)
                return 0;
            /* l[0] == r[0] == b[0] and l[1] == r[1] == b[1] == b[2], left to right */
            PyObject *pairs[5][2] = {{AT(l, 0), AT(r, 0)}, {AT(r, 0), AT(b, 0)},
                                     {AT(l, 1), AT(r, 1)}, {AT(r, 1), AT(b, 1)},
                                     {AT(b, 1), AT(b, 2)}};
            for (int k = 0; k < 5; k++) {
                int eq = equal(pairs[k][0], pairs[k][1]);
                if (eq != 1)
                    return eq;
            }
        }
    }
    PyObject *empty = NULL;
    if (bdoc == NULL) {
        empty = PyDict_New();
        if (empty == NULL)
            return -1;
        bdoc = empty;
    }
    int result = same(ldoc, bdoc);
    if (result == 1)
        result = same(rdoc, bdoc);
    Py_XDECREF(empty);
    return result;
}

PyDoc_STRVAR(steady_jobs_doc,
"steady_jobs(local_jobs, remote_jobs, record_jobs) -> set or None\n\n"
"The ids of the jobs nothing moved in since the record: the same files on both sides, each\n"
"of the recorded size and mtime on both sides, both documents the record's, no links or\n"
"skipped items (jobs as sync snapshots list them, entries as the record keeps them).\n"
"Reference: sync.steady.steady_jobs_python. Returns None when some job has a shape it does\n"
"not follow (e.g. a record entry that is not a JSON object): the caller then asks the\n"
"reference, which raises what it raises. Raises TypeError unless given three dicts, and\n"
"whatever comparing two values raises.");

static PyObject *
steady_jobs(PyObject *self, PyObject *args)
{
    (void)self;
    PyObject *ljobs, *rjobs, *base;
    if (!PyArg_ParseTuple(args, "O!O!O!:steady_jobs", &PyDict_Type, &ljobs, &PyDict_Type,
                          &rjobs, &PyDict_Type, &base))
        return NULL;
    PyObject *steady = PySet_New(NULL);
    if (steady == NULL)
        return NULL;
    Py_ssize_t pos = 0;
    PyObject *job_id, *lj;
    while (PyDict_Next(ljobs, &pos, &job_id, &lj)) {
        PyObject *rj = PyDict_GetItemWithError(rjobs, job_id);
        if (rj == NULL && PyErr_Occurred())
            goto fail;
        PyObject *bj = rj == NULL ? NULL : PyDict_GetItemWithError(base, job_id);
        if (bj == NULL) {
            if (PyErr_Occurred())
                goto fail;
            continue;
        }
        Py_INCREF(lj);
        Py_INCREF(rj);
        Py_INCREF(bj);
        int r = job_steady(lj, rj, bj);
        Py_DECREF(lj);
        Py_DECREF(rj);
        Py_DECREF(bj);
        if (r == -2) {
            Py_DECREF(steady);
            Py_RETURN_NONE;
        }
        if (r == -1 || (r == 1 && PySet_Add(steady, job_id) != 0))
            goto fail;
    }
    return steady;
fail:
    Py_DECREF(steady);
    return NULL;
}

static PyMethodDef methods[] = {
    {"steady_jobs", steady_jobs, METH_VARARGS, steady_jobs_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "sync._compare",
    "A sync's comparison of listings with its record in C (optional; see suite/native.py).",
    -1, methods, NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__compare(void)
{
    if (key_files == NULL)
        key_files = PyUnicode_InternFromString("files");
    if (key_doc == NULL)
        key_doc = PyUnicode_InternFromString("doc");
    if (key_files == NULL || key_doc == NULL)
        return NULL;
    return PyModule_Create(&module);
}
