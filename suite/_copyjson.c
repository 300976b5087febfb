/* suite._copyjson: the deep copy of a JSON value that `job.sp()` and `job.doc()` return.
 *
 * Optional: suite/synced.py loads it through suite/native.py; its pure-Python reference is
 * suite.synced.copy_json_python, and the tests compare the two on generated values. Iterating
 * 100,000 jobs calls it once a job: in Python it was about half of each `job.sp()` call.
 *
 * What is copied is what the reference copies: dicts and lists of exactly those types, at any
 * depth; every other object (numbers, strings, None, subclasses of dict or list, anything
 * else) is shared, as it is there. Too deep a nesting (or a list that holds itself) raises
 * RecursionError, as the reference does.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *copy_value(PyObject *value);

/* A copy of the exact dict src: a shallow copy whose dict and list values are then replaced
 * by their copies. Replacing the value of a key that is there never resizes the table, so
 * the walk over it stays valid; the copy is not reachable from Python code meanwhile. */
static PyObject *
copy_dict(PyObject *src)
{
    PyObject *out = PyDict_Copy(src);
    if (out == NULL)
        return NULL;
    Py_ssize_t pos = 0;
    PyObject *key, *item;
    while (PyDict_Next(out, &pos, &key, &item)) {
        if (!PyDict_CheckExact(item) && !PyList_CheckExact(item))
            continue;
        Py_INCREF(key); /* held across the copy: nothing below may free them */
        Py_INCREF(item);
        PyObject *copy = copy_value(item);
        int failed = copy == NULL || PyDict_SetItem(out, key, copy) < 0;
        Py_XDECREF(copy);
        Py_DECREF(item);
        Py_DECREF(key);
        if (failed) {
            Py_DECREF(out);
            return NULL;
        }
    }
    return out;
}

/* A copy of the exact list src: a shallow copy (a new list no one else sees) whose dict and
 * list items are then replaced by their copies. */
static PyObject *
copy_list(PyObject *src)
{
    PyObject *out = PyList_GetSlice(src, 0, PyList_GET_SIZE(src));
    if (out == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(out); i++) {
        PyObject *item = PyList_GET_ITEM(out, i);
        if (!PyDict_CheckExact(item) && !PyList_CheckExact(item))
            continue;
        PyObject *copy = copy_value(item);
        if (copy == NULL) {
            Py_DECREF(out);
            return NULL;
        }
        PyList_SET_ITEM(out, i, copy); /* the slot's old reference is released below */
        Py_DECREF(item);
    }
    return out;
}

static PyObject *
copy_value(PyObject *value)
{
    if (!PyDict_CheckExact(value) && !PyList_CheckExact(value))
        return Py_NewRef(value);
    if (Py_EnterRecursiveCall(" while copying a JSON value"))
        return NULL;
    PyObject *out = PyDict_CheckExact(value) ? copy_dict(value) : copy_list(value);
    Py_LeaveRecursiveCall();
    return out;
}

PyDoc_STRVAR(copy_json_doc,
"copy_json(value)\n--\n\n"
"Deep copy of a JSON value: dicts and lists (exactly those types) copied at every depth,\n"
"everything else shared. Raises RecursionError for too deep a nesting. Reference:\n"
"suite.synced.copy_json_python.");

static PyObject *
copy_json(PyObject *self, PyObject *value)
{
    (void)self;
    return copy_value(value);
}

static PyMethodDef methods[] = {
    {"copy_json", copy_json, METH_O, copy_json_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "suite._copyjson",
    .m_doc = "The deep copy of JSON values of suite in C (optional; see suite/native.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__copyjson(void)
{
    return PyModule_Create(&module);
}
