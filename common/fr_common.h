/*
 * fr_common.h - what every part of fastrun shares: the one error type, the diagnostic that
 * carries an error's detail, the attribute flags, and the operator description (shapes, key,
 * FLOPs, limits) with the model-file reader.
 *
 * Nothing here computes a kernel, opens a socket or touches the database: the server links this
 * library without linking kernels/ (DESIGN.md: data flows kernels <- worker -> cache <- server),
 * yet it must compute the same operator keys as the worker for coverage queries.
 *
 * Conventions (STYLE.md): functions return fr_err and hand results back through out-parameters;
 * a fr_diag, when non-NULL, receives a one-line human detail naming the file, operator and field.
 */
#ifndef FR_COMMON_H
#define FR_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FR_WUR __attribute__((warn_unused_result))
#define FR_PRINTF(a, b) __attribute__((format(printf, a, b)))

/* ---------------------------------------------------------------------------------------------
 * Errors (error.c): one X-macro list gives each error its name, message and HTTP status.
 * ------------------------------------------------------------------------------------------- */
#define FR_ERRORS(X)                                                                               \
    X(OK, "ok", 200)                                                                               \
    X(NOMEM, "out of memory", 503)                                                                 \
    X(INVALID_ARGUMENT, "invalid argument", 400)                                                   \
    X(BAD_JSON, "malformed JSON", 400)                                                             \
    X(BAD_MODEL, "invalid model", 400)                                                             \
    X(BAD_REQUEST, "invalid request", 400)                                                         \
    X(TOO_LARGE, "input exceeds a limit", 413)                                                     \
    X(UNSUPPORTED_MEDIA, "unsupported content type", 415)                                          \
    X(NOT_FOUND, "not found", 404)                                                                 \
    X(METHOD_NOT_ALLOWED, "method not allowed", 405)                                               \
    X(UNAUTHORIZED, "missing or invalid bearer token", 401)                                        \
    X(FORBIDDEN, "token role not allowed here", 403)                                               \
    X(CONFLICT, "conflict with the current state", 409)                                            \
    X(LEASE_LOST, "lease expired or held by another worker", 409)                                  \
    X(CORRUPT, "corrupt cache document", 422)                                                      \
    X(VERSION, "unsupported format version", 422)                                                  \
    X(LOCKED, "file is locked by another process", 409)                                            \
    X(IO, "input/output error", 500)                                                               \
    X(TIMEOUT, "timed out", 504)                                                                   \
    X(CRASHED, "crashed", 500)                                                                     \
    X(WRONG_RESULT, "result differs from the reference", 500)                                      \
    X(NOT_REPRODUCIBLE, "repeat run not bit-identical", 500)                                       \
    X(DB_UNAVAILABLE, "database unavailable", 503)                                                 \
    X(DB, "database error", 500)                                                                   \
    X(UNAVAILABLE, "service unavailable", 503)                                                     \
    X(INTERNAL, "internal error", 500)

typedef enum {
#define FR_ERR_ENUM(name, msg, status) FR_ERR_##name,
    FR_ERRORS(FR_ERR_ENUM)
#undef FR_ERR_ENUM
        FR_ERR__COUNT
} fr_err;

/* "NOT_FOUND"; lower-case JSON code via fr_err_code ("not_found"). Never NULL. */
const char *fr_err_name(fr_err e);
const char *fr_err_code(fr_err e);
const char *fr_err_message(fr_err e);
int fr_err_http_status(fr_err e);

/* A diagnostic: the detail of the last error, e.g. "tiny.json: operator 'stem': field 'pad':
 * expected an array of 2 non-negative integers". Caller-allocated, no cleanup needed. */
typedef struct {
    char msg[768];
} fr_diag;

/* Sets d->msg (when d is non-NULL) and returns e, so callers write
 * `return fr_diag_set(d, FR_ERR_BAD_MODEL, "...", ...);` */
fr_err fr_diag_set(fr_diag *d, fr_err e, const char *fmt, ...) FR_PRINTF(3, 4);
/* Prepends "prefix: " to an existing detail (for adding the file name on the way up). */
void fr_diag_prefix(fr_diag *d, const char *fmt, ...) FR_PRINTF(2, 3);

/* ---------------------------------------------------------------------------------------------
 * Attributes (attr.c). Bit flags of an algorithm, persisted by name, never by bit.
 *   REPRODUCIBLE: bit-identical output for the same input and thread count, run after run.
 *   NAIVE: the plain reference implementation; skipped by --fast-run, profiled by --full-run.
 *   USES_BLAS: the time depends on the BLAS library and its core (informational).
 * ------------------------------------------------------------------------------------------- */
#define FR_ATTRS(X)                                                                                \
    X(REPRODUCIBLE, 0)                                                                             \
    X(NAIVE, 1)                                                                                    \
    X(USES_BLAS, 2)

enum {
#define FR_ATTR_ENUM(name, bit) FR_ATTR_##name = 1u << (bit),
    FR_ATTRS(FR_ATTR_ENUM)
#undef FR_ATTR_ENUM
};

/* Name of one attribute bit, or NULL for an unknown bit. */
const char *fr_attr_name(unsigned bit);
/* Parses "REPRODUCIBLE" (case-sensitive). FR_ERR_INVALID_ARGUMENT for an unknown name. */
FR_WUR fr_err fr_attr_parse(const char *name, unsigned *out_bit);
/* Writes "REPRODUCIBLE|NAIVE" (or "-" for none) into buf. */
void fr_attrs_format(unsigned attrs, char *buf, size_t len);

/* ---------------------------------------------------------------------------------------------
 * Operators (op.c). Shapes exactly as ../shared/models/README.md defines them.
 * ------------------------------------------------------------------------------------------- */
typedef enum { FR_OP_CONV2D = 0, FR_OP_MATMUL = 1, FR_OP__COUNT } fr_op_kind;

typedef struct {
    int n, c, h, w;   /* input NCHW */
    int k, r, s;      /* weights KCRS, C per group */
    int stride[2];    /* sh, sw */
    int pad[2];       /* ph, pw: zero padding on each side */
    int dilation[2];  /* dh, dw */
    int groups;       /* c and k divisible by it */
} fr_conv2d;

typedef struct {
    int batch, m, n, k; /* C[batch][m][n] = A[batch][m][k] * B[batch][k][n], row-major */
} fr_matmul;

typedef struct {
    fr_op_kind kind;
    union {
        fr_conv2d conv;
        fr_matmul mm;
    };
} fr_op;

/* Limits stated by the tool (models/README.md: "buffers would exceed the limits the tool
 * states"). Every dimension is at most FR_MAX_DIM; every buffer at most FR_MAX_TENSOR_BYTES. */
#define FR_MAX_DIM (1 << 20)
#define FR_MAX_TENSOR_BYTES ((int64_t)1 << 30)
#define FR_MAX_KEY_LEN 256

/* Operand sizes in elements: src (conv input / matmul A), wei (conv weights / matmul B),
 * dst (conv output / matmul C). */
typedef struct {
    int64_t src, wei, dst;
} fr_op_sizes;

const char *fr_op_kind_name(fr_op_kind kind); /* "conv2d", "matmul" */
/* Output height p and width q of a conv2d (may be <= 0 for an invalid shape). */
void fr_conv2d_out(const fr_conv2d *c, int *p, int *q);
fr_op_sizes fr_op_sizes_of(const fr_op *op);
double fr_op_flops(const fr_op *op);
/* Checks every field: positive sizes, divisibility by groups, non-empty output, buffer limits.
 * The detail names the field, e.g. "field 'groups': c=6 is not divisible by groups=4". */
FR_WUR fr_err fr_op_validate(const fr_op *op, fr_diag *d);
/* Canonical key: kind, every shape and parameter, dtype, weight preprocessing. Byte-for-byte
 * equal for equal operators, e.g.
 *   "conv2d n=1 c=64 h=56 w=56 k=64 r=3 s=3 stride=1,1 pad=1,1 dilation=1,1 groups=1 f32 wp=0"
 *   "matmul batch=1 m=64 n=512 k=512 f32 wp=0"
 * buf needs FR_MAX_KEY_LEN bytes. */
void fr_op_key(const fr_op *op, bool weight_preprocess, char *buf, size_t len);
/* Inverse of fr_op_key: parses a key back into an operator and its wp flag, rejecting anything
 * that is not exactly canonical (so a stored key is always the key a worker would compute). */
FR_WUR fr_err fr_op_parse_key(const char *key, fr_op *op, bool *weight_preprocess, fr_diag *d);
/* One line in words, e.g. "conv2d 3x3 s1 p1, 64->64 ch, 56x56, n=1" or "matmul 64x512 * 512x512". */
void fr_op_describe(const fr_op *op, char *buf, size_t len);

/* ---------------------------------------------------------------------------------------------
 * Model files (model.c), read with jansson. Unknown fields and ops are errors; sizes bounded.
 * ------------------------------------------------------------------------------------------- */
#define FR_MODEL_MAX_BYTES (16 << 20)
#define FR_MODEL_MAX_OPS 10000
#define FR_MODEL_MAX_NAME 128
#define FR_MODEL_MAX_DESCRIPTION 4096

typedef struct {
    char *name; /* owned */
    fr_op op;
} fr_model_op;

typedef struct {
    char *name;        /* owned */
    char *description; /* owned, may be NULL */
    fr_model_op *ops;  /* owned, nops entries */
    size_t nops;
} fr_model;

/* Loads a model file. origin-prefixed errors: "resnet.json: operator 'conv1' (#0): field 'k':
 * must be a positive integer". out must be zeroed or cleaned up; on error it stays empty. */
FR_WUR fr_err fr_model_load_file(const char *path, fr_model *out, fr_diag *d);
/* Same from memory (e.g. an HTTP body); origin names the source in errors ("request body"). */
FR_WUR fr_err fr_model_parse(const char *buf, size_t len, const char *origin, fr_model *out,
                             fr_diag *d);
/* Same from an already parsed JSON value (a json_t *, borrowed). */
FR_WUR fr_err fr_model_from_json(const void *json_root, const char *origin, fr_model *out,
                                 fr_diag *d);
/* Frees everything; safe on a zeroed or already cleaned model. */
void fr_model_cleanup(fr_model *m);

#endif
