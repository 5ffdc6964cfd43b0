/*
 * Optional C accelerator of airsocket: WebSocket payload masking, and the
 * small-message hot path of the frame layer.
 *
 * RFC 6455 section 5.3: byte i of a masked payload is XORed with byte i % 4
 * of the 4-byte masking key. Masking and unmasking are the same operation.
 *
 * The pure-Python fallback in airsocket.protocol.masking gives the same
 * results; this module only makes them faster. The XOR runs over 64-bit
 * words (the 4-byte key repeated twice), loaded and stored with memcpy so
 * it is safe at any alignment; GCC and Clang turn that loop into SIMD code.
 * The GIL is released for large inputs.
 *
 * scan_frames() and frame() parse and build whole frames (RFC 6455
 * section 5.2); the pure-Python receive loop and frames.serialize_frame()
 * stay the reference and handle everything else. split_head() (at the end)
 * splits a valid HTTP head for airsocket.protocol.http, and parse_upgrade()
 * splits and checks the usual upgrade request for
 * airsocket.protocol.handshake; their Python paths stay the reference and
 * handle every head these refuse. serialize_fields() writes header lines,
 * and accept_key() computes Sec-WebSocket-Accept, for the same modules.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#include "_module_types.h"

/* Below this many bytes, releasing and retaking the GIL costs more than it
 * lets other threads gain. */
#define RELEASE_GIL_THRESHOLD (64 * 1024)

/* XOR n bytes of src with the key into dst. dst may equal src (in place);
 * other overlap is not allowed. key[0] applies to src[0]. Inlined into
 * mask_bytes and into each clone of mask_wide, which the compiler
 * vectorizes for its own instruction set. */
static inline __attribute__((always_inline)) void
mask_loop(const unsigned char *src, unsigned char *dst, Py_ssize_t n,
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

/* On x86-64 with GCC 11 or later, the same loop is also built for AVX2 and
 * AVX-512 and the widest the CPU has is chosen once, at load time (an
 * ifunc). In place on 1 MiB: 28 -> 68 GB/s with AVX-512 (37 -> 15 us);
 * bench "large1m". The dispatch costs a few ns a call, so small payloads
 * keep the inlined baseline loop. */
#if defined(__x86_64__) && defined(__linux__) && defined(__GNUC__) \
    && !defined(__clang__) && __GNUC__ >= 11
#define MASK_WIDE_MIN 512
__attribute__((target_clones("arch=x86-64-v4", "avx2", "default")))
static void
mask_wide(const unsigned char *src, unsigned char *dst, Py_ssize_t n,
          const unsigned char key[4])
{
    mask_loop(src, dst, n, key);
}
#endif

static void
mask_bytes(const unsigned char *src, unsigned char *dst, Py_ssize_t n,
           const unsigned char key[4])
{
#ifdef MASK_WIDE_MIN
    if (n >= MASK_WIDE_MIN) {
        mask_wide(src, dst, n, key);
        return;
    }
#endif
    mask_loop(src, dst, n, key);
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
 *
 * The buffer protocol exports the payload, writable, so that a transport
 * reads straight into it (recv_into) and unmask() then works in place:
 * no read lands in a temporary at all. take() hands over a copy if a view
 * is still held, so a bytes object given away is never written again.
 */

typedef struct {
    PyObject_HEAD
    PyObject *bytes;      /* the message under construction */
    Py_ssize_t exports;   /* views of it still held */
    int taken;            /* take() was called: no more writes */
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

/* The offset argument of write() and unmask(), once the payload is
 * known not to be taken yet. 0 on success, -1 with an exception set. */
static int
payload_offset(PayloadBuffer *self, PyObject *arg, Py_ssize_t *offset)
{
    if (self->taken) {
        PyErr_SetString(PyExc_ValueError, "the payload was already taken");
        return -1;
    }
    *offset = PyNumber_AsSsize_t(arg, PyExc_OverflowError);
    if (*offset == -1 && PyErr_Occurred()) {
        return -1;
    }
    return 0;
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
    if (payload_offset(self, args[0], &offset) < 0) {
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

PyDoc_STRVAR(PayloadBuffer_unmask_doc,
"unmask(offset, length, mask, /)\n"
"--\n"
"\n"
"XOR payload[offset:offset + length] in place with the 4-byte mask\n"
"(mask[0] applies to payload[offset]), after a read straight into it.\n"
"Raises ValueError when the range is not inside the payload.");

static PyObject *
PayloadBuffer_unmask(PayloadBuffer *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t offset, length;
    unsigned char key[4];
    unsigned char *at;

    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "unmask() takes exactly 3 arguments");
        return NULL;
    }
    if (payload_offset(self, args[0], &offset) < 0) {
        return NULL;
    }
    length = PyNumber_AsSsize_t(args[1], PyExc_OverflowError);
    if (length == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (get_key(args[2], key) < 0) {
        return NULL;
    }
    if (offset < 0 || length < 0 || offset > PyBytes_GET_SIZE(self->bytes)
        || length > PyBytes_GET_SIZE(self->bytes) - offset) {
        PyErr_SetString(PyExc_ValueError, "unmask past the end of the payload");
        return NULL;
    }
    at = (unsigned char *)PyBytes_AS_STRING(self->bytes) + offset;
    mask_maybe_nogil(at, at, length, key);
    Py_RETURN_NONE;
}

PyDoc_STRVAR(PayloadBuffer_take_doc,
"take()\n"
"--\n"
"\n"
"Return the payload as bytes; write() and unmask() fail afterwards.\n"
"It is the very object that was filled, or a copy while a view of it is\n"
"still held.");

static PyObject *
PayloadBuffer_take(PayloadBuffer *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *result = self->bytes;
    if (self->taken) {
        PyErr_SetString(PyExc_ValueError, "the payload was already taken");
        return NULL;
    }
    if (self->exports > 0) {
        /* Someone may still write through a view: hand over a copy. */
        result = PyBytes_FromStringAndSize(PyBytes_AS_STRING(result),
                                           PyBytes_GET_SIZE(result));
        if (result == NULL) {
            return NULL;
        }
        self->taken = 1;
        return result;
    }
    self->taken = 1;
    self->bytes = NULL;
    return result;
}

PyDoc_STRVAR(PayloadBuffer_view_doc,
"view()\n"
"--\n"
"\n"
"Return a writable memoryview of the whole payload, to read into.");

static PyObject *
PayloadBuffer_view(PayloadBuffer *self, PyObject *Py_UNUSED(ignored))
{
    return PyMemoryView_FromObject((PyObject *)self);
}

static int
PayloadBuffer_getbuffer(PayloadBuffer *self, Py_buffer *view, int flags)
{
    if (self->taken) {
        PyErr_SetString(PyExc_BufferError, "the payload was already taken");
        view->obj = NULL;
        return -1;
    }
    if (PyBuffer_FillInfo(view, (PyObject *)self, PyBytes_AS_STRING(self->bytes),
                          PyBytes_GET_SIZE(self->bytes), 0, flags) < 0) {
        return -1;
    }
    self->exports++;
    return 0;
}

static void
PayloadBuffer_releasebuffer(PayloadBuffer *self, Py_buffer *Py_UNUSED(view))
{
    self->exports--;
}

static PyMethodDef PayloadBuffer_methods[] = {
    {"write", (PyCFunction)(void (*)(void))PayloadBuffer_write, METH_FASTCALL,
     PayloadBuffer_write_doc},
    {"unmask", (PyCFunction)(void (*)(void))PayloadBuffer_unmask, METH_FASTCALL,
     PayloadBuffer_unmask_doc},
    {"view", (PyCFunction)PayloadBuffer_view, METH_NOARGS, PayloadBuffer_view_doc},
    {"take", (PyCFunction)PayloadBuffer_take, METH_NOARGS, PayloadBuffer_take_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(PayloadBuffer_doc,
"PayloadBuffer(size)\n"
"--\n"
"\n"
"A payload of known size, filled by write() (or read into through the\n"
"buffer protocol, then unmask()) and handed over by take().");

static PyType_Slot PayloadBuffer_slots[] = {
    {Py_tp_new, PayloadBuffer_new},
    {Py_tp_dealloc, PayloadBuffer_dealloc},
    {Py_tp_methods, PayloadBuffer_methods},
    {Py_tp_doc, (void *)PayloadBuffer_doc},
    {Py_bf_getbuffer, PayloadBuffer_getbuffer},
    {Py_bf_releasebuffer, PayloadBuffer_releasebuffer},
    {0, NULL},
};

static PyType_Spec PayloadBuffer_spec = {
    .name = "airsocket._speedups.PayloadBuffer",
    .basicsize = sizeof(PayloadBuffer),
    .flags = Py_TPFLAGS_DEFAULT,
    .slots = PayloadBuffer_slots,
};

/* ---------------------------------------------------------------------
 * Whole frames: scan_frames() for the receiver, frame() for the sender.
 *
 * A small message costs the pure-Python receive loop about 1 us, nearly
 * all of it interpreter overhead around a few byte operations. Most
 * traffic is made of frames with nothing unusual about them (one whole,
 * uncompressed text or binary message per frame), and those are parsed
 * here in a batch; scan_frames() stops at the first frame it does not
 * handle and hands the position back, so the Python loop keeps every rule
 * and every error message of RFC 6455.
 */

#define HIGH_BITS UINT64_C(0x8080808080808080)

/* Whether the n bytes at src, XORed with the key (key[0] on src[0]), are
 * all ASCII. Reads only; an all-zero key checks plain bytes. */
static int
masked_is_ascii(const unsigned char *src, Py_ssize_t n,
                const unsigned char key[4])
{
    unsigned char k8[8];
    uint64_t kw, w, acc = 0;
    Py_ssize_t i = 0;

    for (int j = 0; j < 8; j++) {
        k8[j] = key[j & 3];
    }
    memcpy(&kw, k8, 8);
    /* 64-byte blocks, so non-ASCII text is rejected early. */
    for (; i + 64 <= n; i += 64) {
        for (int j = 0; j < 64; j += 8) {
            memcpy(&w, src + i + j, 8);
            acc |= w ^ kw;
        }
        if (acc & HIGH_BITS) {
            return 0;
        }
    }
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, src + i, 8);
        acc |= w ^ kw;
    }
    if (acc & HIGH_BITS) {
        return 0;
    }
    for (; i < n; i++) {
        if ((src[i] ^ key[i & 3]) & 0x80) {
            return 0;
        }
    }
    return 1;
}

/* Bytes of masked non-ASCII text unmasked on the stack before decoding. */
#define TEXT_STACK_SIZE 1024

/* Decode n bytes at src, unmasked with key unless key is NULL, as strict
 * UTF-8 (exactly bytes.decode()). NULL with an exception on failure;
 * UnicodeDecodeError for invalid UTF-8. */
static PyObject *
decode_text(const unsigned char *src, Py_ssize_t n, const unsigned char *key)
{
    static const unsigned char no_key[4] = {0, 0, 0, 0};
    unsigned char stack[TEXT_STACK_SIZE];
    unsigned char *tmp;
    PyObject *text;

    if (n > 0 && masked_is_ascii(src, n, key != NULL ? key : no_key)) {
        /* The common case: one allocation, one copying pass into it.
         * Checking first, then copying, beats PyUnicode_DecodeUTF8 on
         * ASCII: 51 against 58 ns per 64-byte frame, 115 against 137 at
         * 1000 bytes (masked: 165 against 185 for unmasking into a
         * temporary, then decoding). */
        text = PyUnicode_New(n, 127);
        if (text != NULL) {
            if (key != NULL) {
                mask_bytes(src, PyUnicode_1BYTE_DATA(text), n, key);
            }
            else {
                memcpy(PyUnicode_1BYTE_DATA(text), src, (size_t)n);
            }
        }
        return text;
    }
    if (key == NULL) {
        return PyUnicode_DecodeUTF8((const char *)src, n, NULL);
    }
    tmp = n <= TEXT_STACK_SIZE ? stack : PyMem_Malloc((size_t)n);
    if (tmp == NULL) {
        return PyErr_NoMemory();
    }
    mask_bytes(src, tmp, n, key);
    text = PyUnicode_DecodeUTF8((const char *)tmp, n, NULL);
    if (tmp != stack) {
        PyMem_Free(tmp);
    }
    return text;
}

PyDoc_STRVAR(scan_frames_doc,
"scan_frames(buf, pos, expect_mask, max_size, events, text_cls, binary_cls,\n"
"            inflate=None, /)\n"
"--\n"
"\n"
"Parse the simple frames of buf from pos on; return the position after\n"
"the last one.\n"
"\n"
"A frame is simple when it is whole in buf, has FIN set, RSV1-3 clear,\n"
"opcode 1 (text) or 2 (binary), the mask bit equal to expect_mask, a\n"
"payload of at most max_size bytes (a 64-bit length with its top bit\n"
"clear) and, for text, valid UTF-8. For each one, an event is appended\n"
"to the list events: for a class, an instance with its data attribute\n"
"set to the payload (str or bytes) and __init__ not called; for any\n"
"other callable, text_cls(str) or binary_cls(bytes). The payload is\n"
"unmasked and text decoded as strict UTF-8. The scan stops before the first frame\n"
"that is not simple or not whole, leaving it to the caller; it returns\n"
"pos when that is the first one. buf is never read past its end.\n"
"\n"
"With inflate (a callable, not None), a frame with RSV1 set that is\n"
"otherwise simple, whatever its size, is simple too: inflate(payload)\n"
"must return its bytes, and text is decoded as strict UTF-8; an exception\n"
"from inflate, and a UnicodeDecodeError, propagate (inflate has run).\n"
"\n"
"Only valid between messages: the caller must not be in the middle of a\n"
"fragmented message or of a frame. Raises TypeError or ValueError on bad\n"
"arguments; an exception from text_cls, binary_cls or an allocation\n"
"propagates (events may then hold some of the messages already parsed).");

/* Module state: the interned name of the events' one attribute. */
typedef struct {
    PyObject *data_name;
} speedups_state;

/* A new bytes object holding the n payload bytes at src, unmasked with key
 * (or copied as they are when key is NULL). */
static PyObject *
unmask_copy(const unsigned char *src, Py_ssize_t n, const unsigned char *key)
{
    PyObject *data;
    if (key == NULL) {
        return PyBytes_FromStringAndSize((const char *)src, n);
    }
    data = PyBytes_FromStringAndSize(NULL, n);
    if (data != NULL) {
        mask_bytes(src, (unsigned char *)PyBytes_AS_STRING(data), n, key);
    }
    return data;
}

/* An event for one message: cls(data) for a callable, but for a class an
 * instance with its "data" attribute set and __init__ not called. The
 * events are __slots__ classes whose __init__ only sets data, and calling
 * a Python __init__ from C is 60 % of the cost of building one (bench
 * "burst", in process: 0.67 -> 0.64 us a message). */
static PyObject *
make_event(PyObject *cls, PyObject *data, PyObject *data_name)
{
    PyObject *event;

    if (!PyType_Check(cls)) {
        return PyObject_CallOneArg(cls, data);
    }
    event = ((PyTypeObject *)cls)->tp_alloc((PyTypeObject *)cls, 0);
    if (event != NULL && PyObject_SetAttr(event, data_name, data) < 0) {
        Py_CLEAR(event);
    }
    return event;
}

static PyObject *
scan_frames(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *data_name = ((speedups_state *)PyModule_GetState(module))->data_name;
    const unsigned char *p;
    Py_ssize_t size, pos;
    long long max_size;
    unsigned int mask_bit;
    int expect_mask;
    PyObject *events, *text_cls, *binary_cls, *inflate;

    if (nargs != 7 && nargs != 8) {
        PyErr_Format(PyExc_TypeError,
                     "scan_frames() takes 7 or 8 arguments (%zd given)",
                     nargs);
        return NULL;
    }
    if (!PyBytes_Check(args[0])) {
        PyErr_Format(PyExc_TypeError, "buf must be bytes, not %.100s",
                     Py_TYPE(args[0])->tp_name);
        return NULL;
    }
    pos = PyNumber_AsSsize_t(args[1], PyExc_OverflowError);
    if (pos == -1 && PyErr_Occurred()) {
        return NULL;
    }
    expect_mask = PyObject_IsTrue(args[2]);
    if (expect_mask < 0) {
        return NULL;
    }
    max_size = PyLong_AsLongLong(args[3]);
    if (max_size == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (max_size < 0) {
        PyErr_SetString(PyExc_ValueError, "max_size must not be negative");
        return NULL;
    }
    events = args[4];
    if (!PyList_Check(events)) {
        PyErr_Format(PyExc_TypeError, "events must be a list, not %.100s",
                     Py_TYPE(events)->tp_name);
        return NULL;
    }
    text_cls = args[5];
    binary_cls = args[6];
    inflate = nargs == 8 ? args[7] : Py_None;

    p = (const unsigned char *)PyBytes_AS_STRING(args[0]);
    size = PyBytes_GET_SIZE(args[0]);
    if (pos < 0 || pos > size) {
        PyErr_Format(PyExc_ValueError,
                     "pos must be between 0 and %zd, got %zd", size, pos);
        return NULL;
    }
    mask_bit = expect_mask ? 0x80u : 0u;

    for (;;) {
        const unsigned char *head = p + pos;
        const unsigned char *key = NULL;
        Py_ssize_t avail = size - pos, header = 2, n;
        uint64_t length;
        unsigned int first;
        int compressed = 0;
        PyObject *data, *cls, *event;
        int rc;

        if (avail < 2) {
            break;
        }
        first = head[0];
        /* FIN, no RSV bit, opcode 1 or 2: exactly 0x81 or 0x82; with
         * inflate, also RSV1 (a whole compressed message): 0xC1 or 0xC2. */
        if (first == 0xC1 || first == 0xC2) {
            if (inflate == Py_None) {
                break;
            }
            compressed = 1;
        }
        else if (first != 0x81 && first != 0x82) {
            break;
        }
        if ((head[1] & 0x80u) != mask_bit) {
            break;
        }
        length = head[1] & 0x7Fu;
        if (length == 126) {
            if (avail < 4) {
                break;
            }
            length = ((uint64_t)head[2] << 8) | head[3];
            header = 4;
        }
        else if (length == 127) {
            if (avail < 10) {
                break;
            }
            length = 0;
            for (int j = 2; j < 10; j++) {
                length = (length << 8) | head[j];
            }
            if (length >> 63) {
                break;
            }
            header = 10;
        }
        if (length > (uint64_t)max_size && !compressed) {
            break; /* a compressed payload is bounded by inflate instead */
        }
        if (mask_bit) {
            if (avail - header < 4) {
                break;
            }
            key = head + header;
            header += 4;
        }
        if ((uint64_t)(avail - header) < length) {
            break; /* not whole yet */
        }
        n = (Py_ssize_t)length; /* fits: it is at most avail */

        if (compressed) {
            /* inflate(payload) -> bytes, or an exception that fails the
             * connection: the decompressor has moved on, so nothing here
             * is left to the caller once inflate was called. */
            PyObject *payload = unmask_copy(head + header, n, key);
            PyObject *out;
            if (payload == NULL) {
                return NULL;
            }
            out = PyObject_CallOneArg(inflate, payload);
            Py_DECREF(payload);
            if (out == NULL) {
                return NULL;
            }
            if (!PyBytes_Check(out)) {
                PyErr_Format(PyExc_TypeError, "inflate must return bytes, not %.100s",
                             Py_TYPE(out)->tp_name);
                Py_DECREF(out);
                return NULL;
            }
            if (first == 0xC2) {
                data = out;
                cls = binary_cls;
            }
            else {
                data = decode_text((const unsigned char *)PyBytes_AS_STRING(out),
                                   PyBytes_GET_SIZE(out), NULL);
                Py_DECREF(out);
                if (data == NULL) {
                    return NULL; /* UnicodeDecodeError: 1007 for the caller */
                }
                cls = text_cls;
            }
        }
        else if (first == 0x82) {
            data = unmask_copy(head + header, n, key);
            if (data == NULL) {
                return NULL;
            }
            cls = binary_cls;
        }
        else {
            data = decode_text(head + header, n, key);
            if (data == NULL) {
                if (PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                    /* Left to the caller, which fails the connection with
                     * the right close code (1007). */
                    PyErr_Clear();
                    break;
                }
                return NULL;
            }
            cls = text_cls;
        }
        event = make_event(cls, data, data_name);
        Py_DECREF(data);
        if (event == NULL) {
            return NULL;
        }
        rc = PyList_Append(events, event);
        Py_DECREF(event);
        if (rc < 0) {
            return NULL;
        }
        pos += header + n;
    }
    return PyLong_FromSsize_t(pos);
}

/* One whole final frame of payload (any C-contiguous bytes-like object),
 * masked with key unless key is NULL: the work of frame() and
 * Masker.frame(), in one allocation. */
static PyObject *
build_frame(long opcode, PyObject *payload, const unsigned char *key, int rsv1)
{
    unsigned char *out;
    const unsigned char *src;
    Py_buffer view;
    Py_ssize_t n, header;
    int have_view = 0;
    PyObject *result;

    if (PyBytes_CheckExact(payload)) {
        src = (const unsigned char *)PyBytes_AS_STRING(payload);
        n = PyBytes_GET_SIZE(payload);
    }
    else {
        if (PyObject_GetBuffer(payload, &view, PyBUF_SIMPLE) < 0) {
            return NULL;
        }
        have_view = 1;
        src = (const unsigned char *)view.buf;
        n = view.len;
    }

    header = n < 126 ? 2 : n < 65536 ? 4 : 10;
    if (key != NULL) {
        header += 4;
    }
    if (n > PY_SSIZE_T_MAX - header) {
        result = PyErr_NoMemory();
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, header + n);
    if (result == NULL) {
        goto done;
    }
    out = (unsigned char *)PyBytes_AS_STRING(result);
    out[0] = (unsigned char)(0x80u | (rsv1 ? 0x40u : 0u) | (unsigned long)opcode);
    if (n < 126) {
        out[1] = (unsigned char)(n | (key != NULL ? 0x80 : 0));
    }
    else if (n < 65536) {
        out[1] = key != NULL ? 0xFE : 0x7E;
        out[2] = (unsigned char)(n >> 8);
        out[3] = (unsigned char)n;
    }
    else {
        uint64_t length = (uint64_t)n;
        out[1] = key != NULL ? 0xFF : 0x7F;
        for (int j = 9; j >= 2; j--) {
            out[j] = (unsigned char)length;
            length >>= 8;
        }
    }
    if (key != NULL) {
        memcpy(out + header - 4, key, 4);
        /* The new bytes object is nobody else's yet, and the payload is
         * held (a buffer view, or a reference to an immutable bytes). */
        mask_maybe_nogil(src, out + header, n, key);
    }
    else if (n > 0) {
        memcpy(out + header, src, (size_t)n);
    }

done:
    if (have_view) {
        PyBuffer_Release(&view);
    }
    return result;
}

/* The opcode and rsv1 arguments of frame() and Masker.frame().
 * 0 on success, -1 with an exception set. */
static int
frame_flags(PyObject *opcode_arg, PyObject *rsv1_arg, long *opcode, int *rsv1)
{
    *opcode = PyLong_AsLong(opcode_arg);
    if (*opcode == -1 && PyErr_Occurred()) {
        return -1;
    }
    if (*opcode < 0 || *opcode > 15) {
        PyErr_Format(PyExc_ValueError, "opcode must be 0-15, got %ld", *opcode);
        return -1;
    }
    *rsv1 = PyObject_IsTrue(rsv1_arg);
    return *rsv1 < 0 ? -1 : 0;
}

PyDoc_STRVAR(frame_doc,
"frame(opcode, payload, mask, rsv1, /)\n"
"--\n"
"\n"
"Return one whole frame (FIN set) as bytes: the header (RFC 6455 5.2),\n"
"then, when mask is a 4-byte key, the key and the masked payload, else\n"
"the payload as is.\n"
"\n"
"opcode is 0-15; payload any C-contiguous bytes-like object, whose length\n"
"in bytes is the payload length; mask None or 4 bytes; rsv1 sets the\n"
"\"compressed\" bit. Equal to\n"
"frames.serialize_frame(opcode, payload, rsv1=rsv1, mask=mask), built in\n"
"one allocation.");

static PyObject *
frame(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    unsigned char key[4];
    long opcode;
    int rsv1;

    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError,
                     "frame() takes exactly 4 arguments (%zd given)", nargs);
        return NULL;
    }
    if (frame_flags(args[0], args[3], &opcode, &rsv1) < 0) {
        return NULL;
    }
    if (args[2] == Py_None) {
        return build_frame(opcode, args[1], NULL, rsv1);
    }
    if (get_key(args[2], key) < 0) {
        return NULL;
    }
    return build_frame(opcode, args[1], key, rsv1);
}

/* ---------------------------------------------------------------------
 * Masker: a client's masking keys, cut from pooled draws of a strong
 * random source (RFC 6455 5.3 wants unpredictable keys; one os.urandom
 * call per frame would cost a system call), and the frames masked with
 * them. Masker.frame() draws its key and builds the frame in one call:
 * the key from a Python generator cost 130 ns of a client's 1.33 us a
 * message in process (bench "burst", client). The draws are those of
 * frames.MaskerPython: 64 bytes first (many connections send a few frames,
 * and a 1 KiB draw costs 2.0 us against 0.4), then 1 KiB at a time.
 */

#define MASKER_POOL 1024

typedef struct {
    PyObject_HEAD
    PyObject *random_bytes;     /* f(n) -> n random bytes */
    Py_ssize_t pos;             /* next key in pool */
    Py_ssize_t len;             /* bytes of pool drawn */
    Py_ssize_t draw;            /* the size of the next draw */
    unsigned char pool[MASKER_POOL];
} Masker;

static PyObject *
Masker_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *random_bytes;
    static char *kwlist[] = {"random_bytes", NULL};
    Masker *self;

    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O", kwlist, &random_bytes)) {
        return NULL;
    }
    if (!PyCallable_Check(random_bytes)) {
        PyErr_SetString(PyExc_TypeError, "random_bytes must be callable");
        return NULL;
    }
    self = (Masker *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    Py_INCREF(random_bytes);
    self->random_bytes = random_bytes;
    self->draw = 64;
    return (PyObject *)self;
}

static int
Masker_traverse(Masker *self, visitproc visit, void *arg)
{
    Py_VISIT(self->random_bytes);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int
Masker_clear(Masker *self)
{
    Py_CLEAR(self->random_bytes);
    return 0;
}

static void
Masker_dealloc(Masker *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    Masker_clear(self);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

/* Copy the next key into key, drawing a new pool when this one is used up.
 * 0 on success, -1 with an exception set (the pool is then unchanged). */
static int
masker_next(Masker *self, unsigned char key[4])
{
    if (self->pos + 4 > self->len) {
        PyObject *drawn;
        Py_buffer view;

        if (self->random_bytes == NULL) {
            PyErr_SetString(PyExc_ValueError, "the masker was cleared");
            return -1;
        }
        drawn = PyObject_CallFunction(self->random_bytes, "n", self->draw);
        if (drawn == NULL) {
            return -1;
        }
        if (PyObject_GetBuffer(drawn, &view, PyBUF_SIMPLE) < 0) {
            Py_DECREF(drawn);
            return -1;
        }
        if (view.len != self->draw) {
            PyErr_Format(PyExc_ValueError,
                         "random_bytes(%zd) returned %zd bytes", self->draw,
                         view.len);
            PyBuffer_Release(&view);
            Py_DECREF(drawn);
            return -1;
        }
        memcpy(self->pool, view.buf, (size_t)view.len);
        PyBuffer_Release(&view);
        Py_DECREF(drawn);
        self->len = self->draw;
        self->pos = 0;
        self->draw = MASKER_POOL;
    }
    memcpy(key, self->pool + self->pos, 4);
    self->pos += 4;
    return 0;
}

PyDoc_STRVAR(Masker_key_doc,
"key()\n"
"--\n"
"\n"
"Return the next 4-byte masking key.");

static PyObject *
Masker_key(Masker *self, PyObject *Py_UNUSED(ignored))
{
    unsigned char key[4];

    if (masker_next(self, key) < 0) {
        return NULL;
    }
    return PyBytes_FromStringAndSize((const char *)key, 4);
}

PyDoc_STRVAR(Masker_frame_doc,
"frame(opcode, payload, rsv1, /)\n"
"--\n"
"\n"
"Return one whole frame (FIN set) masked with the next key: equal to\n"
"frame(opcode, payload, self.key(), rsv1).");

static PyObject *
Masker_frame(Masker *self, PyObject *const *args, Py_ssize_t nargs)
{
    unsigned char key[4];
    long opcode;
    int rsv1;

    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError,
                     "frame() takes exactly 3 arguments (%zd given)", nargs);
        return NULL;
    }
    if (frame_flags(args[0], args[2], &opcode, &rsv1) < 0 ||
        masker_next(self, key) < 0) {
        return NULL;
    }
    return build_frame(opcode, args[1], key, rsv1);
}

static PyMethodDef Masker_methods[] = {
    {"key", (PyCFunction)Masker_key, METH_NOARGS, Masker_key_doc},
    {"frame", (PyCFunction)(void (*)(void))Masker_frame, METH_FASTCALL,
     Masker_frame_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(Masker_doc,
"Masker(random_bytes)\n"
"--\n"
"\n"
"A client's masking keys, cut from draws of random_bytes(n) (64 bytes,\n"
"then 1024 at a time; each draw must return n bytes), and the frames\n"
"masked with them.");

static PyType_Slot Masker_slots[] = {
    {Py_tp_new, Masker_new},
    {Py_tp_dealloc, Masker_dealloc},
    {Py_tp_traverse, Masker_traverse},
    {Py_tp_clear, Masker_clear},
    {Py_tp_methods, Masker_methods},
    {Py_tp_doc, (void *)Masker_doc},
    {0, NULL},
};

static PyType_Spec Masker_spec = {
    .name = "airsocket._speedups.Masker",
    .basicsize = sizeof(Masker),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = Masker_slots,
};

/* ------------------------------------------------------------------------
 * split_head(): the header lines of an HTTP head (RFC 7230 3.2), for the
 * opening handshake. airsocket.protocol.http stays the reference: this
 * only takes a head that its Python path accepts, and answers None for
 * anything else, so that the Python path raises the error it names.
 */

/* tchar (RFC 7230 3.2.6) */
static int
is_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
        return 1;
    }
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* field-vchar, SP and HTAB: no CTL (RFC 7230 3.2) */
static inline int
is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

/* Append (name, value) to items and the interned lowercased name to keys
 * for the header line p[0:n], or return 0 if it is not name:value. */
static int
append_field(const unsigned char *p, Py_ssize_t n, PyObject *items, PyObject *keys)
{
    Py_ssize_t colon = 0, start, stop, i;
    PyObject *name, *key, *value, *item;
    Py_UCS1 *lower;
    int rc;

    while (colon < n && is_tchar(p[colon])) {
        colon++;
    }
    if (colon == 0 || colon == n || p[colon] != ':') {
        return 0;
    }
    for (i = colon + 1; i < n; i++) {
        if (!is_value_char(p[i])) {
            return 0;
        }
    }
    start = colon + 1;
    stop = n;
    while (start < stop && (p[start] == ' ' || p[start] == '\t')) {
        start++;
    }
    while (stop > start && (p[stop - 1] == ' ' || p[stop - 1] == '\t')) {
        stop--;
    }
    name = PyUnicode_DecodeLatin1((const char *)p, colon, NULL);
    if (name == NULL) {
        return -1;
    }
    key = PyUnicode_New(colon, 127);
    if (key == NULL) {
        Py_DECREF(name);
        return -1;
    }
    lower = PyUnicode_1BYTE_DATA(key);
    for (i = 0; i < colon; i++) {
        lower[i] = (Py_UCS1)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
    }
    PyUnicode_InternInPlace(&key);
    value = PyUnicode_DecodeLatin1((const char *)p + start, stop - start, NULL);
    if (value == NULL) {
        Py_DECREF(name);
        Py_DECREF(key);
        return -1;
    }
    item = PyTuple_Pack(2, name, value);
    Py_DECREF(name);
    Py_DECREF(value);
    if (item == NULL) {
        Py_DECREF(key);
        return -1;
    }
    rc = PyList_Append(items, item);
    Py_DECREF(item);
    if (rc == 0) {
        rc = PyList_Append(keys, key);
    }
    Py_DECREF(key);
    return rc < 0 ? -1 : 1;
}

/* Split the complete head p[0:n] into its header fields, appended to items
 * and keys (see append_field); set *first_len to the length of its first
 * line, which starts at p[0]. Return 1, or 0 unless every limit holds, the
 * blank line comes only at the end and every header line is token ":"
 * value (exactly when airsocket.protocol.http's Python path would raise),
 * or -1 with an exception set. */
static int
split_fields(const unsigned char *p, Py_ssize_t n, const Py_ssize_t limits[3],
             Py_ssize_t *first_len, PyObject *items, PyObject *keys)
{
    const unsigned char *eol;
    Py_ssize_t pos, line, count = 0;

    if (n < 4 || n > limits[0] || memcmp(p + n - 4, "\r\n\r\n", 4) != 0) {
        return 0;
    }
    /* Lines are what lies between CRLFs up to the final CRLF: the first
     * line, then the header lines. No header line may be empty: that is a
     * blank line that ends the head early. */
    *first_len = -1;
    pos = 0;
    n -= 2;
    while (pos < n) {
        eol = memchr(p + pos, '\r', (size_t)(n - pos));
        while (eol != NULL && eol[1] != '\n') {
            eol = memchr(eol + 1, '\r', (size_t)(n - (eol + 1 - p)));
        }
        if (eol == NULL) {
            return 0;  /* cannot happen: text ends with CRLF */
        }
        line = eol - (p + pos);
        if (line > limits[1] || (line == 0 && *first_len >= 0)) {
            return 0;
        }
        if (*first_len < 0) {
            *first_len = line;
        }
        else {
            int rc;
            if (++count > limits[2]) {
                return 0;
            }
            rc = append_field(p + pos, line, items, keys);
            if (rc <= 0) {
                return rc;
            }
        }
        pos += line + 2;
    }
    return *first_len >= 0;
}

/* Unpack (head, max_head_size, max_line_size, max_header_count) for the
 * function called name: the head's buffer into view (to release) and the
 * limits of split_fields; 0, or -1 with an exception set. */
static int
get_head_args(PyObject *const *args, Py_ssize_t nargs, const char *name,
              Py_buffer *view, Py_ssize_t limits[3])
{
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "%s() takes exactly 4 arguments (%zd given)", name,
                     nargs);
        return -1;
    }
    for (int j = 0; j < 3; j++) {
        limits[j] = PyLong_AsSsize_t(args[j + 1]);
        if (limits[j] == -1 && PyErr_Occurred()) {
            return -1;
        }
    }
    return PyObject_GetBuffer(args[0], view, PyBUF_SIMPLE);
}

PyDoc_STRVAR(split_head_doc,
"split_head(head, max_head_size, max_line_size, max_header_count, /)\n"
"--\n"
"\n"
"Split a complete HTTP head (through the blank line that ends it) into\n"
"(first line, [(name, value), ...], [lowercased interned name, ...]),\n"
"the values stripped of spaces and tabs, all decoded from ISO-8859-1.\n"
"Return None unless every limit holds, the blank line comes only at the\n"
"end and every header line is token \":\" value: exactly when\n"
"airsocket.protocol.http's Python path would raise.");

static PyObject *
split_head(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    Py_ssize_t limits[3], first_len;
    PyObject *first = NULL, *items = NULL, *keys = NULL, *result = NULL;
    int rc;

    if (get_head_args(args, nargs, "split_head", &view, limits) < 0) {
        return NULL;
    }
    items = PyList_New(0);
    keys = PyList_New(0);
    if (items == NULL || keys == NULL) {
        goto done;
    }
    rc = split_fields((const unsigned char *)view.buf, view.len, limits, &first_len,
                      items, keys);
    if (rc < 0) {
        goto done;
    }
    if (rc == 0) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    first = PyUnicode_DecodeLatin1((const char *)view.buf, first_len, NULL);
    if (first != NULL) {
        result = PyTuple_Pack(3, first, items, keys);
    }
done:
    Py_XDECREF(first);
    Py_XDECREF(items);
    Py_XDECREF(keys);
    PyBuffer_Release(&view);
    return result;
}

/* ------------------------------------------------------------------------
 * parse_upgrade(): the usual WebSocket upgrade request (RFC 6455 4.1,
 * 4.2.1), split and checked in one call. airsocket.protocol.handshake's
 * check_request() stays the reference: this takes only requests that it
 * accepts, in the plainest form (one Connection token, no Content-Length),
 * and answers None for anything else, which then goes the Python way.
 */

/* The fields the check reads, as check_request() reads them. */
enum {
    F_TRANSFER_ENCODING, F_CONTENT_LENGTH, F_HOST, F_UPGRADE, F_CONNECTION,
    F_KEY, F_VERSION, F_ORIGIN, F_PROTOCOL, F_EXTENSIONS, F_COUNT
};
static const char *const upgrade_fields[F_COUNT] = {
    "transfer-encoding", "content-length", "host", "upgrade", "connection",
    "sec-websocket-key", "sec-websocket-version", "origin",
    "sec-websocket-protocol", "sec-websocket-extensions",
};

/* Whether the str value, all ISO-8859-1, equals the lowercase ASCII word
 * ignoring ASCII case (no other ISO-8859-1 letter lowercases to ASCII). */
static int
equals_word(PyObject *value, const char *word)
{
    Py_ssize_t n = (Py_ssize_t)strlen(word);
    const Py_UCS1 *v;

    if (PyUnicode_KIND(value) != PyUnicode_1BYTE_KIND || PyUnicode_GET_LENGTH(value) != n) {
        return 0;
    }
    v = PyUnicode_1BYTE_DATA(value);
    for (Py_ssize_t i = 0; i < n; i++) {
        if ((v[i] >= 'A' && v[i] <= 'Z' ? v[i] + 32 : v[i]) != (unsigned char)word[i]) {
            return 0;
        }
    }
    return 1;
}

/* Whether a Sec-WebSocket-Key is the base64 of 16 bytes in its plain form:
 * 22 characters of the alphabet and "==" (what b64decode(validate=True)
 * takes for 16 bytes, bar nothing the usual client sends). */
static int
is_nonce(PyObject *value)
{
    const Py_UCS1 *v;

    if (PyUnicode_KIND(value) != PyUnicode_1BYTE_KIND || PyUnicode_GET_LENGTH(value) != 24) {
        return 0;
    }
    v = PyUnicode_1BYTE_DATA(value);
    for (int i = 0; i < 22; i++) {
        unsigned char c = v[i];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/')) {
            return 0;
        }
    }
    return v[22] == '=' && v[23] == '=';
}

/* Whether line p[0:n] is "GET <target> HTTP/1.1", the target visible ASCII. */
static int
is_get_line(const unsigned char *p, Py_ssize_t n)
{
    if (n < 14 || memcmp(p, "GET ", 4) != 0 || memcmp(p + n - 9, " HTTP/1.1", 9) != 0) {
        return 0;
    }
    for (Py_ssize_t i = 4; i < n - 9; i++) {
        if (p[i] < 0x21 || p[i] > 0x7e) {
            return 0;
        }
    }
    return 1;
}

PyDoc_STRVAR(parse_upgrade_doc,
"parse_upgrade(head, max_head_size, max_line_size, max_header_count, /)\n"
"--\n"
"\n"
"Split and check a complete upgrade request head, as split_head() and\n"
"check_request() would: return (target, items, keys, key, origins,\n"
"protocols, extensions), the last three lists of those fields' values,\n"
"or None for anything but a GET of HTTP/1.1 with no body, one non-empty\n"
"Host, Upgrade: websocket, Connection: Upgrade, one Sec-WebSocket-Key of\n"
"16 bytes and Sec-WebSocket-Version: 13.");

static PyObject *
parse_upgrade(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    Py_buffer view;
    Py_ssize_t limits[3], first_len, counts[F_COUNT] = {0};
    PyObject *single[F_COUNT] = {NULL};
    PyObject *lists[F_COUNT] = {NULL};
    PyObject *items = NULL, *keys = NULL, *target = NULL, *result = NULL;
    const unsigned char *p;
    int rc;

    if (get_head_args(args, nargs, "parse_upgrade", &view, limits) < 0) {
        return NULL;
    }
    p = (const unsigned char *)view.buf;
    items = PyList_New(0);
    keys = PyList_New(0);
    lists[F_ORIGIN] = PyList_New(0);
    lists[F_PROTOCOL] = PyList_New(0);
    lists[F_EXTENSIONS] = PyList_New(0);
    if (items == NULL || keys == NULL || lists[F_ORIGIN] == NULL ||
        lists[F_PROTOCOL] == NULL || lists[F_EXTENSIONS] == NULL) {
        goto done;
    }
    rc = split_fields(p, view.len, limits, &first_len, items, keys);
    if (rc < 0) {
        goto done;
    }
    if (rc == 0 || !is_get_line(p, first_len)) {
        goto refuse;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(keys); i++) {
        PyObject *key = PyList_GET_ITEM(keys, i);
        PyObject *value = PyTuple_GET_ITEM(PyList_GET_ITEM(items, i), 1);
        for (int j = 0; j < F_COUNT; j++) {
            if (PyUnicode_CompareWithASCIIString(key, upgrade_fields[j]) != 0) {
                continue;
            }
            counts[j]++;
            if (lists[j] != NULL) {
                if (PyList_Append(lists[j], value) < 0) {
                    goto done;
                }
            }
            else {
                single[j] = value;  /* borrowed from items */
            }
            break;
        }
    }
    /* check_request()'s checks, each in its plainest passing form. */
    if (counts[F_TRANSFER_ENCODING] || counts[F_CONTENT_LENGTH] ||
        counts[F_HOST] != 1 || PyUnicode_GET_LENGTH(single[F_HOST]) == 0 ||
        counts[F_UPGRADE] != 1 || !equals_word(single[F_UPGRADE], "websocket") ||
        counts[F_CONNECTION] != 1 || !equals_word(single[F_CONNECTION], "upgrade") ||
        counts[F_KEY] != 1 || !is_nonce(single[F_KEY]) ||
        counts[F_VERSION] != 1 || PyUnicode_CompareWithASCIIString(single[F_VERSION], "13") != 0) {
        goto refuse;
    }
    target = PyUnicode_DecodeLatin1((const char *)p + 4, first_len - 13, NULL);
    if (target != NULL) {
        result = PyTuple_Pack(7, target, items, keys, single[F_KEY], lists[F_ORIGIN],
                              lists[F_PROTOCOL], lists[F_EXTENSIONS]);
    }
    goto done;

refuse:
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(target);
    Py_XDECREF(items);
    Py_XDECREF(keys);
    for (int j = 0; j < F_COUNT; j++) {
        Py_XDECREF(lists[j]);
    }
    PyBuffer_Release(&view);
    return result;
}

PyDoc_STRVAR(values_of_doc,
"values_of(keys, items, wanted, /)\n"
"--\n"
"\n"
"For each name in the tuple wanted, the list of the values of the fields\n"
"whose key is that name, in order: keys is a list of str (lowercased\n"
"names), items a list of (name, value) tuples, one per key, as\n"
"airsocket.protocol.http.Headers keeps them. What Headers.values_of\n"
"returns, in one call.");

static PyObject *
values_of(PyObject *Py_UNUSED(module), PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *keys, *items, *wanted, *result;
    Py_ssize_t n, m;

    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError,
                     "values_of() takes exactly 3 arguments (%zd given)", nargs);
        return NULL;
    }
    keys = args[0];
    items = args[1];
    wanted = args[2];
    if (!PyList_Check(keys) || !PyList_Check(items) || !PyTuple_Check(wanted)) {
        PyErr_SetString(PyExc_TypeError, "values_of() takes a list, a list and a tuple");
        return NULL;
    }
    n = PyList_GET_SIZE(keys);
    m = PyTuple_GET_SIZE(wanted);
    if (PyList_GET_SIZE(items) != n) {
        PyErr_SetString(PyExc_ValueError, "values_of(): keys and items differ in length");
        return NULL;
    }
    result = PyList_New(m);
    if (result == NULL) {
        return NULL;
    }
    for (Py_ssize_t j = 0; j < m; j++) {
        PyObject *values = PyList_New(0);
        if (values == NULL) {
            goto fail;
        }
        PyList_SET_ITEM(result, j, values);
    }
    /* The sizes are read again at each step: a comparison may run Python
     * code (a str subclass's __eq__) that changes the lists. */
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(keys) && i < PyList_GET_SIZE(items); i++) {
        PyObject *key = PyList_GET_ITEM(keys, i);
        Py_INCREF(key);
        for (Py_ssize_t j = 0; j < m; j++) {
            PyObject *name = PyTuple_GET_ITEM(wanted, j);
            /* Interned on both sides as a rule: identity first. */
            int equal = key == name;
            if (!equal) {
                equal = PyObject_RichCompareBool(key, name, Py_EQ);
                if (equal < 0) {
                    Py_DECREF(key);
                    goto fail;
                }
            }
            if (equal && i < PyList_GET_SIZE(items)) {
                PyObject *item = PyList_GET_ITEM(items, i);
                if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
                    PyErr_SetString(PyExc_TypeError,
                                    "values_of(): an item is not a (name, value) tuple");
                    Py_DECREF(key);
                    goto fail;
                }
                if (PyList_Append(PyList_GET_ITEM(result, j),
                                  PyTuple_GET_ITEM(item, 1)) < 0) {
                    Py_DECREF(key);
                    goto fail;
                }
            }
        }
        Py_DECREF(key);
    }
    return result;

fail:
    Py_DECREF(result);
    return NULL;
}

/* Make a str from any caller ready for PyUnicode_KIND and its kin: before
 * Python 3.12 a string made by the legacy C API may not be yet. 0, or -1
 * with an exception set. */
static inline int
ensure_ready(PyObject *text)
{
#if PY_VERSION_HEX < 0x030C0000
    return PyUnicode_READY(text);
#else
    (void)text;
    return 0;
#endif
}

/* ------------------------------------------------------------------------
 * serialize_fields(): header fields as "Name: value\r\n" lines, for
 * airsocket.protocol.http.Headers.serialize, which stays the reference.
 */

PyDoc_STRVAR(serialize_fields_doc,
"serialize_fields(items, /)\n"
"--\n"
"\n"
"The list of (name, value) str pairs as \"name: value\\r\\n\" lines in\n"
"ISO-8859-1 bytes; None unless every name and value is a str of that\n"
"range (the Python path then encodes, or raises).");

static PyObject *
serialize_fields(PyObject *Py_UNUSED(module), PyObject *items)
{
    Py_ssize_t total = 0, n;
    PyObject *result;
    char *out;

    if (!PyList_Check(items)) {
        PyErr_Format(PyExc_TypeError, "serialize_fields() takes a list, not %.100s",
                     Py_TYPE(items)->tp_name);
        return NULL;
    }
    n = PyList_GET_SIZE(items);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        if (!PyTuple_CheckExact(item) || PyTuple_GET_SIZE(item) != 2) {
            Py_RETURN_NONE;
        }
        for (int j = 0; j < 2; j++) {
            PyObject *text = PyTuple_GET_ITEM(item, j);
            if (!PyUnicode_CheckExact(text)) {
                Py_RETURN_NONE;
            }
            if (ensure_ready(text) < 0) {
                return NULL;
            }
            if (PyUnicode_KIND(text) != PyUnicode_1BYTE_KIND) {
                Py_RETURN_NONE;
            }
            total += PyUnicode_GET_LENGTH(text) + 2;  /* ": " or CRLF */
        }
    }
    result = PyBytes_FromStringAndSize(NULL, total);
    if (result == NULL) {
        return NULL;
    }
    out = PyBytes_AS_STRING(result);
    /* Nothing above ran Python code: the list and its strings are as checked. */
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyList_GET_ITEM(items, i);
        for (int j = 0; j < 2; j++) {
            PyObject *text = PyTuple_GET_ITEM(item, j);
            Py_ssize_t len = PyUnicode_GET_LENGTH(text);
            memcpy(out, PyUnicode_1BYTE_DATA(text), (size_t)len);
            out += len;
            memcpy(out, j == 0 ? ": " : "\r\n", 2);
            out += 2;
        }
    }
    return result;
}

/* ------------------------------------------------------------------------
 * accept_key(): Sec-WebSocket-Accept (RFC 6455 4.2.2 item 5.4), the base64
 * of the SHA-1 of the key and the GUID, with SHA-1 as FIPS 180-4 section
 * 6.1 gives it. hashlib's (OpenSSL's) costs little more in a tight loop,
 * but its dispatch is several times that among a server's other work.
 * airsocket.protocol.handshake.accept_key stays the reference, and takes
 * every key this refuses (one that is not ASCII).
 */

#define WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#define WS_GUID_LEN 36

static inline uint32_t
rotl32(uint32_t x, int n)
{
    return (x << n) | (x >> (32 - n));
}

/* One 64-byte block into the state h (FIPS 180-4 6.1.2). */
static void
sha1_block(uint32_t h[5], const unsigned char *block)
{
    uint32_t w[80], a = h[0], b = h[1], c = h[2], d = h[3], e = h[4];

    for (int t = 0; t < 16; t++) {
        w[t] = (uint32_t)block[4 * t] << 24 | (uint32_t)block[4 * t + 1] << 16 |
               (uint32_t)block[4 * t + 2] << 8 | (uint32_t)block[4 * t + 3];
    }
    for (int t = 16; t < 80; t++) {
        w[t] = rotl32(w[t - 3] ^ w[t - 8] ^ w[t - 14] ^ w[t - 16], 1);
    }
    for (int t = 0; t < 80; t++) {
        uint32_t f, k;
        if (t < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999;
        }
        else if (t < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1;
        }
        else if (t < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdc;
        }
        else {
            f = b ^ c ^ d;
            k = 0xca62c1d6;
        }
        uint32_t temp = rotl32(a, 5) + f + e + k + w[t];
        e = d;
        d = c;
        c = rotl32(b, 30);
        b = a;
        a = temp;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
    h[4] += e;
}

/* The SHA-1 digest of message[0:n] (FIPS 180-4 5.1.1 padding, 6.1). */
static void
sha1(const unsigned char *message, size_t n, unsigned char digest[20])
{
    uint32_t h[5] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0};
    unsigned char tail[128];
    size_t whole = n - n % 64, rest = n % 64, tail_len;
    uint64_t bits = (uint64_t)n * 8;

    for (size_t i = 0; i < whole; i += 64) {
        sha1_block(h, message + i);
    }
    /* The rest, a 1 bit, zeros, and the length in bits: one or two blocks. */
    memcpy(tail, message + whole, rest);
    tail[rest] = 0x80;
    tail_len = rest + 9 <= 64 ? 64 : 128;
    memset(tail + rest + 1, 0, tail_len - rest - 1);
    for (int i = 0; i < 8; i++) {
        tail[tail_len - 1 - i] = (unsigned char)(bits >> (8 * i));
    }
    for (size_t i = 0; i < tail_len; i += 64) {
        sha1_block(h, tail + i);
    }
    for (int i = 0; i < 5; i++) {
        digest[4 * i] = (unsigned char)(h[i] >> 24);
        digest[4 * i + 1] = (unsigned char)(h[i] >> 16);
        digest[4 * i + 2] = (unsigned char)(h[i] >> 8);
        digest[4 * i + 3] = (unsigned char)h[i];
    }
}

PyDoc_STRVAR(accept_key_doc,
"accept_key(key, /)\n"
"--\n"
"\n"
"The Sec-WebSocket-Accept value for the str key: the base64 of the SHA-1\n"
"of key + the RFC 6455 GUID. None when key is not ASCII.");

static PyObject *
accept_key(PyObject *Py_UNUSED(module), PyObject *key)
{
    static const char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    unsigned char stack_message[256], digest[20];
    unsigned char *message = stack_message;
    Py_ssize_t n;
    char text[28];

    if (!PyUnicode_Check(key)) {
        PyErr_Format(PyExc_TypeError, "accept_key() takes a str, not %.100s",
                     Py_TYPE(key)->tp_name);
        return NULL;
    }
    if (ensure_ready(key) < 0) {
        return NULL;
    }
    if (!PyUnicode_IS_ASCII(key)) {
        Py_RETURN_NONE;
    }
    n = PyUnicode_GET_LENGTH(key);
    if ((size_t)n + WS_GUID_LEN > sizeof(stack_message)) {
        message = PyMem_Malloc((size_t)n + WS_GUID_LEN);
        if (message == NULL) {
            return PyErr_NoMemory();
        }
    }
    memcpy(message, PyUnicode_1BYTE_DATA(key), (size_t)n);
    memcpy(message + n, WS_GUID, WS_GUID_LEN);
    sha1(message, (size_t)n + WS_GUID_LEN, digest);
    if (message != stack_message) {
        PyMem_Free(message);
    }
    /* Base64 (RFC 4648 4) of 20 bytes: six groups of 3, then 2 bytes and "=". */
    for (int i = 0, j = 0; i < 20; i += 3, j += 4) {
        uint32_t group = (uint32_t)digest[i] << 16 | (uint32_t)digest[i + 1] << 8 |
                         (i + 2 < 20 ? digest[i + 2] : 0);
        text[j] = alphabet[group >> 18];
        text[j + 1] = alphabet[(group >> 12) & 63];
        text[j + 2] = alphabet[(group >> 6) & 63];
        text[j + 3] = i + 2 < 20 ? alphabet[group & 63] : '=';
    }
    return PyUnicode_FromStringAndSize(text, 28);
}

static int
speedups_exec(PyObject *module)
{
    speedups_state *state = PyModule_GetState(module);
    state->data_name = PyUnicode_InternFromString("data");
    if (state->data_name == NULL) {
        return -1;
    }
    if (add_type(module, &PayloadBuffer_spec, "PayloadBuffer") < 0 ||
        add_type(module, &Masker_spec, "Masker") < 0) {
        return -1;
    }
    return 0;
}

static PyMethodDef speedups_methods[] = {
    {"apply_mask", (PyCFunction)(void (*)(void))apply_mask, METH_FASTCALL,
     apply_mask_doc},
    {"apply_mask_into", (PyCFunction)(void (*)(void))apply_mask_into,
     METH_FASTCALL, apply_mask_into_doc},
    {"scan_frames", (PyCFunction)(void (*)(void))scan_frames, METH_FASTCALL,
     scan_frames_doc},
    {"frame", (PyCFunction)(void (*)(void))frame, METH_FASTCALL, frame_doc},
    {"split_head", (PyCFunction)(void (*)(void))split_head, METH_FASTCALL,
     split_head_doc},
    {"values_of", (PyCFunction)(void (*)(void))values_of, METH_FASTCALL,
     values_of_doc},
    {"parse_upgrade", (PyCFunction)(void (*)(void))parse_upgrade, METH_FASTCALL,
     parse_upgrade_doc},
    {"accept_key", (PyCFunction)accept_key, METH_O, accept_key_doc},
    {"serialize_fields", (PyCFunction)serialize_fields, METH_O, serialize_fields_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(speedups_doc,
"Optional C accelerator of airsocket: WebSocket payload masking, the\n"
"small-message hot path of the frame layer, and HTTP head splitting.\n"
"\n"
"Import airsocket.protocol.masking instead of this module: it picks these\n"
"functions when they are available and not disabled with the environment\n"
"variable AIRSOCKET_NO_SPEEDUPS, and the pure-Python ones otherwise.\n"
"scan_frames() and frame() are used by airsocket.protocol.connection, and\n"
"split_head(), values_of() and serialize_fields() by\n"
"airsocket.protocol.http, parse_upgrade() and accept_key() by\n"
"airsocket.protocol.handshake, under the same condition.");

static int
speedups_traverse(PyObject *module, visitproc visit, void *arg)
{
    Py_VISIT(((speedups_state *)PyModule_GetState(module))->data_name);
    return 0;
}

static int
speedups_clear(PyObject *module)
{
    Py_CLEAR(((speedups_state *)PyModule_GetState(module))->data_name);
    return 0;
}

static void
speedups_free(void *module)
{
    speedups_clear((PyObject *)module);
}

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
    .m_size = sizeof(speedups_state),
    .m_traverse = speedups_traverse,
    .m_clear = speedups_clear,
    .m_free = speedups_free,
    .m_methods = speedups_methods,
    .m_slots = speedups_slots,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    return PyModuleDef_Init(&speedups_module);
}
