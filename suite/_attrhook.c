/* Attribute access of a class with a Python __getattr__ and object's __getattribute__, as
 * Python does it, without the AttributeError that Python 3.11 makes (its message formatted,
 * its name and object set) and then drops on every miss of the generic lookup before calling
 * __getattr__: `job.sp.key` in a label (status asks it once per job) spent about half of its
 * time there. Reference: suite.attrhook.getattr_python. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *getattr_name;       /* "__getattr__" */
static PyObject *getattribute_name;  /* "__getattribute__" */

static PyObject *
hooked_getattro(PyObject *self, PyObject *name)
{
    /* the generic lookup, told not to raise AttributeError (it still raises any other) */
    PyObject *res = _PyObject_GenericGetAttrWithDict(self, name, NULL, 1);
    if (res != NULL || PyErr_Occurred())
        return res;
    PyObject *fn = _PyType_Lookup(Py_TYPE(self), getattr_name);  /* borrowed */
    if (fn == NULL) {  /* __getattr__ deleted from the class since: as Python says it */
        PyErr_Format(PyExc_AttributeError, "'%.50s' object has no attribute '%U'",
                     Py_TYPE(self)->tp_name, name);
        return NULL;
    }
    Py_INCREF(fn);
    if (PyFunction_Check(fn)) {  /* the bound method Python would make, without making it */
        PyObject *args[2] = {self, name};
        res = PyObject_Vectorcall(fn, args, 2, NULL);
    }
    else {  /* any other object: bound as a descriptor, then called, as Python does */
        descrgetfunc get = Py_TYPE(fn)->tp_descr_get;
        if (get != NULL) {
            PyObject *bound = get(fn, self, (PyObject *)Py_TYPE(self));
            res = bound == NULL ? NULL : PyObject_CallOneArg(bound, name);
            Py_XDECREF(bound);
        }
        else
            res = PyObject_CallOneArg(fn, name);
    }
    Py_DECREF(fn);
    return res;
}

static PyObject *
install(PyObject *module, PyObject *cls)
{
    if (!PyType_Check(cls)) {
        PyErr_Format(PyExc_TypeError, "install needs a class, not %.50s", Py_TYPE(cls)->tp_name);
        return NULL;
    }
    PyTypeObject *type = (PyTypeObject *)cls;
    PyObject *own = _PyType_Lookup(type, getattribute_name);
    PyObject *generic = _PyType_Lookup(&PyBaseObject_Type, getattribute_name);
    PyObject *fn = _PyType_Lookup(type, getattr_name);
    if (!(type->tp_flags & Py_TPFLAGS_HEAPTYPE) || own == NULL || own != generic
            || fn == NULL || !PyFunction_Check(fn)) {
        PyErr_Format(PyExc_TypeError, "%.50s does not have object's __getattribute__ and a "
                     "Python __getattr__", type->tp_name);
        return NULL;
    }
    /* __getattr__ is looked up on the object's class at each miss, so subclasses answer as
     * Python does; an assignment of __getattr__ or __getattribute__ to the class gives it
     * Python's own hook again (type_setattro updates the slot): slower, never different. */
    type->tp_getattro = hooked_getattro;
    PyType_Modified(type);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"install", install, METH_O,
     "install(cls): attribute access of cls (a Python class with object's __getattribute__\n"
     "and a Python __getattr__) without the AttributeError Python makes and drops before\n"
     "calling __getattr__; what it returns and raises is what Python's own access gives.\n"
     "Raises TypeError for any other class. Reference: suite.attrhook.getattr_python."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "suite._attrhook",
    .m_doc = "Attribute access without a dropped AttributeError (reference: suite.attrhook).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__attrhook(void)
{
    getattr_name = PyUnicode_InternFromString("__getattr__");
    getattribute_name = PyUnicode_InternFromString("__getattribute__");
    if (getattr_name == NULL || getattribute_name == NULL)
        return NULL;
    return PyModule_Create(&module);
}
