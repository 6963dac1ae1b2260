/*
 * specdec.h: the C API of the specdec native shim over the ONNX Runtime C API.
 *
 * Conventions
 * - Every symbol has the `sd_` prefix. Handles are opaque: `sd_env`, `sd_session_options`,
 *   `sd_session`. `sd_x_create(..., sd_x **out)` makes one, `sd_x_destroy(x)` frees it
 *   (NULL is accepted and ignored).
 * - Every fallible call returns an `sd_status`. The message of the last failure of a call on a
 *   handle is kept on that handle (`sd_x_last_error`), owned by the handle, valid until the next
 *   call on it. Creation calls, which have no handle yet, write their message into a
 *   caller-owned buffer `err` of `err_cap` bytes (always NUL-terminated, truncated to fit; may be
 *   NULL when `err_cap` is 0).
 * - No C++ exception and no abort crosses this API: bad arguments return
 *   `SD_INVALID_ARGUMENT` with a message naming the argument, the input or the output, and the
 *   expected and actual values.
 * - Tensors are described by `sd_tensor_desc` (96 bytes, fixed layout below) and point at
 *   caller-owned memory: the shim never copies tensor data and never frees it.
 *
 * Thread safety
 * - Different handles may be used from different threads at once.
 * - One handle must not be used by two threads at once. `sd_session_run`, `sd_session_bind` and
 *   `sd_session_unbind` detect a concurrent call on the same session and fail with `SD_STATE`
 *   (the handle's message is left unchanged) instead of racing. `sd_x_destroy` must not be called
 *   while another call on the same handle is in progress.
 * - `sd_env` is reference counted by the sessions created from it: destroying it while
 *   sessions are alive is safe; the ONNX Runtime environment is released with the last one.
 * - `sd_kv_keep`, `sd_version`, `sd_ort_version`, `sd_cuda_available` may be called from any
 *   thread.
 */
#ifndef SPECDEC_H
#define SPECDEC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define SD_API __declspec(dllexport)
#else
#define SD_API __attribute__((visibility("default")))
#endif

/* Status codes; keep in sync with `StatusCode` in lib/runtime/errors.ts. */
typedef enum sd_status {
  SD_OK = 0,               /* the call succeeded */
  SD_INVALID_ARGUMENT = 1, /* null handle or pointer, bad size, unknown name, wrong dtype/shape */
  SD_IO = 2,               /* a file could not be read, or a model is malformed */
  SD_ORT = 3,              /* ONNX Runtime reported a failure */
  SD_STATE = 4,            /* the handle is busy or unusable */
  SD_OUT_OF_MEMORY = 5,    /* memory allocation failed */
  SD_UNAVAILABLE = 6       /* a feature (CUDA, a custom op) is not built in or not present */
} sd_status;

/* Element types: the ONNX TensorProto numbering (same as ONNXTensorElementDataType). */
typedef enum sd_dtype {
  SD_DTYPE_UNDEFINED = 0,
  SD_DTYPE_FLOAT32 = 1,
  SD_DTYPE_UINT8 = 2,
  SD_DTYPE_INT8 = 3,
  SD_DTYPE_UINT16 = 4,
  SD_DTYPE_INT16 = 5,
  SD_DTYPE_INT32 = 6,
  SD_DTYPE_INT64 = 7,
  SD_DTYPE_BOOL = 9,
  SD_DTYPE_FLOAT16 = 10,
  SD_DTYPE_FLOAT64 = 11,
  SD_DTYPE_UINT32 = 12,
  SD_DTYPE_UINT64 = 13,
  SD_DTYPE_BFLOAT16 = 16
} sd_dtype;

/* Which side of a session an index refers to. */
typedef enum sd_io_kind { SD_INPUT = 0, SD_OUTPUT = 1 } sd_io_kind;

/* Largest tensor rank the shim accepts. */
#define SD_MAX_RANK 8

/*
 * One tensor handed to the shim: 96 bytes, natural alignment, no padding.
 * `data` is a caller-owned pointer to `byte_length` bytes laid out row-major with `dims`.
 * `byte_length` must equal product(dims[0..rank)) * size(dtype); `data` may be NULL only when
 * `byte_length` is 0.
 */
typedef struct sd_tensor_desc {
  int32_t index;                /* input or output index in the session */
  int32_t dtype;                /* sd_dtype */
  int32_t rank;                 /* 0..SD_MAX_RANK */
  int32_t reserved;             /* must be 0 */
  uint64_t data;                /* const void *: caller-owned tensor memory */
  uint64_t byte_length;         /* bytes at data */
  int64_t dims[SD_MAX_RANK];    /* dims[0..rank), each >= 0 */
} sd_tensor_desc;

typedef struct sd_env sd_env;
typedef struct sd_session_options sd_session_options;
typedef struct sd_session sd_session;

/* ---- library ---------------------------------------------------------------------------- */

/* The shim's version, e.g. "0.1.0". Static storage; never NULL. */
SD_API const char *sd_version(void);

/* The ONNX Runtime library version, e.g. "1.29.0". Static storage owned by ONNX Runtime. */
SD_API const char *sd_ort_version(void);

/* 1 when `SessionOptions.cudaDevice` can work: a CUDA device, a CUDA build of the shim, and ONNX
 * Runtime's CUDA provider (libonnxruntime_providers_cuda.so next to the libonnxruntime.so this
 * process loaded; `deno task setup:gpu`). Else 0. Never fails. */
SD_API int32_t sd_cuda_available(void);

/* The CPU variant of the PackedLinear kernels: 4 (AVX-512, x86-64-v4: the fast one), 3 (AVX2 and
 * FMA), 0 (portable); at most the digit in SPECDEC_CPU_LEVEL when set, read again by each call
 * (the kernels then use this level). Never fails. */
SD_API int32_t sd_cpu_kernel_level(void);

/* Size in bytes of one element of `dtype`, or 0 for an unknown or unsupported dtype. */
SD_API int32_t sd_dtype_size(int32_t dtype);

/* ---- environment ------------------------------------------------------------------------ */

/*
 * Creates an environment (the ONNX Runtime OrtEnv, one per process, shared by reference count).
 * log_level: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal.
 * global_intra_op_threads: < 0 sessions use their own thread pools (the ONNX Runtime default);
 *   0 or more: a global intra-op pool of that many threads (0 = ONNX Runtime's choice) that
 *   sessions share unless their options set their own thread counts.
 * global_inter_op_threads: size of the global inter-op pool (0 = default), used with a global pool.
 * allow_spinning: 1 lets the global pool's threads spin while waiting, 0 makes them sleep.
 * Ownership: *out is owned by the caller, freed with sd_env_destroy. A second live environment
 * must ask for the same global pool settings as the first (else SD_STATE).
 */
SD_API sd_status sd_env_create(int32_t log_level, int32_t global_intra_op_threads,
                               int32_t global_inter_op_threads, int32_t allow_spinning, char *err,
                               size_t err_cap, sd_env **out);

/* Releases the caller's reference; the environment lives on while sessions use it. */
SD_API void sd_env_destroy(sd_env *env);

/* ---- session options -------------------------------------------------------------------- */

/*
 * Creates an empty set of session options (defaults: ONNX Runtime's thread counts or the
 * environment's global pool, all graph optimizations, CPU execution provider).
 * Ownership: *out is owned by the caller, freed with sd_session_options_destroy. Options are read
 * when a session is created and may be destroyed right after; they may be reused.
 */
SD_API sd_status sd_session_options_create(sd_session_options **out);
SD_API void sd_session_options_destroy(sd_session_options *opts);

/* Message of the last failed call on `opts` (owned by opts); "" when none or opts is NULL. */
SD_API const char *sd_session_options_last_error(const sd_session_options *opts);

/* Intra-op threads of the session's own pool (0 = ONNX Runtime's choice, >= 0). */
SD_API sd_status sd_session_options_set_intra_op_threads(sd_session_options *opts, int32_t n);

/* Inter-op threads of the session's own pool (0 = ONNX Runtime's choice, >= 0). */
SD_API sd_status sd_session_options_set_inter_op_threads(sd_session_options *opts, int32_t n);

/* Whether the session's own intra-op threads spin while waiting (1) or sleep (0). */
SD_API sd_status sd_session_options_set_spinning(sd_session_options *opts, int32_t allow);

/* Graph optimization level: 0 none, 1 basic, 2 extended, 3 all (default). */
SD_API sd_status sd_session_options_set_optimization_level(sd_session_options *opts,
                                                           int32_t level);

/*
 * Sets an ONNX Runtime session config entry (e.g. "session.intra_op.allow_spinning" = "0").
 * key and value are UTF-8 C strings, copied.
 */
SD_API sd_status sd_session_options_set_config(sd_session_options *opts, const char *key,
                                               const char *value);

/*
 * Hands the graph initializer `name` in caller-owned memory (desc->index is ignored), so the
 * session uses that memory instead of loading its own copy (ONNX Runtime AddInitializer: no
 * copy). Works for initializers stored inline or as external data; for a model created from
 * bytes whose initializers are external data, the external file must still be found (set the
 * config "session.model_external_initializers_file_folder_path"), though it is not read.
 * Ownership: name is copied; desc->data must stay valid and unchanged until every session
 * created with these options is destroyed.
 */
SD_API sd_status sd_session_options_add_initializer(sd_session_options *opts, const char *name,
                                                    const sd_tensor_desc *desc);

/*
 * Supplies the contents of an external-data file named `file_name` (as written in the model) from
 * memory (ONNX Runtime AddExternalInitializersFromFilesInMemory: copied into the session at
 * creation). Ownership: file_name is copied; data must stay valid until the session is created.
 */
SD_API sd_status sd_session_options_add_external_data(sd_session_options *opts,
                                                      const char *file_name, const void *data,
                                                      size_t byte_length);

/*
 * Registers the custom op domain "specdec" (op TreeAttention) with sessions created from these
 * options. SD_UNAVAILABLE when the shim was built without it.
 */
SD_API sd_status sd_session_options_enable_tree_attention(sd_session_options *opts);

/*
 * Runs sessions created from these options on CUDA device `device_id` (CPU fallback for ops
 * CUDA lacks). SD_UNAVAILABLE (at session creation) when no CUDA provider or device is present.
 */
SD_API sd_status sd_session_options_enable_cuda(sd_session_options *opts, int32_t device_id);

/* ---- session ---------------------------------------------------------------------------- */

/*
 * Loads a model from an ONNX file (UTF-8 path); external data is resolved next to it.
 * opts may be NULL (defaults). Failure: SD_IO when the file is missing, unreadable or not a valid
 * model (the message names the path), SD_ORT for other ONNX Runtime failures; the message goes to
 * err. Ownership: *out is owned by the caller, freed with sd_session_destroy; it holds a
 * reference on env. path and opts are not retained.
 */
SD_API sd_status sd_session_create_from_file(sd_env *env, const sd_session_options *opts,
                                             const char *path, char *err, size_t err_cap,
                                             sd_session **out);

/*
 * Loads a model from `byte_length` bytes of ONNX protobuf (copied by ONNX Runtime while loading;
 * the caller may free them once this returns). Otherwise as sd_session_create_from_file.
 */
SD_API sd_status sd_session_create_from_bytes(sd_env *env, const sd_session_options *opts,
                                              const void *bytes, size_t byte_length, char *err,
                                              size_t err_cap, sd_session **out);

/* Frees the session, its bindings and its metadata (not the caller's tensor memory). */
SD_API void sd_session_destroy(sd_session *session);

/* Message of the last failed call on `session` (owned by it); "" when none or session is NULL. */
SD_API const char *sd_session_last_error(const sd_session *session);

/* Number of inputs (kind SD_INPUT) or outputs (SD_OUTPUT); -1 for a NULL session or bad kind. */
SD_API int32_t sd_session_io_count(const sd_session *session, int32_t kind);

/* Name of input/output `index` (UTF-8, owned by the session, valid until it is destroyed), or
 * NULL for a bad index. */
SD_API const char *sd_session_io_name(const sd_session *session, int32_t kind, int32_t index);

/* Declared element type (sd_dtype) of input/output `index`; 0 for non-tensors; -1 bad index. */
SD_API int32_t sd_session_io_dtype(const sd_session *session, int32_t kind, int32_t index);

/* Declared rank of input/output `index`; -1 for a bad index or a non-tensor. */
SD_API int32_t sd_session_io_rank(const sd_session *session, int32_t kind, int32_t index);

/*
 * Copies the declared dims of input/output `index` into dims[0..cap) (-1 for a dynamic dim).
 * cap must be >= the rank. dims is caller-owned.
 */
SD_API sd_status sd_session_io_dims(sd_session *session, int32_t kind, int32_t index,
                                    int64_t *dims, int32_t cap);

/*
 * Binds tensors persistently: `descs` holds n_inputs input descriptors followed by n_outputs
 * output descriptors (desc_bytes must be (n_inputs + n_outputs) * sizeof(sd_tensor_desc)). Each
 * replaces any earlier binding of its index and is used by every later run until unbound. One
 * buffer may be bound as an input and as an output (a KV cache bound as past_key and
 * present_key is written in place). Validated as in sd_session_run; on failure nothing changes.
 * Ownership: the descriptors are copied; the tensor memory stays caller-owned and must stay
 * valid until it is unbound or the session is destroyed.
 */
SD_API sd_status sd_session_bind(sd_session *session, const void *descs, size_t desc_bytes,
                                 int32_t n_inputs, int32_t n_outputs);

/* Removes the binding of input/output `index` (-1: all of that kind). Unbound indexes are ok. */
SD_API sd_status sd_session_unbind(sd_session *session, int32_t kind, int32_t index);

/*
 * Runs the model once. `descs` holds n_inputs transient input descriptors followed by n_outputs
 * transient output descriptors (desc_bytes = (n_inputs + n_outputs) * sizeof(sd_tensor_desc)).
 * Every model input must be given either here or by sd_session_bind (not both); the outputs
 * computed are the bound ones plus those given here, written in place into their caller-owned
 * memory (the dims given must be the dims the model produces). Checked before running: indexes in
 * range and not repeated, dtype equal to the model's, rank and fixed dims equal to the model's,
 * byte_length equal to product(dims) * size(dtype), data not NULL. Errors name the input or output
 * and give expected and actual values.
 * Ownership: descs is read during the call only; tensor memory is caller-owned.
 */
SD_API sd_status sd_session_run(sd_session *session, const void *descs, size_t desc_bytes,
                                int32_t n_inputs, int32_t n_outputs);

/* ---- KV cache helper -------------------------------------------------------------------- */

/*
 * Compacts accepted KV slots in place, in each of n_buffers caller-owned buffers laid out
 * [rows, max_len, row_elems] with elements of elem_size bytes (for a KV cache:
 * rows = batch * kv_heads, row_elems = head_dim). For every row r and j in [0, n_slots):
 * entry (r, slots[j]) is moved to (r, base + j). `buffers` is n_buffers pairs of uint64
 * (pointer, byte_length); every byte_length must equal rows * max_len * row_elems * elem_size.
 * slots (int32, n_slots of them) must be strictly increasing, slots[j] >= base + j and
 * slots[n_slots - 1] < max_len; base >= 0. Nothing moves when validation fails; the message goes
 * to err. Ownership: everything is caller-owned and only used during the call.
 */
SD_API sd_status sd_kv_keep(const uint64_t *buffers, size_t n_buffers, int64_t rows,
                            int64_t max_len, int64_t row_elems, int32_t elem_size,
                            const int32_t *slots, size_t n_slots, int64_t base, char *err,
                            size_t err_cap);

#ifdef __cplusplus
}
#endif

#endif /* SPECDEC_H */
