/* What both C accelerators (_speedups.c, _deflate_speedups.c) share: the
 * step that adds a type to a module at its exec slot. Included by each, so
 * that the two extensions, built apart, keep one copy of it. */

#ifndef AIRSOCKET_MODULE_TYPES_H
#define AIRSOCKET_MODULE_TYPES_H

#include <Python.h>

/* Make the type of spec and add it to module as name. 0 on success, -1
 * with an exception set. */
static int
add_type(PyObject *module, PyType_Spec *spec, const char *name)
{
    PyObject *type = PyType_FromModuleAndSpec(module, spec, NULL);
    if (type == NULL) {
        return -1;
    }
    if (PyModule_AddObject(module, name, type) < 0) {
        Py_DECREF(type);
        return -1;
    }
    return 0;
}

#endif
