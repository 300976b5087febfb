/* suite._slots: objects of a class with __slots__ made without its __init__, their slots set
 * from the arguments of one C call.
 *
 * Optional: suite/slotnew.py loads it through suite/native.py; its pure-Python reference is
 * suite.slotnew.maker_python (object.__new__ and the slots' own setters), and the tests
 * compare the two on generated classes, names and values, errors included. Iterating or
 * judging 100,000 jobs makes a Job, a state point view (two objects) and, in status, a
 * document root and view per job: each a Python __init__ or a Python loop of setters.
 *
 * maker(cls, names) checks once what the reference checks: cls is a class whose __new__ is
 * object.__new__ and which is not abstract, and every name is a writable object slot of cls
 * or of one of its bases (a member descriptor from some other class is refused: its offset
 * would not be inside the object). A call then allocates the object as object.__new__ does
 * and stores a new reference to each value in its slot.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

typedef struct {
    PyObject_VAR_HEAD
    PyTypeObject *cls;
    vectorcallfunc vectorcall;
    Py_ssize_t n;
    Py_ssize_t offsets[1]; /* n of them */
} Maker;

static PyTypeObject Maker_Type;

static PyObject *
maker_call(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Maker *m = (Maker *)self;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (kwnames != NULL && PyTuple_GET_SIZE(kwnames) > 0) {
        PyErr_SetString(PyExc_TypeError, "a maker takes no keyword arguments");
        return NULL;
    }
    if (m->cls == NULL) { /* cleared by the collector while in a cycle being freed */
        PyErr_SetString(PyExc_TypeError, "this maker was cleared");
        return NULL;
    }
    if (nargs != m->n) {
        PyErr_Format(PyExc_TypeError, "a maker of %s takes %zd values, %zd given",
                     m->cls->tp_name, m->n, nargs);
        return NULL;
    }
    PyObject *obj = m->cls->tp_alloc(m->cls, 0);
    if (obj == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < nargs; i++) {
        PyObject **slot = (PyObject **)((char *)obj + m->offsets[i]);
        PyObject *old = *slot; /* NULL, unless a name was given twice */
        *slot = Py_NewRef(args[i]);
        Py_XDECREF(old);
    }
    return obj;
}

/* The offset of the object slot `name` of cls, or -1 with TypeError set. */
static Py_ssize_t
slot_offset(PyTypeObject *cls, PyObject *name)
{
    if (!PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "slot names must be str, not %s", Py_TYPE(name)->tp_name);
        return -1;
    }
    /* what getattr(cls, name) gives: a slot's member descriptor gives itself */
    PyObject *descr = PyObject_GetAttr((PyObject *)cls, name);
    if (descr == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError))
            return -1;
        PyErr_Clear();
    }
    Py_ssize_t offset = -1;
    if (descr != NULL && PyObject_TypeCheck(descr, &PyMemberDescr_Type)) {
        PyMemberDef *def = ((PyMemberDescrObject *)descr)->d_member;
        if (PyType_IsSubtype(cls, PyDescr_TYPE(descr)) && def->type == T_OBJECT_EX
            && !(def->flags & READONLY) && def->offset >= (Py_ssize_t)sizeof(PyObject)
            && def->offset + (Py_ssize_t)sizeof(PyObject *) <= cls->tp_basicsize)
            offset = def->offset;
    }
    Py_XDECREF(descr);
    if (offset < 0)
        PyErr_Format(PyExc_TypeError, "%R is not a writable object slot of %s", name,
                     cls->tp_name);
    return offset;
}

static PyObject *
maker_new(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *cls_obj, *names;
    if (!PyArg_ParseTuple(args, "OO:maker", &cls_obj, &names))
        return NULL;
    if (!PyType_Check(cls_obj)) {
        PyErr_Format(PyExc_TypeError, "maker needs a class, not %s", Py_TYPE(cls_obj)->tp_name);
        return NULL;
    }
    PyTypeObject *cls = (PyTypeObject *)cls_obj;
    if (cls->tp_new != PyBaseObject_Type.tp_new || cls->tp_alloc == NULL
        || (cls->tp_flags & Py_TPFLAGS_IS_ABSTRACT)) {
        PyErr_Format(PyExc_TypeError, "%s is not made by object.__new__", cls->tp_name);
        return NULL;
    }
    PyObject *seq = PySequence_Tuple(names);
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(seq);
    Maker *m = PyObject_GC_NewVar(Maker, &Maker_Type, n);
    if (m == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    m->cls = NULL;
    m->n = 0;
    m->vectorcall = maker_call;
    for (Py_ssize_t i = 0; i < n; i++) {
        Py_ssize_t offset = slot_offset(cls, PyTuple_GET_ITEM(seq, i));
        if (offset < 0) {
            Py_DECREF(seq);
            Py_DECREF(m);
            return NULL;
        }
        m->offsets[i] = offset;
    }
    Py_DECREF(seq);
    m->n = n;
    m->cls = (PyTypeObject *)Py_NewRef(cls);
    PyObject_GC_Track(m);
    return (PyObject *)m;
}

static int
maker_traverse(Maker *m, visitproc visit, void *arg)
{
    Py_VISIT(m->cls);
    return 0;
}

static int
maker_clear(Maker *m)
{
    Py_CLEAR(m->cls);
    return 0;
}

static void
maker_dealloc(Maker *m)
{
    PyObject_GC_UnTrack(m);
    Py_CLEAR(m->cls);
    PyObject_GC_Del(m);
}

static PyObject *
maker_repr(Maker *m)
{
    return PyUnicode_FromFormat("<maker of %s>", m->cls ? m->cls->tp_name : "nothing");
}

static PyTypeObject Maker_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "suite._slots.Maker",
    .tp_basicsize = offsetof(Maker, offsets),
    .tp_itemsize = sizeof(Py_ssize_t),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(Maker, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_traverse = (traverseproc)maker_traverse,
    .tp_clear = (inquiry)maker_clear,
    .tp_dealloc = (destructor)maker_dealloc,
    .tp_repr = (reprfunc)maker_repr,
    .tp_doc = "Makes objects of one class with the given slots set (see maker).",
};

static PyMethodDef methods[] = {
    {"maker", maker_new, METH_VARARGS,
     "maker(cls, names) -> callable: maker(*values) is an object of cls, made as\n"
     "object.__new__(cls) makes it (no __init__), with the slot names[i] set to values[i].\n"
     "Raises TypeError for a class not made by object.__new__, an abstract class, a name\n"
     "that is not a writable object slot of cls, and for a call with another number of\n"
     "values. Reference: suite.slotnew.maker_python."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "suite._slots",
    .m_doc = "Objects of slotted classes made without __init__ (reference: suite.slotnew).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__slots(void)
{
    if (PyType_Ready(&Maker_Type) < 0)
        return NULL;
    return PyModule_Create(&module);
}
