/*
 * Optional C accelerator of airsocket's permessage-deflate (RFC 7692): one
 * zlib call per message each way, where Python's zlib objects take two
 * (compress(), then flush()) and a join of the input with 00 00 ff ff.
 *
 * Deflater.compress() compresses a whole message, flushes it, and returns
 * the output without the 00 00 ff ff that every flush ends with (RFC 7692
 * 7.2.1). Inflater.inflate() inflates one frame's payload and, for the last
 * frame, the 00 00 ff ff the receiver appends (7.2.2), never producing more
 * than a limit. airsocket.protocol.zlib_streams holds the pure-Python
 * versions, which give the same bytes; this module only makes them faster
 * (4 KiB of JSON-like text at level 1, in process: compressing 8.35 ->
 * 7.77 us and inflating 3.70 -> 3.53, where zlib alone takes 7.3 and 3.4).
 *
 * zlib allocates through PyMem_RawMalloc, as Python's zlib module does, so
 * tracemalloc sees it. The GIL is released for inputs of 64 KiB and more;
 * an object in use by another thread meanwhile refuses a second call.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <limits.h>
#include <string.h>
#include <zlib.h>

#include "_module_types.h"

/* Below this many input bytes, releasing and retaking the GIL costs more
 * than it lets other threads gain. */
#define RELEASE_GIL_THRESHOLD (64 * 1024)

/* First output buffer of an inflate: eight times the input (4 KiB of
 * JSON-like text compresses to about a fifth), at least this much, never
 * beyond the limit; one bytes object, shrunk to fit at the end. */
#define INFLATE_MIN_OUTPUT 16384

/* The 4 octets every Z_SYNC_FLUSH / Z_FULL_FLUSH output ends with. */
static const unsigned char TAIL[4] = {0x00, 0x00, 0xff, 0xff};

typedef struct {
    PyObject *error; /* zlib.error, so callers catch one exception for both */
} module_state;

typedef struct {
    PyObject_HEAD
    z_stream zs;
    int busy; /* a call is running with the GIL released */
    int eof;  /* Inflater: a final block was inflated */
} Stream;

static voidpf
raw_alloc(voidpf Py_UNUSED(opaque), uInt items, uInt size)
{
    if (size != 0 && items > (size_t)PY_SSIZE_T_MAX / size) {
        return Z_NULL;
    }
    return PyMem_RawMalloc((size_t)items * size);
}

static void
raw_free(voidpf Py_UNUSED(opaque), voidpf address)
{
    PyMem_RawFree(address);
}

static PyObject *
zlib_error(PyObject *self)
{
    return ((module_state *)PyType_GetModuleState(Py_TYPE(self)))->error;
}

/* Statuses of our own beside zlib's (which are -6 to 2): the output
 * reached its cap; a flush's output did not end with 00 00 ff ff. */
#define AT_CAP 100
#define NO_TAIL 101

/* Set the exception for zlib status err, unless one is set already (a
 * failed allocation of the output). */
static void
fail(PyObject *self, int err, const char *what)
{
    if (PyErr_Occurred()) {
        return;
    }
    if (err == Z_MEM_ERROR) {
        PyErr_NoMemory();
        return;
    }
    if (err == NO_TAIL) {
        PyErr_SetString(zlib_error(self), "the flush did not end with 00 00 ff ff");
        return;
    }
    const char *msg = ((Stream *)self)->zs.msg;
    PyErr_Format(zlib_error(self), "Error %d while %s: %s", err, what,
                 msg != NULL ? msg : "no progress");
}

/* Raw DEFLATE windows zlib accepts both ways (8 is refused to compress);
 * else ValueError. */
static int
valid_wbits(int wbits)
{
    if (wbits < 9 || wbits > 15) {
        PyErr_Format(PyExc_ValueError, "wbits must be 9 to 15, not %d", wbits);
        return 0;
    }
    return 1;
}

/* Set up a new stream object: zlib allocates through Python's raw
 * allocator. The caller initialises zlib. */
static Stream *
new_stream(PyTypeObject *type)
{
    Stream *self = (Stream *)type->tp_alloc(type, 0);
    if (self != NULL) {
        self->zs.zalloc = raw_alloc;
        self->zs.zfree = raw_free;
    }
    return self;
}

static void
dealloc_stream(Stream *self, int (*end)(z_streamp))
{
    PyTypeObject *type = Py_TYPE(self);
    end(&self->zs); /* a no-op when zlib was never initialised */
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

/* Start a call on data: export its buffer and refuse a call that another
 * thread is still running. */
static int
begin(Stream *self, PyObject *data, Py_buffer *view)
{
    if (PyObject_GetBuffer(data, view, PyBUF_SIMPLE) < 0) {
        return -1;
    }
    if (self->busy) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_RuntimeError,
                        "the zlib stream is in use by another thread");
        return -1;
    }
    self->busy = 1;
    return 0;
}

/* End a call: the result is out cut to `used` bytes, or NULL with the
 * exception for zlib status err. */
static PyObject *
finish(Stream *self, Py_buffer *view, int err, PyObject *out, Py_ssize_t used,
       const char *what)
{
    self->busy = 0;
    PyBuffer_Release(view);
    if (err != Z_OK) {
        fail((PyObject *)self, err, what);
        Py_XDECREF(out);
        return NULL;
    }
    if (_PyBytes_Resize(&out, used) < 0) {
        return NULL;
    }
    return out;
}

/* One call of zlib's deflate or inflate with `flush`, writing at *used in
 * *out, which first grows (doubling, to at most cap bytes) when full.
 * Without the GIL when `release` is set: zlib touches only its own state
 * and memory the caller holds, and *out is resized with the GIL held.
 * Returns zlib's status, Z_MEM_ERROR when growing failed, or AT_CAP. */
static int
step(Stream *self, int (*zlib_call)(z_streamp, int), int flush,
     PyObject **out, Py_ssize_t *used, Py_ssize_t cap, int release)
{
    z_stream *zs = &self->zs;
    Py_ssize_t room = PyBytes_GET_SIZE(*out) - *used;
    int err;
    if (room == 0) {
        if (*used >= cap) {
            return AT_CAP;
        }
        Py_ssize_t size = *used > PY_SSIZE_T_MAX / 2 ? PY_SSIZE_T_MAX : *used * 2 + 1;
        if (_PyBytes_Resize(out, size < cap ? size : cap) < 0) {
            return Z_MEM_ERROR;
        }
        room = PyBytes_GET_SIZE(*out) - *used;
    }
    uInt avail = room > (Py_ssize_t)UINT_MAX ? UINT_MAX : (uInt)room;
    zs->next_out = (Bytef *)PyBytes_AS_STRING(*out) + *used;
    zs->avail_out = avail;
    if (release) {
        Py_BEGIN_ALLOW_THREADS
        err = zlib_call(zs, flush);
        Py_END_ALLOW_THREADS
    }
    else {
        err = zlib_call(zs, flush);
    }
    *used += avail - zs->avail_out;
    return err;
}

/* ------------------------------------------------------------------ */

static PyObject *
Deflater_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"level", "wbits", "memlevel", NULL};
    int level, wbits, memlevel;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "iii:Deflater", keywords,
                                     &level, &wbits, &memlevel)) {
        return NULL;
    }
    if (!valid_wbits(wbits)) {
        return NULL;
    }
    Stream *self = new_stream(type);
    if (self == NULL) {
        return NULL;
    }
    /* Negative window bits: raw DEFLATE, no zlib header (RFC 7692 7.2.1). */
    int err = deflateInit2(&self->zs, level, Z_DEFLATED, -wbits, memlevel,
                           Z_DEFAULT_STRATEGY);
    if (err != Z_OK) {
        if (err == Z_MEM_ERROR) {
            PyErr_NoMemory();
        }
        else {
            PyErr_Format(PyExc_ValueError,
                         "invalid level %d or memlevel %d", level, memlevel);
        }
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void
Deflater_dealloc(Stream *self)
{
    dealloc_stream(self, deflateEnd);
}

/* Compress n bytes of data, then flush with `flush`, appending to *out from
 * *used on. Returns the zlib status. */
static int
deflate_all(Stream *self, const unsigned char *data, Py_ssize_t n, int flush,
            PyObject **out, Py_ssize_t *used, int release)
{
    z_stream *zs = &self->zs;
    int err;
    if (n == 0) {
        /* zlib skips a flush that follows a flush with no input in between
         * (Z_BUF_ERROR, no output), and an empty payload is no valid
         * compressed message: the peer's 00 00 ff ff alone opens a stored
         * block it never closes. A call without flush in between makes the
         * flush write its empty stored block, as Python's compress(b"")
         * then flush() does. */
        zs->next_in = (Bytef *)TAIL;
        zs->avail_in = 0;
        step(self, deflate, Z_NO_FLUSH, out, used, PY_SSIZE_T_MAX, 0);
    }
    for (;;) {
        uInt chunk = n > (Py_ssize_t)UINT_MAX ? UINT_MAX : (uInt)n;
        int last = chunk == n;
        zs->next_in = (Bytef *)data;
        zs->avail_in = chunk;
        do {
            err = step(self, deflate, last ? flush : Z_NO_FLUSH, out, used,
                       PY_SSIZE_T_MAX, release);
            if (err != Z_OK && err != Z_BUF_ERROR) {
                return err;
            }
            if (err == Z_BUF_ERROR && zs->avail_in != 0 && zs->avail_out != 0) {
                return err; /* no progress with input and room: never loop */
            }
            /* Done with this chunk when all input went in and zlib left
             * output room unused (a flush is complete only then). */
        } while (zs->avail_in != 0 || zs->avail_out == 0);
        if (last) {
            return Z_OK;
        }
        data += chunk;
        n -= chunk;
    }
}

PyDoc_STRVAR(Deflater_compress_doc,
"compress(data, full_flush, /)\n"
"--\n"
"\n"
"Compress a whole message and flush: Z_FULL_FLUSH when full_flush is true\n"
"(the next message starts with an empty window), Z_SYNC_FLUSH otherwise.\n"
"Return the output without the 00 00 ff ff that the flush ends with\n"
"(RFC 7692 7.2.1): at least one octet, an empty message included.");

static PyObject *
Deflater_compress(Stream *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError,
                     "compress() takes 2 arguments (%zd given)", nargs);
        return NULL;
    }
    int full = PyObject_IsTrue(args[1]);
    if (full < 0 || begin(self, args[0], &view) < 0) {
        return NULL;
    }
    /* deflateBound covers a whole stream from scratch; the flush adds an
     * empty stored block (5 octets) and up to a byte of pending bits. */
    uLong bound = deflateBound(&self->zs, (uLong)view.len) + 16;
    PyObject *out = PyBytes_FromStringAndSize(
        NULL, bound > (uLong)PY_SSIZE_T_MAX ? PY_SSIZE_T_MAX : (Py_ssize_t)bound);
    Py_ssize_t used = 0;
    int err = Z_MEM_ERROR;
    if (out != NULL) {
        err = deflate_all(self, view.buf, view.len,
                          full ? Z_FULL_FLUSH : Z_SYNC_FLUSH, &out, &used,
                          view.len >= RELEASE_GIL_THRESHOLD);
    }
    if (err == Z_OK) {
        if (used < 4 || memcmp(PyBytes_AS_STRING(out) + used - 4, TAIL, 4) != 0) {
            err = NO_TAIL;
        }
        used -= 4;
    }
    return finish(self, &view, err, out, used, "compressing data");
}

static PyMethodDef Deflater_methods[] = {
    {"compress", (PyCFunction)(void (*)(void))Deflater_compress, METH_FASTCALL,
     Deflater_compress_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(Deflater_doc,
"Deflater(level, wbits, memlevel)\n"
"--\n"
"\n"
"A raw DEFLATE compressor (window of 2**wbits, wbits 9 to 15) whose\n"
"compress() takes one whole message.");

static PyType_Slot Deflater_slots[] = {
    {Py_tp_new, Deflater_new},
    {Py_tp_dealloc, Deflater_dealloc},
    {Py_tp_methods, Deflater_methods},
    {Py_tp_doc, (void *)Deflater_doc},
    {0, NULL},
};

static PyType_Spec Deflater_spec = {
    .name = "airsocket._deflate_speedups.Deflater",
    .basicsize = sizeof(Stream),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = Deflater_slots,
};

/* ------------------------------------------------------------------ */

static PyObject *
Inflater_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *keywords[] = {"wbits", NULL};
    int wbits;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "i:Inflater", keywords, &wbits)) {
        return NULL;
    }
    if (!valid_wbits(wbits)) {
        return NULL;
    }
    Stream *self = new_stream(type);
    if (self == NULL) {
        return NULL;
    }
    if (inflateInit2(&self->zs, -wbits) != Z_OK) {
        PyErr_NoMemory(); /* the window bits were checked above */
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

static void
Inflater_dealloc(Stream *self)
{
    dealloc_stream(self, inflateEnd);
}

/* Inflate n bytes of input, appending to *out from *used on, until the
 * input is used up, the stream ends (self->eof) or *used reaches limit.
 * Returns the zlib status (Z_OK for all three). */
static int
inflate_all(Stream *self, const unsigned char *data, Py_ssize_t n,
            PyObject **out, Py_ssize_t *used, Py_ssize_t limit, int release)
{
    z_stream *zs = &self->zs;
    while (n > 0) {
        uInt chunk = n > (Py_ssize_t)UINT_MAX ? UINT_MAX : (uInt)n;
        zs->next_in = (Bytef *)data;
        zs->avail_in = chunk;
        for (;;) {
            int err = step(self, inflate, Z_SYNC_FLUSH, out, used, limit, release);
            if (err == AT_CAP) {
                return Z_OK; /* the caller reports the message too big */
            }
            if (err == Z_STREAM_END) {
                /* A final block: what follows is padding (RFC 7692
                 * 7.2.3.4), skipped like the rest of this call's input. */
                self->eof = 1;
                return Z_OK;
            }
            if (err != Z_OK && err != Z_BUF_ERROR) {
                return err;
            }
            /* zlib leaves output room unused only when it needs input. */
            if (zs->avail_out != 0) {
                if (zs->avail_in != 0) {
                    return Z_BUF_ERROR; /* no progress: never loop */
                }
                break;
            }
        }
        data += chunk;
        n -= chunk;
    }
    return Z_OK;
}

PyDoc_STRVAR(Inflater_inflate_doc,
"inflate(data, fin, limit, /)\n"
"--\n"
"\n"
"Inflate one frame's payload of a compressed message, then 00 00 ff ff when\n"
"fin is true (RFC 7692 7.2.2). Return at most limit bytes (limit >= 1):\n"
"reaching it means there may be more. After a final block (eof), input is\n"
"skipped and b\"\" returned.");

static PyObject *
Inflater_inflate(Stream *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError,
                     "inflate() takes 3 arguments (%zd given)", nargs);
        return NULL;
    }
    int fin = PyObject_IsTrue(args[1]);
    if (fin < 0) {
        return NULL;
    }
    Py_ssize_t limit = PyLong_AsSsize_t(args[2]);
    if (limit == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (limit < 1) {
        PyErr_SetString(PyExc_ValueError, "limit must be at least 1");
        return NULL;
    }
    if (self->eof) {
        return PyBytes_FromStringAndSize(NULL, 0);
    }
    if (begin(self, args[0], &view) < 0) {
        return NULL;
    }
    Py_ssize_t first = view.len > PY_SSIZE_T_MAX / 8 ? PY_SSIZE_T_MAX : view.len * 8;
    if (first < INFLATE_MIN_OUTPUT) {
        first = INFLATE_MIN_OUTPUT;
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, first < limit ? first : limit);
    Py_ssize_t used = 0;
    int err = Z_MEM_ERROR;
    if (out != NULL) {
        int release = view.len >= RELEASE_GIL_THRESHOLD;
        err = inflate_all(self, view.buf, view.len, &out, &used, limit, release);
        if (err == Z_OK && fin && !self->eof && used < limit) {
            err = inflate_all(self, TAIL, 4, &out, &used, limit, 0);
        }
    }
    return finish(self, &view, err, out, used, "decompressing data");
}

static PyObject *
Inflater_get_eof(Stream *self, void *Py_UNUSED(closure))
{
    return PyBool_FromLong(self->eof);
}

static PyMethodDef Inflater_methods[] = {
    {"inflate", (PyCFunction)(void (*)(void))Inflater_inflate, METH_FASTCALL,
     Inflater_inflate_doc},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef Inflater_getset[] = {
    {"eof", (getter)Inflater_get_eof, NULL,
     "True once a final (BFINAL) block was inflated.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(Inflater_doc,
"Inflater(wbits)\n"
"--\n"
"\n"
"A raw DEFLATE decompressor (window of 2**wbits, wbits 9 to 15) fed frame\n"
"by frame through inflate().");

static PyType_Slot Inflater_slots[] = {
    {Py_tp_new, Inflater_new},
    {Py_tp_dealloc, Inflater_dealloc},
    {Py_tp_methods, Inflater_methods},
    {Py_tp_getset, Inflater_getset},
    {Py_tp_doc, (void *)Inflater_doc},
    {0, NULL},
};

static PyType_Spec Inflater_spec = {
    .name = "airsocket._deflate_speedups.Inflater",
    .basicsize = sizeof(Stream),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = Inflater_slots,
};

/* ------------------------------------------------------------------ */

static int
deflate_speedups_exec(PyObject *module)
{
    module_state *state = PyModule_GetState(module);
    PyObject *zlib = PyImport_ImportModule("zlib");
    if (zlib == NULL) {
        return -1;
    }
    state->error = PyObject_GetAttrString(zlib, "error");
    Py_DECREF(zlib);
    if (state->error == NULL) {
        return -1;
    }
    if (add_type(module, &Deflater_spec, "Deflater") < 0
        || add_type(module, &Inflater_spec, "Inflater") < 0) {
        return -1;
    }
    return 0;
}

static int
deflate_speedups_traverse(PyObject *module, visitproc visit, void *arg)
{
    Py_VISIT(((module_state *)PyModule_GetState(module))->error);
    return 0;
}

static int
deflate_speedups_clear(PyObject *module)
{
    Py_CLEAR(((module_state *)PyModule_GetState(module))->error);
    return 0;
}

static void
deflate_speedups_free(void *module)
{
    deflate_speedups_clear((PyObject *)module);
}

PyDoc_STRVAR(deflate_speedups_doc,
"Optional C accelerator of airsocket's permessage-deflate: a message\n"
"compressed or a frame inflated in one zlib call.\n"
"\n"
"Import airsocket.protocol.zlib_streams instead of this module: it picks\n"
"these types when they are available and not disabled with the environment\n"
"variable AIRSOCKET_NO_SPEEDUPS, and the pure-Python ones otherwise.");

static PyModuleDef_Slot deflate_speedups_slots[] = {
    {Py_mod_exec, deflate_speedups_exec},
    {0, NULL},
};

static struct PyModuleDef deflate_speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "airsocket._deflate_speedups",
    .m_doc = deflate_speedups_doc,
    .m_size = sizeof(module_state),
    .m_traverse = deflate_speedups_traverse,
    .m_clear = deflate_speedups_clear,
    .m_free = deflate_speedups_free,
    .m_slots = deflate_speedups_slots,
};

PyMODINIT_FUNC
PyInit__deflate_speedups(void)
{
    return PyModuleDef_Init(&deflate_speedups_module);
}
