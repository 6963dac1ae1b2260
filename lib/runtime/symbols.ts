/**
 * The one symbols table of the native shim (`native/include/specdec.h`), for `Deno.dlopen`.
 * Each parameter carries its C type. Forward runs and session creation are `nonblocking`
 * (they run on a worker thread and return a promise); getters are synchronous.
 *
 * @module
 */

/** FFI declarations of every `sd_*` function the runtime calls. */
export const symbols = {
  // ---- library ----
  sd_version: { parameters: [], result: "pointer" }, // const char *(void)
  sd_ort_version: { parameters: [], result: "pointer" }, // const char *(void)
  sd_cuda_available: { parameters: [], result: "i32" }, // int32_t(void)
  sd_cpu_kernel_level: { parameters: [], result: "i32" }, // int32_t(void)
  sd_dtype_size: { parameters: ["i32"], result: "i32" }, // int32_t(int32_t dtype)

  // ---- environment ----
  sd_env_create: {
    parameters: [
      "i32", // int32_t log_level
      "i32", // int32_t global_intra_op_threads
      "i32", // int32_t global_inter_op_threads
      "i32", // int32_t allow_spinning
      "buffer", // char *err
      "usize", // size_t err_cap
      "buffer", // sd_env **out
    ],
    result: "i32", // sd_status
  },
  sd_env_destroy: { parameters: ["pointer"], result: "void" }, // void(sd_env *env)

  // ---- session options ----
  sd_session_options_create: { parameters: ["buffer"], result: "i32" }, // (sd_session_options **out)
  sd_session_options_destroy: { parameters: ["pointer"], result: "void" }, // (sd_session_options *)
  sd_session_options_last_error: { parameters: ["pointer"], result: "pointer" }, // const char *(opts)
  sd_session_options_set_intra_op_threads: { parameters: ["pointer", "i32"], result: "i32" }, // (opts, int32_t n)
  sd_session_options_set_inter_op_threads: { parameters: ["pointer", "i32"], result: "i32" }, // (opts, int32_t n)
  sd_session_options_set_spinning: { parameters: ["pointer", "i32"], result: "i32" }, // (opts, int32_t allow)
  sd_session_options_set_optimization_level: { parameters: ["pointer", "i32"], result: "i32" }, // (opts, int32_t level)
  sd_session_options_set_config: {
    parameters: ["pointer", "buffer", "buffer"], // (opts, const char *key, const char *value)
    result: "i32",
  },
  sd_session_options_add_initializer: {
    parameters: ["pointer", "buffer", "buffer"], // (opts, const char *name, const sd_tensor_desc *desc)
    result: "i32",
  },
  sd_session_options_add_external_data: {
    parameters: ["pointer", "buffer", "buffer", "usize"], // (opts, const char *file_name, const void *data, size_t byte_length)
    result: "i32",
  },
  sd_session_options_enable_tree_attention: { parameters: ["pointer"], result: "i32" }, // (opts)
  sd_session_options_enable_cuda: { parameters: ["pointer", "i32"], result: "i32" }, // (opts, int32_t device_id)

  // ---- session ----
  sd_session_create_from_file: {
    parameters: [
      "pointer", // sd_env *env
      "pointer", // const sd_session_options *opts (nullable)
      "buffer", // const char *path
      "buffer", // char *err
      "usize", // size_t err_cap
      "buffer", // sd_session **out
    ],
    result: "i32",
    nonblocking: true,
  },
  sd_session_create_from_bytes: {
    parameters: [
      "pointer", // sd_env *env
      "pointer", // const sd_session_options *opts (nullable)
      "buffer", // const void *bytes
      "usize", // size_t byte_length
      "buffer", // char *err
      "usize", // size_t err_cap
      "buffer", // sd_session **out
    ],
    result: "i32",
    nonblocking: true,
  },
  sd_session_destroy: { parameters: ["pointer"], result: "void" }, // void(sd_session *)
  sd_session_last_error: { parameters: ["pointer"], result: "pointer" }, // const char *(session)
  sd_session_io_count: { parameters: ["pointer", "i32"], result: "i32" }, // int32_t(session, int32_t kind)
  sd_session_io_name: { parameters: ["pointer", "i32", "i32"], result: "pointer" }, // const char *(session, kind, index)
  sd_session_io_dtype: { parameters: ["pointer", "i32", "i32"], result: "i32" }, // int32_t(session, kind, index)
  sd_session_io_rank: { parameters: ["pointer", "i32", "i32"], result: "i32" }, // int32_t(session, kind, index)
  sd_session_io_dims: {
    parameters: ["pointer", "i32", "i32", "buffer", "i32"], // (session, kind, index, int64_t *dims, int32_t cap)
    result: "i32",
  },
  sd_session_bind: {
    parameters: ["pointer", "buffer", "usize", "i32", "i32"], // (session, const void *descs, size_t desc_bytes, int32_t n_inputs, int32_t n_outputs)
    result: "i32",
  },
  sd_session_unbind: { parameters: ["pointer", "i32", "i32"], result: "i32" }, // (session, int32_t kind, int32_t index)
  sd_session_run: {
    parameters: ["pointer", "buffer", "usize", "i32", "i32"], // (session, const void *descs, size_t desc_bytes, int32_t n_inputs, int32_t n_outputs)
    result: "i32",
    nonblocking: true,
  },
  // The same function called on the JavaScript thread (Session.run with `blocking: true`).
  sd_session_run_blocking: {
    name: "sd_session_run",
    parameters: ["pointer", "buffer", "usize", "i32", "i32"], // as sd_session_run
    result: "i32",
  },

  // ---- KV cache helper ----
  sd_kv_keep: {
    parameters: [
      "buffer", // const uint64_t *buffers: n_buffers (pointer, byte_length) pairs
      "usize", // size_t n_buffers
      "i64", // int64_t rows
      "i64", // int64_t max_len
      "i64", // int64_t row_elems
      "i32", // int32_t elem_size
      "buffer", // const int32_t *slots
      "usize", // size_t n_slots
      "i64", // int64_t base
      "buffer", // char *err
      "usize", // size_t err_cap
    ],
    result: "i32",
  },
} as const satisfies Deno.ForeignLibraryInterface;

/** The opened native library. */
export type NativeLibrary = Deno.DynamicLibrary<typeof symbols>;
