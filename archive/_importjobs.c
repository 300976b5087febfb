/* archive._importjobs: an import's per-job loops in C, after the scan (archive/importer.py).
 *
 * Optional: archive/importer.py loads it through suite.native.load; each function has a
 * pure-Python reference named in its docstring, and tests/archive/test_importjobs.py compares
 * the two on generated inputs (hypothesis), error cases included.
 *
 * check_manifest_jobs takes the common job only (the state point valid and hashing to the
 * manifest's id, the archived state point file absent or holding the canonical bytes, every
 * member a regular file that the manifest lists with its size and hash, no links, no
 * directories) and stops at the first other job: the Python loop, the reference, takes that
 * one and raises what it raises. rename_all makes the landing renames without the GIL.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

static PyObject *s_statepoint, *s_id, *s_files, *s_dirs, *s_size, *s_sha256;

/* 1: the staged entry have is (file_kind, size, sha256) as info ({"size", "sha256"}) says;
 * 0: not (or not of the exact types compared here); -1: exception set */
static int
same_file(PyObject *have, PyObject *info, PyObject *file_kind)
{
    if (!PyTuple_CheckExact(have) || PyTuple_GET_SIZE(have) != 3 || !PyDict_CheckExact(info))
        return 0;
    PyObject *kind = PyTuple_GET_ITEM(have, 0), *size = PyTuple_GET_ITEM(have, 1);
    PyObject *sha = PyTuple_GET_ITEM(have, 2);
    PyObject *want_size = PyDict_GetItemWithError(info, s_size);
    if (want_size == NULL)
        return PyErr_Occurred() ? -1 : 0;
    PyObject *want_sha = PyDict_GetItemWithError(info, s_sha256);
    if (want_sha == NULL)
        return PyErr_Occurred() ? -1 : 0;
    /* exact types: the comparisons run no code of the values' own */
    if (!PyUnicode_CheckExact(kind) || !PyLong_CheckExact(size) || !PyUnicode_CheckExact(sha) ||
        !PyLong_CheckExact(want_size) || !PyUnicode_CheckExact(want_sha))
        return 0;
    if (PyUnicode_Compare(kind, file_kind) != 0 || PyUnicode_Compare(sha, want_sha) != 0)
        return 0;
    return PyObject_RichCompareBool(size, want_size, Py_EQ);
}

/* The job made (a new reference), None when it is not the common case, NULL with an
 * exception set. */
static PyObject *
one_job(PyObject *entry, PyObject *path, PyObject *grouped, PyObject *small, PyObject *validate,
        PyObject *make_job, PyObject *file_kind, PyObject *sp_name)
{
    if (!PyDict_CheckExact(entry) || !PyUnicode_CheckExact(path))
        Py_RETURN_NONE;
    int has_dirs = PyDict_Contains(entry, s_dirs);
    if (has_dirs != 0)
        return has_dirs < 0 ? NULL : Py_NewRef(Py_None);
    PyObject *sp = PyDict_GetItemWithError(entry, s_statepoint);
    PyObject *files = sp == NULL ? NULL : PyDict_GetItemWithError(entry, s_files);
    PyObject *want_id = files == NULL ? NULL : PyDict_GetItemWithError(entry, s_id);
    if (want_id == NULL)
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    PyObject *members = PyDict_GetItemWithError(grouped, path);
    if (members == NULL)
        return PyErr_Occurred() ? NULL : Py_NewRef(Py_None);
    if (!PyDict_CheckExact(files) || !PyDict_CheckExact(members) ||
        PyDict_GET_SIZE(files) != PyDict_GET_SIZE(members))
        Py_RETURN_NONE;

    /* held across the calls of Python code below (validate, make_job) */
    Py_INCREF(files);
    Py_INCREF(want_id);
    Py_INCREF(members);
    PyObject *out = NULL, *job_files = NULL, *links = NULL, *dirs = NULL, *sp_key = NULL;
    PyObject *checked = PyObject_CallOneArg(validate, sp);
    if (checked == NULL) { /* the reference raises it again, with its own message */
        if (PyErr_ExceptionMatches(PyExc_Exception)) {
            PyErr_Clear();
            out = Py_NewRef(Py_None);
        }
        goto done;
    }
    if (!PyTuple_CheckExact(checked) || PyTuple_GET_SIZE(checked) != 3)
        goto not_common;
    PyObject *plain = PyTuple_GET_ITEM(checked, 0), *job_id = PyTuple_GET_ITEM(checked, 1);
    PyObject *text = PyTuple_GET_ITEM(checked, 2);
    if (!PyUnicode_CheckExact(job_id) || !PyUnicode_CheckExact(want_id) ||
        PyUnicode_Compare(job_id, want_id) != 0 || !PyBytes_CheckExact(text))
        goto not_common;
    /* the archived state point file: absent, or exactly the canonical bytes */
    sp_key = PyUnicode_FromFormat("%U/%U", path, sp_name);
    if (sp_key == NULL)
        goto done;
    PyObject *sp_file = PyDict_GetItemWithError(small, sp_key);
    if (sp_file == NULL && PyErr_Occurred())
        goto done;
    if (sp_file != NULL) {
        if (!PyBytes_CheckExact(sp_file) || PyBytes_GET_SIZE(sp_file) != PyBytes_GET_SIZE(text) ||
            memcmp(PyBytes_AS_STRING(sp_file), PyBytes_AS_STRING(text),
                   (size_t)PyBytes_GET_SIZE(text)) != 0)
            goto not_common;
    }
    /* every manifest file among the job's members, as many members as files: the same set */
    job_files = PyDict_New();
    if (job_files == NULL)
        goto done;
    Py_ssize_t pos = 0;
    PyObject *rel, *info;
    while (PyDict_Next(files, &pos, &rel, &info)) {
        if (!PyUnicode_CheckExact(rel))
            goto not_common;
        PyObject *have = PyDict_GetItemWithError(members, rel);
        if (have == NULL) {
            if (PyErr_Occurred())
                goto done;
            goto not_common; /* missing, or named otherwise in the manifest: the reference says */
        }
        int same = same_file(have, info, file_kind);
        if (same < 0)
            goto done;
        if (!same)
            goto not_common;
        PyObject *pair = PyTuple_GetSlice(have, 1, 3);
        int rc = pair == NULL ? -1 : PyDict_SetItem(job_files, rel, pair);
        Py_XDECREF(pair);
        if (rc < 0)
            goto done;
    }
    links = PyDict_New();
    dirs = PyList_New(0);
    if (links == NULL || dirs == NULL)
        goto done;
    PyObject *args[] = {job_id, plain, path, job_files, links, dirs};
    out = PyObject_Vectorcall(make_job, args, 6, NULL);
    goto done;
not_common:
    out = Py_NewRef(Py_None);
done:
    Py_XDECREF(checked);
    Py_DECREF(files);
    Py_DECREF(want_id);
    Py_DECREF(members);
    Py_XDECREF(sp_key);
    Py_XDECREF(job_files);
    Py_XDECREF(links);
    Py_XDECREF(dirs);
    return out;
}

PyDoc_STRVAR(check_manifest_jobs_doc,
"check_manifest_jobs(entries, paths, grouped, small, validate, start, jobs, make_job,\n"
"                    file_kind, sp_name) -> int\n\n"
"From entries[start] on (the manifest's job entries; paths: their clean paths), append to\n"
"the list jobs make_job(id, statepoint, path, files, {}, []) for each job as\n"
"archive.importer._manifest_job makes it (the reference), while the job is the common case:\n"
"validate(statepoint) (suite.statepoint.validate_owned) gives the manifest's id, the file\n"
"path/sp_name in small is absent or the canonical bytes, and grouped[path] holds exactly\n"
"the manifest's files, each (file_kind, size, sha256) as the manifest says. Returns the\n"
"index of the first job that is not (len(entries) when all were): the reference takes it.\n"
"Raises TypeError for arguments of other types, MemoryError, and what make_job raises.");

static PyObject *
check_manifest_jobs(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *entries, *paths, *grouped, *small, *validate, *jobs, *make_job, *file_kind, *sp_name;
    Py_ssize_t start;
    if (!PyArg_ParseTuple(args, "O!O!O!O!OnO!OUU:check_manifest_jobs", &PyList_Type, &entries,
                          &PyList_Type, &paths, &PyDict_Type, &grouped, &PyDict_Type, &small,
                          &validate, &start, &PyList_Type, &jobs, &make_job, &file_kind,
                          &sp_name))
        return NULL;
    Py_ssize_t i = start < 0 ? 0 : start;
    for (; i < PyList_GET_SIZE(entries) && i < PyList_GET_SIZE(paths); i++) {
        PyObject *entry = PyList_GET_ITEM(entries, i), *path = PyList_GET_ITEM(paths, i);
        Py_INCREF(entry); /* held: validate and make_job run Python code */
        Py_INCREF(path);
        PyObject *job = one_job(entry, path, grouped, small, validate, make_job, file_kind,
                                sp_name);
        Py_DECREF(entry);
        Py_DECREF(path);
        if (job == NULL)
            return NULL;
        if (job == Py_None) {
            Py_DECREF(job);
            break;
        }
        int rc = PyList_Append(jobs, job);
        Py_DECREF(job);
        if (rc < 0)
            return NULL;
    }
    return PyLong_FromSsize_t(i);
}

PyDoc_STRVAR(rename_all_doc,
"rename_all(sources, targets) -> None\n\n"
"os.rename(sources[i], targets[i]) for each i in order (paths as str), without the\n"
"interpreter lock. Reference: archive.importer.rename_all_python. Raises OSError naming\n"
"both paths at the first that fails (those before it are renamed), TypeError or\n"
"ValueError for arguments os.rename refuses (not str, NUL inside, lists of two lengths).");

static PyObject *
rename_all(PyObject *Py_UNUSED(self), PyObject *args)
{
    PyObject *sources, *targets;
    if (!PyArg_ParseTuple(args, "O!O!:rename_all", &PyList_Type, &sources, &PyList_Type,
                          &targets))
        return NULL;
    Py_ssize_t n = PyList_GET_SIZE(sources);
    if (PyList_GET_SIZE(targets) != n) {
        PyErr_SetString(PyExc_ValueError, "rename_all: sources and targets differ in length");
        return NULL;
    }
    /* the paths' bytes, taken first: nothing of Python is touched without the lock */
    PyObject *encoded = PyList_New(2 * n);
    const char **names = PyMem_Malloc((size_t)(2 * n + 1) * sizeof(char *));
    if (encoded == NULL || names == NULL) {
        Py_XDECREF(encoded);
        PyMem_Free(names);
        return PyErr_NoMemory();
    }
    for (Py_ssize_t i = 0; i < 2 * n; i++) {
        PyObject *path = PyList_GET_ITEM(i < n ? sources : targets, i < n ? i : i - n);
        PyObject *bytes = NULL;
        if (!PyUnicode_Check(path)) {
            PyErr_Format(PyExc_TypeError, "rename_all: a path must be a str, not %.100s",
                         Py_TYPE(path)->tp_name);
        }
        else if (PyUnicode_FSConverter(path, &bytes) && bytes != NULL) {
            PyList_SET_ITEM(encoded, i, bytes);
            names[i] = PyBytes_AS_STRING(bytes);
            continue;
        }
        Py_DECREF(encoded);
        PyMem_Free(names);
        return NULL;
    }
    Py_ssize_t done = 0;
    int err = 0;
    Py_BEGIN_ALLOW_THREADS
    for (; done < n; done++)
        if (rename(names[done], names[n + done]) != 0) {
            err = errno;
            break;
        }
    Py_END_ALLOW_THREADS
    PyObject *out = Py_NewRef(Py_None);
    if (done < n) {
        Py_DECREF(out);
        out = NULL;
        errno = err;
        PyErr_SetFromErrnoWithFilenameObjects(PyExc_OSError, PyList_GET_ITEM(sources, done),
                                              PyList_GET_ITEM(targets, done));
    }
    Py_DECREF(encoded);
    PyMem_Free(names);
    return out;
}

static PyMethodDef methods[] = {
    {"check_manifest_jobs", check_manifest_jobs, METH_VARARGS, check_manifest_jobs_doc},
    {"rename_all", rename_all, METH_VARARGS, rename_all_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "archive._importjobs",
    .m_doc = "An import's per-job checks and landing renames in C (optional; see "
             "suite/native.py).",
    .m_size = -1,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__importjobs(void)
{
    if (s_statepoint == NULL &&
        ((s_statepoint = PyUnicode_InternFromString("statepoint")) == NULL ||
         (s_id = PyUnicode_InternFromString("id")) == NULL ||
         (s_files = PyUnicode_InternFromString("files")) == NULL ||
         (s_dirs = PyUnicode_InternFromString("dirs")) == NULL ||
         (s_size = PyUnicode_InternFromString("size")) == NULL ||
         (s_sha256 = PyUnicode_InternFromString("sha256")) == NULL))
        return NULL;
    return PyModule_Create(&module);
}
