/*
 * Optional C accelerator of airsocket: WebSocket payload masking.
 *
 * RFC 6455 section 5.3: byte i of a masked payload is XORed with byte i % 4
 * of the 4-byte masking key. Masking and unmasking are the same operation.
 *
 * The pure-Python fallback in airsocket.protocol.masking gives the same
 * results; this module only makes them faster. The XOR runs over 64-bit
 * words (the 4-byte key repeated twice), loaded and stored with memcpy so
 * it is safe at any alignment; GCC and Clang turn that loop into SIMD code.
 * The GIL is released for large inputs.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

/* Below this many bytes, releasing and retaking the GIL costs more than it
 * lets other threads gain. */
#define RELEASE_GIL_THRESHOLD (64 * 1024)

/* XOR n bytes of src with the key into dst. dst may equal src (in place);
 * other overlap is not allowed. key[0] applies to src[0]. */
static void
mask_bytes(const unsigned char *src, unsigned char *dst, Py_ssize_t n,
           const unsigned char key[4])
{
    unsigned char k8[8];
    uint64_t kw, w;
    Py_ssize_t i = 0;

    /* Head: bytes up to an 8-byte boundary of dst, so the word stores are
     * aligned (loads from src may not be; memcpy copes). */
    while (i < n && ((uintptr_t)(dst + i) & 7u) != 0) {
        dst[i] = src[i] ^ key[i & 3];
        i++;
    }

    /* The key as it lines up from position i on, twice over; built in
     * memory order, so it is right on either endianness. */
    for (int j = 0; j < 8; j++) {
        k8[j] = key[(i + j) & 3];
    }
    memcpy(&kw, k8, 8);

    for (; i + 8 <= n; i += 8) {
        memcpy(&w, src + i, 8);
        w ^= kw;
        memcpy(dst + i, &w, 8);
    }

    /* Tail: fewer than 8 bytes left. */
    for (; i < n; i++) {
        dst[i] = src[i] ^ key[i & 3];
    }
}

static void
mask_maybe_nogil(const unsigned char *src, unsigned char *dst, Py_ssize_t n,
                 const unsigned char key[4])
{
    if (n >= RELEASE_GIL_THRESHOLD) {
        Py_BEGIN_ALLOW_THREADS
        mask_bytes(src, dst, n, key);
        Py_END_ALLOW_THREADS
    }
    else {
        mask_bytes(src, dst, n, key);
    }
}

/* Copy the 4-byte key out of any bytes-like object. 0 on success. */
static int
get_key(PyObject *obj, unsigned char key[4])
{
    Py_buffer view;

    if (PyBytes_CheckExact(obj)) {
        if (PyBytes_GET_SIZE(obj) != 4) {
            PyErr_Format(PyExc_ValueError,
                         "mask must be 4 bytes long, got %zd",
                         PyBytes_GET_SIZE(obj));
            return -1;
        }
        memcpy(key, PyBytes_AS_STRING(obj), 4);
        return 0;
    }
    if (PyObject_GetBuffer(obj, &view, PyBUF_SIMPLE) < 0) {
        return -1;
    }
    if (view.len != 4) {
        PyErr_Format(PyExc_ValueError, "mask must be 4 bytes long, got %zd",
                     view.len);
        PyBuffer_Release(&view);
        return -1;
    }
    memcpy(key, view.buf, 4);
    PyBuffer_Release(&view);
    return 0;
}

PyDoc_STRVAR(apply_mask_doc,
"apply_mask(data, mask, /)\n"
"--\n"
"\n"
"Return data XORed with the 4-byte masking key (RFC 6455 section 5.3).\n"
"\n"
"data is any C-contiguous bytes-like object (bytes, bytearray,\n"
"memoryview); the result is a new bytes object of the same length.\n"
"Raises ValueError unless mask is exactly 4 bytes long.");

static PyObject *
apply_mask(PyObject *Py_UNUSED(module), PyObject *const *args,
           Py_ssize_t nargs)
{
    unsigned char key[4];
    Py_buffer view;
    PyObject *result;

    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError,
                     "apply_mask() takes exactly 2 arguments (%zd given)",
                     nargs);
        return NULL;
    }
    if (get_key(args[1], key) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &view, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    /* One allocation; the XOR writes straight into the new object. */
    result = PyBytes_FromStringAndSize(NULL, view.len);
    if (result != NULL) {
        mask_maybe_nogil((const unsigned char *)view.buf,
                         (unsigned char *)PyBytes_AS_STRING(result),
                         view.len, key);
    }
    PyBuffer_Release(&view);
    return result;
}

PyDoc_STRVAR(apply_mask_into_doc,
"apply_mask_into(data, mask, out, offset=0, /)\n"
"--\n"
"\n"
"Write data XORed with the 4-byte masking key into out[offset:].\n"
"\n"
"out is a writable C-contiguous buffer (bytearray, writable memoryview)\n"
"with room for len(data) bytes from offset; this lets a receiver unmask\n"
"straight into a reused buffer. out may be the very memory data is read\n"
"from (unmasking in place); any overlap is allowed, data is read as if\n"
"in full before out is written. out is never resized.\n"
"Raises ValueError on a bad mask length, a negative offset or too little\n"
"room, TypeError if out is read-only.");

static PyObject *
apply_mask_into(PyObject *Py_UNUSED(module), PyObject *const *args,
                Py_ssize_t nargs)
{
    unsigned char key[4];
    Py_buffer in, out;
    Py_ssize_t offset = 0;
    const unsigned char *src;
    unsigned char *dst;

    if (nargs < 3 || nargs > 4) {
        PyErr_Format(PyExc_TypeError,
                     "apply_mask_into() takes 3 or 4 arguments (%zd given)",
                     nargs);
        return NULL;
    }
    if (nargs == 4) {
        offset = PyNumber_AsSsize_t(args[3], PyExc_OverflowError);
        if (offset == -1 && PyErr_Occurred()) {
            return NULL;
        }
        if (offset < 0) {
            PyErr_SetString(PyExc_ValueError, "offset must not be negative");
            return NULL;
        }
    }
    if (get_key(args[1], key) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[0], &in, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[2], &out, PyBUF_WRITABLE) < 0) {
        PyBuffer_Release(&in);
        if (PyErr_ExceptionMatches(PyExc_BufferError)) {
            PyErr_SetString(PyExc_TypeError,
                            "out must be a writable bytes-like object");
        }
        return NULL;
    }
    if (offset > out.len || in.len > out.len - offset) {
        PyErr_Format(PyExc_ValueError,
                     "out has room for %zd bytes at offset %zd, need %zd",
                     offset > out.len ? (Py_ssize_t)0 : out.len - offset,
                     offset, in.len);
        goto error;
    }
    src = (const unsigned char *)in.buf;
    dst = (unsigned char *)out.buf + offset;
    if (src != dst && in.len > 0 &&
        (uintptr_t)src < (uintptr_t)(dst + in.len) &&
        (uintptr_t)dst < (uintptr_t)(src + in.len)) {
        /* Partial overlap: mask into a temporary first, so the result is
         * as if data were read in full before out is written. Rare. */
        unsigned char *tmp = PyMem_Malloc((size_t)in.len);
        if (tmp == NULL) {
            PyErr_NoMemory();
            goto error;
        }
        mask_maybe_nogil(src, tmp, in.len, key);
        memcpy(dst, tmp, (size_t)in.len);
        PyMem_Free(tmp);
    }
    else {
        mask_maybe_nogil(src, dst, in.len, key);
    }
    PyBuffer_Release(&out);
    PyBuffer_Release(&in);
    Py_RETURN_NONE;

error:
    PyBuffer_Release(&out);
    PyBuffer_Release(&in);
    return NULL;
}

/* ---------------------------------------------------------------------
 * PayloadBuffer: a bytes object filled in place, then handed over.
 *
 * A large payload arrives over many reads. Unmasking each read into a
 * fresh temporary and joining them at the end costs two extra passes and
 * a fresh megabyte per message; here every read is unmasked straight into
 * the bytes object that becomes the message. The object is never visible
 * to Python before take(), so writing into it breaks no one's view of an
 * immutable bytes.
 */

typedef struct {
    PyObject_HEAD
    PyObject *bytes; /* the message under construction; NULL after take() */
} PayloadBuffer;

static PyObject *
PayloadBuffer_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    Py_ssize_t size;
    static char *kwlist[] = {"size", NULL};
    PayloadBuffer *self;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "n", kwlist, &size)) {
        return NULL;
    }
    if (size < 0) {
        PyErr_SetString(PyExc_ValueError, "size must not be negative");
        return NULL;
    }
    self = (PayloadBuffer *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->bytes = PyBytes_FromStringAndSize(NULL, size);
    if (self->bytes == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void
PayloadBuffer_dealloc(PayloadBuffer *self)
{
    PyTypeObject *type = Py_TYPE(self);
    Py_CLEAR(self->bytes);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

PyDoc_STRVAR(PayloadBuffer_write_doc,
"write(offset, data, mask=None, /)\n"
"--\n"
"\n"
"Copy data to offset, XORed with the 4-byte mask when one is given\n"
"(mask[0] applies to data[0]). Raises ValueError when it does not fit.");

static PyObject *
PayloadBuffer_write(PayloadBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset, size;
    unsigned char key[4];
    Py_buffer in;
    unsigned char *dst;

    if (nargs < 2 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "write() takes 2 or 3 arguments");
        return NULL;
    }
    if (self->bytes == NULL) {
        PyErr_SetString(PyExc_ValueError, "the payload was already taken");
        return NULL;
    }
    offset = PyNumber_AsSsize_t(args[0], PyExc_OverflowError);
    if (offset == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (nargs == 3 && args[2] != Py_None && get_key(args[2], key) < 0) {
        return NULL;
    }
    if (PyObject_GetBuffer(args[1], &in, PyBUF_SIMPLE) < 0) {
        return NULL;
    }
    size = PyBytes_GET_SIZE(self->bytes);
    if (offset < 0 || offset > size || in.len > size - offset) {
        PyBuffer_Release(&in);
        PyErr_SetString(PyExc_ValueError, "write past the end of the payload");
        return NULL;
    }
    dst = (unsigned char *)PyBytes_AS_STRING(self->bytes) + offset;
    if (nargs == 3 && args[2] != Py_None) {
        mask_maybe_nogil((const unsigned char *)in.buf, dst, in.len, key);
    }
    else {
        memcpy(dst, in.buf, (size_t)in.len);
    }
    PyBuffer_Release(&in);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(PayloadBuffer_take_doc,
"take()\n"
"--\n"
"\n"
"Return the bytes object and let go of it; write() fails afterwards.");

static PyObject *
PayloadBuffer_take(PayloadBuffer *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *result = self->bytes;
    if (result == NULL) {
        PyErr_SetString(PyExc_ValueError, "the payload was already taken");
        return NULL;
    }
    self->bytes = NULL;
    return result;
}

static PyMethodDef PayloadBuffer_methods[] = {
    {"write", (PyCFunction)(void (*)(void))PayloadBuffer_write, METH_FASTCALL,
     PayloadBuffer_write_doc},
    {"take", (PyCFunction)PayloadBuffer_take, METH_NOARGS, PayloadBuffer_take_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(PayloadBuffer_doc,
"PayloadBuffer(size)\n"
"--\n"
"\n"
"A payload of known size, filled by write() and handed over by take().");

static PyType_Slot PayloadBuffer_slots[] = {
    {Py_tp_new, PayloadBuffer_new},
    {Py_tp_dealloc, PayloadBuffer_dealloc},
    {Py_tp_methods, PayloadBuffer_methods},
    {Py_tp_doc, (void *)PayloadBuffer_doc},
    {0, NULL},
};

static PyType_Spec PayloadBuffer_spec = {
    .name = "airsocket._speedups.PayloadBuffer",
    .basicsize = sizeof(PayloadBuffer),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = PayloadBuffer_slots,
};

static int
speedups_exec(PyObject *module)
{
    PyObject *type = PyType_FromModuleAndSpec(module, &PayloadBuffer_spec, NULL);
    if (type == NULL) {
        return -1;
    }
    if (PyModule_AddObject(module, "PayloadBuffer", type) < 0) {
        Py_DECREF(type);
        return -1;
    }
    return 0;
}

static PyMethodDef speedups_methods[] = {
    {"apply_mask", (PyCFunction)(void (*)(void))apply_mask, METH_FASTCALL,
     apply_mask_doc},
    {"apply_mask_into", (PyCFunction)(void (*)(void))apply_mask_into,
     METH_FASTCALL, apply_mask_into_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(speedups_doc,
"Optional C accelerator of airsocket: WebSocket payload masking.\n"
"\n"
"Import airsocket.protocol.masking instead of this module: it picks these\n"
"functions when they are available and not disabled with the environment\n"
"variable AIRSOCKET_NO_SPEEDUPS, and the pure-Python ones otherwise.");

static PyModuleDef_Slot speedups_slots[] = {
    {Py_mod_exec, speedups_exec},
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
#if PY_VERSION_HEX >= 0x030D0000
    {Py_mod_gil, Py_MOD_GIL_NOT_USED},
#endif
    {0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "airsocket._speedups",
    .m_doc = speedups_doc,
    .m_size = 0,
    .m_methods = speedups_methods,
    .m_slots = speedups_slots,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
