/*
 * Separable 8-bit resampling with precomputed fixed-point coefficients.
 *
 * Each output value is clip8((2^21 + sum_t in[first + t] * k[t]) >> 22): coefficients with 22
 * fractional bits, an int32 accumulator that starts at one half, an arithmetic shift and a
 * clamp to 0..255. With Pillow's coefficients (pillow_resample.py derives them) that is
 * Pillow's 8-bit arithmetic, so the result is bit for bit Pillow's; the speed comes from the
 * loop order. Both passes run as rows of contiguous values times one coefficient each
 * ("axpy"), which compilers turn into SIMD code: the vertical pass directly, the horizontal
 * one on blocks of rows transposed into a small buffer. Both release the GIL, so bands run
 * in parallel.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PRECISION_BITS 22
#define HALF (1 << (PRECISION_BITS - 1))
/* Rows transposed together by the horizontal pass: 16 rows x 3 channels of int32
 * accumulators stay in registers or L1. */
#define BLOCK_ROWS 16
#define CHANNELS 3
#define BLOCK_LANES (BLOCK_ROWS * CHANNELS)

/* AVX2 doubles the integer lanes of the baseline x86-64 build (measured: 1.7-2.5x faster
 * passes); pick it at load time where the CPU has it. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SIMD_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define SIMD_CLONES
#endif

static inline uint8_t clip8(int32_t acc) {
    int32_t value = acc >> PRECISION_BITS;
    return (uint8_t)(value < 0 ? 0 : (value > 255 ? 255 : value));
}

/* dst row y = sum over t < count[y] of src row (first[y] + t) * coeffs[y * ksize + t]. */
SIMD_CLONES static void resample_rows_kernel(
    const uint8_t *src, Py_ssize_t row_len, uint8_t *dst, Py_ssize_t out_rows,
    const int32_t *first, const int32_t *count, const int32_t *coeffs, Py_ssize_t ksize,
    int32_t *acc) {
    for (Py_ssize_t y = 0; y < out_rows; y++) {
        const int32_t *k = coeffs + y * ksize;
        for (Py_ssize_t i = 0; i < row_len; i++) {
            acc[i] = HALF;
        }
        for (int32_t t = 0; t < count[y]; t++) {
            const uint8_t *row = src + (Py_ssize_t)(first[y] + t) * row_len;
            const int32_t weight = k[t];
            for (Py_ssize_t i = 0; i < row_len; i++) {
                acc[i] += (int32_t)row[i] * weight;
            }
        }
        uint8_t *out = dst + y * row_len;
        for (Py_ssize_t i = 0; i < row_len; i++) {
            out[i] = clip8(acc[i]);
        }
    }
}

/* result[i] = one output value from lanes values per input column of a transposed block. */
static inline __attribute__((always_inline)) void filter_lanes(
    const uint8_t *block, Py_ssize_t lanes, int32_t first, int32_t count, const int32_t *k,
    uint8_t *result) {
    int32_t acc[BLOCK_LANES];
    for (Py_ssize_t i = 0; i < lanes; i++) {
        acc[i] = HALF;
    }
    for (int32_t t = 0; t < count; t++) {
        const uint8_t *column = block + (Py_ssize_t)(first + t) * lanes;
        const int32_t weight = k[t];
        for (Py_ssize_t i = 0; i < lanes; i++) {
            acc[i] += (int32_t)column[i] * weight;
        }
    }
    for (Py_ssize_t i = 0; i < lanes; i++) {
        result[i] = clip8(acc[i]);
    }
}

/* The same along columns of RGB rows: blocks of rows are transposed so that one input
 * column of the block is contiguous (lanes = rows x 3), then resampled like rows. */
SIMD_CLONES static void resample_cols_kernel(
    const uint8_t *src, Py_ssize_t rows, Py_ssize_t in_cols, uint8_t *dst, Py_ssize_t out_cols,
    const int32_t *first, const int32_t *count, const int32_t *coeffs, Py_ssize_t ksize,
    uint8_t *block) {
    const Py_ssize_t in_stride = in_cols * CHANNELS, out_stride = out_cols * CHANNELS;
    for (Py_ssize_t y0 = 0; y0 < rows; y0 += BLOCK_ROWS) {
        const Py_ssize_t block_rows = rows - y0 < BLOCK_ROWS ? rows - y0 : BLOCK_ROWS;
        const Py_ssize_t lanes = block_rows * CHANNELS;
        /* Pixels are moved as 4 bytes, the fourth overwritten by the next pixel (of the next
         * row, then of the next column); the last column moves its 3 bytes alone so as not
         * to read past the image. */
        for (Py_ssize_t x = 0; x < in_cols; x++) {
            uint8_t *column = block + x * lanes;
            const uint8_t *pixel = src + y0 * in_stride + x * CHANNELS;
            if (x + 1 < in_cols) {
                for (Py_ssize_t r = 0; r < block_rows; r++) {
                    memcpy(column + r * CHANNELS, pixel + r * in_stride, 4);
                }
            } else {
                for (Py_ssize_t r = 0; r < block_rows; r++) {
                    memcpy(column + r * CHANNELS, pixel + r * in_stride, CHANNELS);
                }
            }
        }
        for (Py_ssize_t x = 0; x < out_cols; x++) {
            uint8_t result[BLOCK_LANES];
            const int32_t *k = coeffs + x * ksize;
            if (lanes == BLOCK_LANES) { /* a constant length: accumulators stay in registers */
                filter_lanes(block, BLOCK_LANES, first[x], count[x], k, result);
            } else {
                filter_lanes(block, lanes, first[x], count[x], k, result);
            }
            for (Py_ssize_t r = 0; r < block_rows; r++) {
                memcpy(dst + (y0 + r) * out_stride + x * CHANNELS, result + r * CHANNELS,
                       CHANNELS);
            }
        }
    }
}

/* One call's arguments, the same for both passes: the image, its input rows and row length
 * (values for the row pass, pixels for the column pass), the output and the tables. */
typedef struct {
    Py_buffer src, dst, first, count, coeffs;
    Py_ssize_t in_rows, row_len, ksize, out_len;
} Call;

static void release(Call *call) {
    PyBuffer_Release(&call->src);
    PyBuffer_Release(&call->dst);
    PyBuffer_Release(&call->first);
    PyBuffer_Release(&call->count);
    PyBuffer_Release(&call->coeffs);
}

/* Parses the arguments, then checks the tables against the input's rows (along_rows) or
 * columns and the buffers' sizes against both. 0 and a ValueError if anything does not fit,
 * with the buffers already released. */
static int parse(PyObject *args, Call *call, int along_rows) {
    if (!PyArg_ParseTuple(args, "y*nnw*y*y*y*n", &call->src, &call->in_rows, &call->row_len,
                          &call->dst, &call->first, &call->count, &call->coeffs,
                          &call->ksize)) {
        return 0;
    }
    const char *error = NULL;
    const Py_ssize_t out_len = call->first.len / 4;
    const Py_ssize_t in_len = along_rows ? call->in_rows : call->row_len;
    const Py_ssize_t in_values = call->in_rows * call->row_len * (along_rows ? 1 : CHANNELS);
    const Py_ssize_t out_values = along_rows ? out_len * call->row_len
                                             : call->in_rows * out_len * CHANNELS;
    if (call->first.len % 4 || call->first.len != call->count.len || call->ksize < 1) {
        error = "first and count must be int32 of one length";
    } else if (call->coeffs.len != out_len * call->ksize * 4) {
        error = "coeffs must be int32 of length out * ksize";
    } else if (call->in_rows < 0 || call->row_len < 1 || call->src.len != in_values
               || call->dst.len != out_values) {
        error = "src or dst does not match the given sizes";
    } else {
        const int32_t *f = call->first.buf, *n = call->count.buf;
        for (Py_ssize_t i = 0; i < out_len && !error; i++) {
            if (f[i] < 0 || n[i] < 0 || n[i] > call->ksize || (Py_ssize_t)f[i] + n[i] > in_len) {
                error = "a coefficient window leaves the input";
            }
        }
    }
    if (error) {
        PyErr_SetString(PyExc_ValueError, error);
        release(call);
        return 0;
    }
    call->out_len = out_len;
    return 1;
}

static PyObject *resample_rows(PyObject *self, PyObject *args) {
    Call c;
    (void)self;
    if (!parse(args, &c, 1)) {
        return NULL;
    }
    int32_t *acc = malloc(c.row_len * sizeof(int32_t));
    const int ok = acc != NULL;
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        resample_rows_kernel(c.src.buf, c.row_len, c.dst.buf, c.out_len, c.first.buf,
                             c.count.buf, c.coeffs.buf, c.ksize, acc);
        Py_END_ALLOW_THREADS
        free(acc);
    }
    release(&c);
    return ok ? Py_NewRef(Py_None) : PyErr_NoMemory();
}

static PyObject *resample_cols(PyObject *self, PyObject *args) {
    Call c;
    (void)self;
    if (!parse(args, &c, 0)) {
        return NULL;
    }
    uint8_t *block = malloc(c.row_len * BLOCK_LANES);
    const int ok = block != NULL;
    if (ok) {
        Py_BEGIN_ALLOW_THREADS
        resample_cols_kernel(c.src.buf, c.in_rows, c.row_len, c.dst.buf, c.out_len, c.first.buf,
                             c.count.buf, c.coeffs.buf, c.ksize, block);
        Py_END_ALLOW_THREADS
        free(block);
    }
    release(&c);
    return ok ? Py_NewRef(Py_None) : PyErr_NoMemory();
}

static PyMethodDef methods[] = {
    {"resample_rows", resample_rows, METH_VARARGS,
     "resample_rows(src, in_rows, row_len, dst, first, count, coeffs, ksize): resample "
     "uint8 rows of row_len values along the row axis."},
    {"resample_cols", resample_cols, METH_VARARGS,
     "resample_cols(src, rows, in_cols, dst, first, count, coeffs, ksize): resample uint8 "
     "RGB rows of in_cols pixels along the column axis."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_resample",
    "Separable 8-bit resampling with precomputed fixed-point coefficients.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__resample(void) { return PyModule_Create(&module); }
