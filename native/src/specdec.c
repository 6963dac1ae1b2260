/*
 * specdec.c: the shim over the ONNX Runtime C API declared in native/include/specdec.h:
 * environment, session options, sessions (metadata, binding, run). The KV helper lives in
 * kv_keep.c, the custom-op hooks in custom_ops.h.
 */
/* _GNU_SOURCE for dladdr(): where the loaded libonnxruntime.so lives (its CUDA provider sits next
 * to it). It implies _POSIX_C_SOURCE 200809L. */
#define _GNU_SOURCE

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "_shim.h"
#include "custom_ops.h"
#include "packed_linear.h"
#include "onnxruntime_c_api.h"
#include "specdec.h"

#define SD_VERSION "0.1.0"
#define SD_ERR_CAP 2048
#define SD_PATH_CAP 1024

/* ---- ONNX Runtime API table ------------------------------------------------------------- */

static const OrtApi *g_ort = NULL;
static pthread_once_t g_ort_once = PTHREAD_ONCE_INIT;

static void ort_init(void) {
  const OrtApiBase *base = OrtGetApiBase();
  if (base != NULL) g_ort = base->GetApi(ORT_API_VERSION);
}

static const OrtApi *ort(void) {
  pthread_once(&g_ort_once, ort_init);
  return g_ort;
}

#define ORT_MISSING_MSG \
  "ONNX Runtime library does not provide C API version %d (it is older than the headers)"

/* ---- error helpers ---------------------------------------------------------------------- */

void sd__set_err(char *err, size_t cap, const char *fmt, ...) {
  if (err == NULL || cap == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, cap, fmt, ap);
  va_end(ap);
}

/* Maps an ONNX Runtime status to sd_status, writes "<prefix>: <message>", frees the status. */
static sd_status take_ort_status(OrtStatus *st, sd_status fallback, char *err, size_t cap,
                                 const char *prefix) {
  if (st == NULL) return SD_OK;
  OrtErrorCode code = g_ort->GetErrorCode(st);
  const char *msg = g_ort->GetErrorMessage(st);
  sd__set_err(err, cap, "%s: %s", prefix, msg != NULL ? msg : "(no message)");
  g_ort->ReleaseStatus(st);
  switch (code) {
    case ORT_INVALID_ARGUMENT:
      return SD_INVALID_ARGUMENT;
    case ORT_NO_SUCHFILE:
    case ORT_NO_MODEL:
    case ORT_INVALID_PROTOBUF:
    case ORT_INVALID_GRAPH:
      return fallback;
    default:
      return SD_ORT;
  }
}

/* ---- dtypes ----------------------------------------------------------------------------- */

int32_t sd_dtype_size(int32_t dtype) {
  switch (dtype) {
    case SD_DTYPE_FLOAT32:
    case SD_DTYPE_INT32:
    case SD_DTYPE_UINT32:
      return 4;
    case SD_DTYPE_UINT8:
    case SD_DTYPE_INT8:
    case SD_DTYPE_BOOL:
      return 1;
    case SD_DTYPE_UINT16:
    case SD_DTYPE_INT16:
    case SD_DTYPE_FLOAT16:
    case SD_DTYPE_BFLOAT16:
      return 2;
    case SD_DTYPE_INT64:
    case SD_DTYPE_FLOAT64:
    case SD_DTYPE_UINT64:
      return 8;
    default:
      return 0;
  }
}

static const char *dtype_name(int32_t dtype) {
  switch (dtype) {
    case SD_DTYPE_FLOAT32: return "float32";
    case SD_DTYPE_UINT8: return "uint8";
    case SD_DTYPE_INT8: return "int8";
    case SD_DTYPE_UINT16: return "uint16";
    case SD_DTYPE_INT16: return "int16";
    case SD_DTYPE_INT32: return "int32";
    case SD_DTYPE_INT64: return "int64";
    case SD_DTYPE_BOOL: return "bool";
    case SD_DTYPE_FLOAT16: return "float16";
    case SD_DTYPE_FLOAT64: return "float64";
    case SD_DTYPE_UINT32: return "uint32";
    case SD_DTYPE_UINT64: return "uint64";
    case SD_DTYPE_BFLOAT16: return "bfloat16";
    case 8: return "string";
    case 0: return "non-tensor";
    default: return "unknown";
  }
}

/* ---- library ---------------------------------------------------------------------------- */

const char *sd_version(void) { return SD_VERSION; }

const char *sd_ort_version(void) {
  const OrtApiBase *base = OrtGetApiBase();
  const char *v = base != NULL ? base->GetVersionString() : NULL;
  return v != NULL ? v : "unknown";
}

/* Writes the path where ONNX Runtime looks for its CUDA provider: libonnxruntime_providers_cuda.so
 * in the folder of the libonnxruntime.so this process loaded, as the loader named it (ONNX Runtime
 * does not resolve links: tested with 1.29). Returns 1 when that file exists, else 0. */
static int cuda_provider_path(char *out, size_t cap) {
  static const char name[] = "libonnxruntime_providers_cuda.so";
  Dl_info info;
  const char *lib = NULL;
  if (dladdr((void *)OrtGetApiBase, &info) != 0) lib = info.dli_fname;
  const char *slash = lib != NULL ? strrchr(lib, '/') : NULL;
  if (slash == NULL) {
    snprintf(out, cap, "%s", name);
  } else {
    snprintf(out, cap, "%.*s/%s", (int)(slash - lib), lib, name);
  }
  struct stat st;
  return stat(out, &st) == 0 && S_ISREG(st.st_mode);
}

int32_t sd_cpu_kernel_level(void) { return sd_pl_refresh_cpu_level(); }

int32_t sd_cuda_available(void) {
  if (ort() == NULL) return 0;
  char **providers = NULL;
  int n = 0;
  OrtStatus *st = g_ort->GetAvailableProviders(&providers, &n);
  if (st != NULL) {
    g_ort->ReleaseStatus(st);
    return 0;
  }
  int found = 0;
  for (int i = 0; i < n; i++) {
    if (providers[i] != NULL && strcmp(providers[i], "CUDAExecutionProvider") == 0) found = 1;
  }
  st = g_ort->ReleaseAvailableProviders(providers, n);
  if (st != NULL) g_ort->ReleaseStatus(st);
  if (!found || sd__cuda_device_count() <= 0) return 0;
  char provider[SD_PATH_CAP];
  return cuda_provider_path(provider, sizeof provider);
}

/* ---- environment ------------------------------------------------------------------------ */

struct sd_env {
  OrtEnv *ort;        /* owned: one reference on the process-wide OrtEnv */
  atomic_int refs;    /* the caller's reference + one per live session */
  int32_t global;     /* 1 when the env has global thread pools */
};

/* ONNX Runtime keeps one OrtEnv per process: a second CreateEnv returns the first with its
 * settings, so live environments must agree on the global pool settings. */
static pthread_mutex_t g_env_mutex = PTHREAD_MUTEX_INITIALIZER;
static int g_env_live = 0;
static int32_t g_env_config[3] = {0, 0, 0}; /* intra, inter, spinning of the live envs */

sd_status sd_env_create(int32_t log_level, int32_t global_intra_op_threads,
                        int32_t global_inter_op_threads, int32_t allow_spinning, char *err,
                        size_t err_cap, sd_env **out) {
  if (out == NULL) {
    sd__set_err(err, err_cap, "out must not be NULL");
    return SD_INVALID_ARGUMENT;
  }
  *out = NULL;
  if (log_level < 0 || log_level > 4) {
    sd__set_err(err, err_cap, "log_level must be in [0, 4], got %d", log_level);
    return SD_INVALID_ARGUMENT;
  }
  if (global_inter_op_threads < 0) {
    sd__set_err(err, err_cap, "global_inter_op_threads must be >= 0, got %d",
                global_inter_op_threads);
    return SD_INVALID_ARGUMENT;
  }
  if (allow_spinning != 0 && allow_spinning != 1) {
    sd__set_err(err, err_cap, "allow_spinning must be 0 or 1, got %d", allow_spinning);
    return SD_INVALID_ARGUMENT;
  }
  if (ort() == NULL) {
    sd__set_err(err, err_cap, ORT_MISSING_MSG, ORT_API_VERSION);
    return SD_STATE;
  }
  int32_t global = global_intra_op_threads >= 0 ? 1 : 0;
  int32_t config[3] = {global ? global_intra_op_threads : -1, global ? global_inter_op_threads : -1,
                       global ? allow_spinning : -1};
  sd_env *env = calloc(1, sizeof *env);
  if (env == NULL) {
    sd__set_err(err, err_cap, "out of memory");
    return SD_OUT_OF_MEMORY;
  }
  pthread_mutex_lock(&g_env_mutex);
  if (g_env_live > 0 && memcmp(config, g_env_config, sizeof config) != 0) {
    pthread_mutex_unlock(&g_env_mutex);
    free(env);
    sd__set_err(err, err_cap,
                "an environment with other global thread settings is alive (intra %d, inter %d, "
                "spinning %d; asked intra %d, inter %d, spinning %d): ONNX Runtime has one per "
                "process",
                g_env_config[0], g_env_config[1], g_env_config[2], config[0], config[1],
                config[2]);
    return SD_STATE;
  }
  OrtStatus *st = NULL;
  OrtLoggingLevel level = (OrtLoggingLevel)log_level;
  if (global) {
    OrtThreadingOptions *tp = NULL;
    st = g_ort->CreateThreadingOptions(&tp);
    if (st == NULL) st = g_ort->SetGlobalIntraOpNumThreads(tp, global_intra_op_threads);
    if (st == NULL) st = g_ort->SetGlobalInterOpNumThreads(tp, global_inter_op_threads);
    if (st == NULL) st = g_ort->SetGlobalSpinControl(tp, allow_spinning);
    if (st == NULL) st = g_ort->CreateEnvWithGlobalThreadPools(level, "specdec", tp, &env->ort);
    if (tp != NULL) g_ort->ReleaseThreadingOptions(tp);
  } else {
    st = g_ort->CreateEnv(level, "specdec", &env->ort);
  }
  if (st != NULL) {
    pthread_mutex_unlock(&g_env_mutex);
    free(env);
    return take_ort_status(st, SD_ORT, err, err_cap, "cannot create the ONNX Runtime environment");
  }
  g_env_live++;
  memcpy(g_env_config, config, sizeof config);
  pthread_mutex_unlock(&g_env_mutex);
  atomic_init(&env->refs, 1);
  env->global = global;
  *out = env;
  return SD_OK;
}

static void env_release(sd_env *env) {
  if (env == NULL) return;
  if (atomic_fetch_sub(&env->refs, 1) != 1) return;
  pthread_mutex_lock(&g_env_mutex);
  g_ort->ReleaseEnv(env->ort);
  g_env_live--;
  pthread_mutex_unlock(&g_env_mutex);
  free(env);
}

void sd_env_destroy(sd_env *env) { env_release(env); }

/* ---- session options -------------------------------------------------------------------- */

typedef struct sd_kv_pair {
  char *key;
  char *value;
} sd_kv_pair;

typedef struct sd_initializer {
  char *name;
  sd_tensor_desc desc;
} sd_initializer;

typedef struct sd_external_file {
  char *name;
  const void *data;
  size_t byte_length;
} sd_external_file;

struct sd_session_options {
  int32_t intra;       /* -1: not set */
  int32_t inter;       /* -1: not set */
  int32_t spinning;    /* -1: not set */
  int32_t opt_level;   /* 0..3 */
  int32_t tree_attention;
  int32_t cuda_device; /* -1: CPU only */
  sd_kv_pair *config;  /* [n_config] */
  size_t n_config;
  sd_initializer *inits; /* [n_inits] */
  size_t n_inits;
  sd_external_file *files; /* [n_files] */
  size_t n_files;
  char last_error[SD_ERR_CAP];
};

sd_status sd_session_options_create(sd_session_options **out) {
  if (out == NULL) return SD_INVALID_ARGUMENT;
  sd_session_options *o = calloc(1, sizeof *o);
  if (o == NULL) {
    *out = NULL;
    return SD_OUT_OF_MEMORY;
  }
  o->intra = -1;
  o->inter = -1;
  o->spinning = -1;
  o->opt_level = 3;
  o->cuda_device = -1;
  *out = o;
  return SD_OK;
}

void sd_session_options_destroy(sd_session_options *o) {
  if (o == NULL) return;
  for (size_t i = 0; i < o->n_config; i++) {
    free(o->config[i].key);
    free(o->config[i].value);
  }
  for (size_t i = 0; i < o->n_inits; i++) free(o->inits[i].name);
  for (size_t i = 0; i < o->n_files; i++) free(o->files[i].name);
  free(o->config);
  free(o->inits);
  free(o->files);
  free(o);
}

const char *sd_session_options_last_error(const sd_session_options *o) {
  return o != NULL ? o->last_error : "";
}

#define OPTS_CHECK(o)                   \
  do {                                  \
    if ((o) == NULL) return SD_INVALID_ARGUMENT; \
    (o)->last_error[0] = '\0';          \
  } while (0)

sd_status sd_session_options_set_intra_op_threads(sd_session_options *o, int32_t n) {
  OPTS_CHECK(o);
  if (n < 0) {
    sd__set_err(o->last_error, SD_ERR_CAP, "intra_op_threads must be >= 0, got %d", n);
    return SD_INVALID_ARGUMENT;
  }
  o->intra = n;
  return SD_OK;
}

sd_status sd_session_options_set_inter_op_threads(sd_session_options *o, int32_t n) {
  OPTS_CHECK(o);
  if (n < 0) {
    sd__set_err(o->last_error, SD_ERR_CAP, "inter_op_threads must be >= 0, got %d", n);
    return SD_INVALID_ARGUMENT;
  }
  o->inter = n;
  return SD_OK;
}

sd_status sd_session_options_set_spinning(sd_session_options *o, int32_t allow) {
  OPTS_CHECK(o);
  if (allow != 0 && allow != 1) {
    sd__set_err(o->last_error, SD_ERR_CAP, "allow_spinning must be 0 or 1, got %d", allow);
    return SD_INVALID_ARGUMENT;
  }
  o->spinning = allow;
  return SD_OK;
}

sd_status sd_session_options_set_optimization_level(sd_session_options *o, int32_t level) {
  OPTS_CHECK(o);
  if (level < 0 || level > 3) {
    sd__set_err(o->last_error, SD_ERR_CAP, "optimization level must be in [0, 3], got %d", level);
    return SD_INVALID_ARGUMENT;
  }
  o->opt_level = level;
  return SD_OK;
}

sd_status sd_session_options_set_config(sd_session_options *o, const char *key,
                                        const char *value) {
  OPTS_CHECK(o);
  if (key == NULL || key[0] == '\0' || value == NULL) {
    sd__set_err(o->last_error, SD_ERR_CAP, "config key must be a non-empty string and value "
                                           "a string");
    return SD_INVALID_ARGUMENT;
  }
  for (size_t i = 0; i < o->n_config; i++) {
    if (strcmp(o->config[i].key, key) == 0) {
      char *v = strdup(value);
      if (v == NULL) return SD_OUT_OF_MEMORY;
      free(o->config[i].value);
      o->config[i].value = v;
      return SD_OK;
    }
  }
  sd_kv_pair *grown = realloc(o->config, (o->n_config + 1) * sizeof *grown);
  if (grown == NULL) return SD_OUT_OF_MEMORY;
  o->config = grown;
  char *k = strdup(key);
  char *v = strdup(value);
  if (k == NULL || v == NULL) {
    free(k);
    free(v);
    return SD_OUT_OF_MEMORY;
  }
  o->config[o->n_config].key = k;
  o->config[o->n_config].value = v;
  o->n_config++;
  return SD_OK;
}

/* Checks a descriptor on its own (not against a model): dtype, rank, dims, byte length. */
static sd_status check_desc_alone(const sd_tensor_desc *d, const char *what, const char *name,
                                  char *err, size_t cap) {
  int32_t size = sd_dtype_size(d->dtype);
  if (size == 0) {
    sd__set_err(err, cap, "%s '%s': unsupported dtype %d", what, name, d->dtype);
    return SD_INVALID_ARGUMENT;
  }
  if (d->rank < 0 || d->rank > SD_MAX_RANK) {
    sd__set_err(err, cap, "%s '%s': rank must be in [0, %d], got %d", what, name, SD_MAX_RANK,
                d->rank);
    return SD_INVALID_ARGUMENT;
  }
  if (d->reserved != 0) {
    sd__set_err(err, cap, "%s '%s': reserved field must be 0, got %d", what, name, d->reserved);
    return SD_INVALID_ARGUMENT;
  }
  uint64_t count = 1;
  for (int32_t i = 0; i < d->rank; i++) {
    if (d->dims[i] < 0) {
      sd__set_err(err, cap, "%s '%s': dim %d must be >= 0, got %lld", what, name, i,
                  (long long)d->dims[i]);
      return SD_INVALID_ARGUMENT;
    }
    uint64_t dim = (uint64_t)d->dims[i];
    if (dim != 0 && count > UINT64_MAX / dim / (uint64_t)size) {
      sd__set_err(err, cap, "%s '%s': dims overflow the addressable size", what, name);
      return SD_INVALID_ARGUMENT;
    }
    count *= dim;
  }
  uint64_t expected = count * (uint64_t)size;
  if (d->byte_length != expected) {
    sd__set_err(err, cap, "%s '%s': byte length expected %llu (%llu %s elements), got %llu", what,
                name, (unsigned long long)expected, (unsigned long long)count,
                dtype_name(d->dtype), (unsigned long long)d->byte_length);
    return SD_INVALID_ARGUMENT;
  }
  if (d->data == 0 && d->byte_length != 0) {
    sd__set_err(err, cap, "%s '%s': data pointer is NULL", what, name);
    return SD_INVALID_ARGUMENT;
  }
  return SD_OK;
}

sd_status sd_session_options_add_initializer(sd_session_options *o, const char *name,
                                             const sd_tensor_desc *desc) {
  OPTS_CHECK(o);
  if (name == NULL || name[0] == '\0' || desc == NULL) {
    sd__set_err(o->last_error, SD_ERR_CAP, "initializer name and desc must not be NULL or empty");
    return SD_INVALID_ARGUMENT;
  }
  sd_status s = check_desc_alone(desc, "initializer", name, o->last_error, SD_ERR_CAP);
  if (s != SD_OK) return s;
  for (size_t i = 0; i < o->n_inits; i++) {
    if (strcmp(o->inits[i].name, name) == 0) {
      sd__set_err(o->last_error, SD_ERR_CAP, "initializer '%s' was already added", name);
      return SD_INVALID_ARGUMENT;
    }
  }
  sd_initializer *grown = realloc(o->inits, (o->n_inits + 1) * sizeof *grown);
  if (grown == NULL) return SD_OUT_OF_MEMORY;
  o->inits = grown;
  char *n = strdup(name);
  if (n == NULL) return SD_OUT_OF_MEMORY;
  o->inits[o->n_inits].name = n;
  o->inits[o->n_inits].desc = *desc;
  o->n_inits++;
  return SD_OK;
}

sd_status sd_session_options_add_external_data(sd_session_options *o, const char *file_name,
                                               const void *data, size_t byte_length) {
  OPTS_CHECK(o);
  if (file_name == NULL || file_name[0] == '\0' || (data == NULL && byte_length != 0)) {
    sd__set_err(o->last_error, SD_ERR_CAP,
                "external data file_name must be non-empty and data non-NULL");
    return SD_INVALID_ARGUMENT;
  }
  sd_external_file *grown = realloc(o->files, (o->n_files + 1) * sizeof *grown);
  if (grown == NULL) return SD_OUT_OF_MEMORY;
  o->files = grown;
  char *n = strdup(file_name);
  if (n == NULL) return SD_OUT_OF_MEMORY;
  o->files[o->n_files].name = n;
  o->files[o->n_files].data = data;
  o->files[o->n_files].byte_length = byte_length;
  o->n_files++;
  return SD_OK;
}

sd_status sd_session_options_enable_tree_attention(sd_session_options *o) {
  OPTS_CHECK(o);
  o->tree_attention = 1;
  return SD_OK;
}

sd_status sd_session_options_enable_cuda(sd_session_options *o, int32_t device_id) {
  OPTS_CHECK(o);
  if (device_id < 0) {
    sd__set_err(o->last_error, SD_ERR_CAP, "device_id must be >= 0, got %d", device_id);
    return SD_INVALID_ARGUMENT;
  }
  o->cuda_device = device_id;
  return SD_OK;
}

/* ---- session ---------------------------------------------------------------------------- */

typedef struct sd_io {
  char *name;      /* owned */
  int32_t dtype;   /* sd_dtype; 0 for a non-tensor */
  int32_t rank;    /* -1 for a non-tensor or unknown rank */
  int64_t *dims;   /* [rank] declared dims, -1 dynamic; owned */
} sd_io;

struct sd_session {
  OrtSession *ort;            /* owned */
  sd_env *env;                /* one reference */
  OrtMemoryInfo *mem;         /* owned: CPU memory info of every tensor */
  OrtValue **initializers;    /* [n_initializers] owned, over caller memory */
  size_t n_initializers;
  int32_t n_io[2];            /* inputs, outputs */
  sd_io *io[2];               /* [n_io[k]] */
  OrtValue **bound[2];        /* [n_io[k]] owned OrtValue over caller memory, or NULL */
  OrtValue **transient[2];    /* [n_io[k]] per-run scratch */
  const char **run_in_names;  /* [n_io[0]] per-run scratch */
  const OrtValue **run_in;    /* [n_io[0]] */
  const char **run_out_names; /* [n_io[1]] */
  OrtValue **run_out;         /* [n_io[1]] */
  atomic_int busy;            /* 1 while a mutating call runs */
  char last_error[SD_ERR_CAP];
};

static const char *kind_name(int32_t kind) { return kind == SD_INPUT ? "input" : "output"; }

static void free_io(sd_session *s) {
  for (int k = 0; k < 2; k++) {
    if (s->io[k] != NULL) {
      for (int32_t i = 0; i < s->n_io[k]; i++) {
        free(s->io[k][i].name);
        free(s->io[k][i].dims);
      }
    }
    if (s->bound[k] != NULL) {
      for (int32_t i = 0; i < s->n_io[k]; i++) {
        if (s->bound[k][i] != NULL) g_ort->ReleaseValue(s->bound[k][i]);
      }
    }
    free(s->io[k]);
    free(s->bound[k]);
    free(s->transient[k]);
  }
  free(s->run_in_names);
  free(s->run_in);
  free(s->run_out_names);
  free(s->run_out);
}

void sd_session_destroy(sd_session *s) {
  if (s == NULL) return;
  if (s->ort != NULL) g_ort->ReleaseSession(s->ort);
  free_io(s);
  for (size_t i = 0; i < s->n_initializers; i++) g_ort->ReleaseValue(s->initializers[i]);
  free(s->initializers);
  if (s->mem != NULL) g_ort->ReleaseMemoryInfo(s->mem);
  env_release(s->env);
  free(s);
}

/* A byte that stands in for the data pointer of an empty tensor (ONNX Runtime wants non-NULL). */
static char g_empty_tensor_byte;

static sd_status make_value(const sd_session *s, const sd_tensor_desc *d, OrtValue **out,
                            char *err, size_t cap, const char *what, const char *name) {
  void *data = d->byte_length == 0 ? (void *)&g_empty_tensor_byte : (void *)(uintptr_t)d->data;
  OrtStatus *st = g_ort->CreateTensorWithDataAsOrtValue(
      s->mem, data, (size_t)d->byte_length, d->dims, (size_t)d->rank,
      (ONNXTensorElementDataType)d->dtype, out);
  if (st != NULL) {
    char prefix[512];
    snprintf(prefix, sizeof prefix, "%s '%s': cannot make a tensor", what, name);
    *out = NULL;
    return take_ort_status(st, SD_ORT, err, cap, prefix);
  }
  return SD_OK;
}

static sd_status read_io(sd_session *s, int32_t kind) {
  OrtStatus *st = NULL;
  size_t n = 0;
  st = kind == SD_INPUT ? g_ort->SessionGetInputCount(s->ort, &n)
                        : g_ort->SessionGetOutputCount(s->ort, &n);
  if (st != NULL) return take_ort_status(st, SD_ORT, s->last_error, SD_ERR_CAP, "io count");
  s->n_io[kind] = (int32_t)n;
  s->io[kind] = calloc(n > 0 ? n : 1, sizeof(sd_io));
  s->bound[kind] = calloc(n > 0 ? n : 1, sizeof(OrtValue *));
  s->transient[kind] = calloc(n > 0 ? n : 1, sizeof(OrtValue *));
  if (s->io[kind] == NULL || s->bound[kind] == NULL || s->transient[kind] == NULL) {
    return SD_OUT_OF_MEMORY;
  }
  OrtAllocator *alloc = NULL;
  st = g_ort->GetAllocatorWithDefaultOptions(&alloc);
  if (st != NULL) return take_ort_status(st, SD_ORT, s->last_error, SD_ERR_CAP, "allocator");
  for (size_t i = 0; i < n; i++) {
    sd_io *io = &s->io[kind][i];
    io->rank = -1;
    char *name = NULL;
    st = kind == SD_INPUT ? g_ort->SessionGetInputName(s->ort, i, alloc, &name)
                          : g_ort->SessionGetOutputName(s->ort, i, alloc, &name);
    if (st != NULL) return take_ort_status(st, SD_ORT, s->last_error, SD_ERR_CAP, "io name");
    io->name = strdup(name);
    st = g_ort->AllocatorFree(alloc, name);
    if (st != NULL) g_ort->ReleaseStatus(st);
    if (io->name == NULL) return SD_OUT_OF_MEMORY;
    OrtTypeInfo *ti = NULL;
    st = kind == SD_INPUT ? g_ort->SessionGetInputTypeInfo(s->ort, i, &ti)
                          : g_ort->SessionGetOutputTypeInfo(s->ort, i, &ti);
    if (st != NULL) return take_ort_status(st, SD_ORT, s->last_error, SD_ERR_CAP, "io type");
    enum ONNXType type = ONNX_TYPE_UNKNOWN;
    st = g_ort->GetOnnxTypeFromTypeInfo(ti, &type);
    if (st == NULL && type == ONNX_TYPE_TENSOR) {
      const OrtTensorTypeAndShapeInfo *info = NULL;
      ONNXTensorElementDataType et = ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED;
      size_t rank = 0;
      st = g_ort->CastTypeInfoToTensorInfo(ti, &info);
      if (st == NULL) st = g_ort->GetTensorElementType(info, &et);
      if (st == NULL) st = g_ort->GetDimensionsCount(info, &rank);
      if (st == NULL) {
        io->dims = calloc(rank > 0 ? rank : 1, sizeof(int64_t));
        if (io->dims == NULL) {
          g_ort->ReleaseTypeInfo(ti);
          return SD_OUT_OF_MEMORY;
        }
        st = g_ort->GetDimensions(info, io->dims, rank);
      }
      if (st == NULL) {
        io->dtype = (int32_t)et;
        io->rank = (int32_t)rank;
      }
    }
    g_ort->ReleaseTypeInfo(ti);
    if (st != NULL) return take_ort_status(st, SD_ORT, s->last_error, SD_ERR_CAP, "io shape");
  }
  return SD_OK;
}

/* Builds ONNX Runtime session options from ours; the session takes the initializer values. */
static sd_status build_ort_options(sd_session *s, const sd_env *env, const sd_session_options *o,
                                   OrtSessionOptions **out, char *err, size_t cap) {
  OrtSessionOptions *so = NULL;
  OrtStatus *st = g_ort->CreateSessionOptions(&so);
  if (st != NULL) return take_ort_status(st, SD_ORT, err, cap, "session options");
  *out = so;
  int32_t intra = o != NULL ? o->intra : -1;
  int32_t inter = o != NULL ? o->inter : -1;
  if (env->global && intra < 0 && inter < 0) {
    st = g_ort->DisablePerSessionThreads(so);
  } else {
    if (intra >= 0) st = g_ort->SetIntraOpNumThreads(so, intra);
    if (st == NULL && inter >= 0) st = g_ort->SetInterOpNumThreads(so, inter);
  }
  if (st != NULL) return take_ort_status(st, SD_ORT, err, cap, "thread options");
  /* ONNX Runtime's own per-node profile, for measurements: SPECDEC_ORT_PROFILE=<path prefix>
     (ORT writes <prefix>_<date>.json when the session is released). */
  const char *profile = getenv("SPECDEC_ORT_PROFILE");
  if (profile != NULL && profile[0] != '\0') {
    st = g_ort->EnableProfiling(so, profile);
    if (st != NULL) return take_ort_status(st, SD_ORT, err, cap, "SPECDEC_ORT_PROFILE");
  }
  if (o == NULL) return SD_OK;
  if (o->spinning >= 0) {
    const char *v = o->spinning ? "1" : "0";
    st = g_ort->AddSessionConfigEntry(so, "session.intra_op.allow_spinning", v);
    if (st == NULL) st = g_ort->AddSessionConfigEntry(so, "session.inter_op.allow_spinning", v);
    if (st != NULL) return take_ort_status(st, SD_ORT, err, cap, "spinning option");
  }
  static const GraphOptimizationLevel levels[4] = {ORT_DISABLE_ALL, ORT_ENABLE_BASIC,
                                                   ORT_ENABLE_EXTENDED, ORT_ENABLE_ALL};
  st = g_ort->SetSessionGraphOptimizationLevel(so, levels[o->opt_level]);
  if (st != NULL) return take_ort_status(st, SD_ORT, err, cap, "optimization level");
  for (size_t i = 0; i < o->n_config; i++) {
    st = g_ort->AddSessionConfigEntry(so, o->config[i].key, o->config[i].value);
    if (st != NULL) {
      char prefix[512];
      snprintf(prefix, sizeof prefix, "config entry '%s'", o->config[i].key);
      return take_ort_status(st, SD_ORT, err, cap, prefix);
    }
  }
  if (o->n_inits > 0) {
    s->initializers = calloc(o->n_inits, sizeof(OrtValue *));
    if (s->initializers == NULL) return SD_OUT_OF_MEMORY;
    for (size_t i = 0; i < o->n_inits; i++) {
      sd_status r = make_value(s, &o->inits[i].desc, &s->initializers[i], err, cap,
                               "initializer", o->inits[i].name);
      if (r != SD_OK) return r;
      s->n_initializers = i + 1;
      st = g_ort->AddInitializer(so, o->inits[i].name, s->initializers[i]);
      if (st != NULL) {
        char prefix[512];
        snprintf(prefix, sizeof prefix, "initializer '%s'", o->inits[i].name);
        return take_ort_status(st, SD_ORT, err, cap, prefix);
      }
    }
  }
  if (o->n_files > 0) {
    const char **names = calloc(o->n_files, sizeof(char *));
    char **datas = calloc(o->n_files, sizeof(char *));
    size_t *lens = calloc(o->n_files, sizeof(size_t));
    if (names == NULL || datas == NULL || lens == NULL) {
      free(names);
      free(datas);
      free(lens);
      return SD_OUT_OF_MEMORY;
    }
    for (size_t i = 0; i < o->n_files; i++) {
      names[i] = o->files[i].name;
      datas[i] = o->files[i].byte_length > 0 ? (char *)(uintptr_t)o->files[i].data
                                             : &g_empty_tensor_byte;
      lens[i] = o->files[i].byte_length;
    }
    st = g_ort->AddExternalInitializersFromFilesInMemory(so, names, datas, lens, o->n_files);
    free(names);
    free(datas);
    free(lens);
    if (st != NULL) return take_ort_status(st, SD_ORT, err, cap, "external data files");
  }
  if (o->tree_attention) {
    sd_status r = sd__register_tree_attention(g_ort, so, err, cap);
    if (r != SD_OK) return r;
  }
  if (o->cuda_device >= 0) {
    char provider[SD_PATH_CAP];
    const int have_provider = cuda_provider_path(provider, sizeof provider);
    const int32_t devices = sd__cuda_device_count();
    if (devices <= o->cuda_device || !have_provider) {
      /* Name everything that is missing, not just the first thing found missing. */
      char device_msg[256] = "";
      if (devices <= o->cuda_device) {
        snprintf(device_msg, sizeof device_msg,
                 "no CUDA device %d (%d usable: %s)", o->cuda_device, devices,
                 sd__cuda_built() ? "no GPU or no CUDA driver on this machine"
                                  : "this libspecdec was built without CUDA, nvcc was not found");
      }
      char provider_msg[SD_PATH_CAP + 160] = "";
      if (!have_provider) {
        snprintf(provider_msg, sizeof provider_msg,
                 "no CUDA execution provider at %s (run `deno task setup:gpu` and rebuild the "
                 "shim against the library it prints)",
                 provider);
      }
      sd__set_err(err, cap, "cudaDevice %d cannot be used: %s%s%s", o->cuda_device, device_msg,
                  device_msg[0] != '\0' && provider_msg[0] != '\0' ? "; " : "", provider_msg);
      return SD_UNAVAILABLE;
    }
    OrtCUDAProviderOptionsV2 *cuda = NULL;
    st = g_ort->CreateCUDAProviderOptions(&cuda);
    if (st == NULL) {
      char device[16];
      snprintf(device, sizeof device, "%d", o->cuda_device);
      const char *keys[1] = {"device_id"};
      const char *values[1] = {device};
      st = g_ort->UpdateCUDAProviderOptions(cuda, keys, values, 1);
      if (st == NULL) st = g_ort->SessionOptionsAppendExecutionProvider_CUDA_V2(so, cuda);
      g_ort->ReleaseCUDAProviderOptions(cuda);
    }
    if (st != NULL) {
      /* ONNX Runtime's status says only "Failed to load shared library"; its log line (stderr)
       * names the dependency that failed. */
      const char *msg = g_ort->GetErrorMessage(st);
      sd__set_err(err, cap,
                  "the CUDA execution provider %s did not load: %s (it needs the CUDA 13 runtime, "
                  "cuBLAS 13 and cuRAND on the loader path; ONNX Runtime's log names the library "
                  "that failed)",
                  provider, msg != NULL ? msg : "(no message)");
      g_ort->ReleaseStatus(st);
      return SD_UNAVAILABLE;
    }
  }
  return SD_OK;
}

static sd_status create_session(sd_env *env, const sd_session_options *opts, const char *path,
                                const void *bytes, size_t byte_length, char *err, size_t cap,
                                sd_session **out) {
  OrtSessionOptions *so = NULL;
  sd_session *s = calloc(1, sizeof *s);
  if (s == NULL) {
    sd__set_err(err, cap, "out of memory");
    return SD_OUT_OF_MEMORY;
  }
  atomic_init(&s->busy, 0);
  atomic_fetch_add(&env->refs, 1);
  s->env = env;
  sd_status r = SD_OK;
  OrtStatus *st = g_ort->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &s->mem);
  if (st != NULL) r = take_ort_status(st, SD_ORT, err, cap, "memory info");
  if (r == SD_OK) r = build_ort_options(s, env, opts, &so, err, cap);
  if (r == SD_OK) {
    char prefix[1024];
    if (path != NULL) {
      snprintf(prefix, sizeof prefix, "cannot load model %s", path);
      st = g_ort->CreateSession(env->ort, path, so, &s->ort);
    } else {
      snprintf(prefix, sizeof prefix, "cannot load model from %zu bytes", byte_length);
      st = g_ort->CreateSessionFromArray(env->ort, bytes, byte_length, so, &s->ort);
    }
    if (st != NULL) r = take_ort_status(st, SD_IO, err, cap, prefix);
  }
  if (so != NULL) g_ort->ReleaseSessionOptions(so);
  if (r == SD_OK) r = read_io(s, SD_INPUT);
  if (r == SD_OK) r = read_io(s, SD_OUTPUT);
  if (r == SD_OK) {
    size_t ni = s->n_io[0] > 0 ? (size_t)s->n_io[0] : 1;
    size_t no = s->n_io[1] > 0 ? (size_t)s->n_io[1] : 1;
    s->run_in_names = calloc(ni, sizeof(char *));
    s->run_in = calloc(ni, sizeof(OrtValue *));
    s->run_out_names = calloc(no, sizeof(char *));
    s->run_out = calloc(no, sizeof(OrtValue *));
    if (s->run_in_names == NULL || s->run_in == NULL || s->run_out_names == NULL ||
        s->run_out == NULL) {
      r = SD_OUT_OF_MEMORY;
    }
  }
  if (r != SD_OK) {
    if (r == SD_OUT_OF_MEMORY) sd__set_err(err, cap, "out of memory");
    else if (s->last_error[0] != '\0') sd__set_err(err, cap, "%s", s->last_error);
    sd_session_destroy(s);
    return r;
  }
  *out = s;
  return SD_OK;
}

static sd_status check_create_args(sd_env *env, sd_session **out, char *err, size_t cap) {
  if (out == NULL) {
    sd__set_err(err, cap, "out must not be NULL");
    return SD_INVALID_ARGUMENT;
  }
  *out = NULL;
  if (env == NULL) {
    sd__set_err(err, cap, "env must not be NULL");
    return SD_INVALID_ARGUMENT;
  }
  if (ort() == NULL) {
    sd__set_err(err, cap, ORT_MISSING_MSG, ORT_API_VERSION);
    return SD_STATE;
  }
  return SD_OK;
}

sd_status sd_session_create_from_file(sd_env *env, const sd_session_options *opts,
                                      const char *path, char *err, size_t err_cap,
                                      sd_session **out) {
  sd_status r = check_create_args(env, out, err, err_cap);
  if (r != SD_OK) return r;
  if (path == NULL || path[0] == '\0') {
    sd__set_err(err, err_cap, "path must be a non-empty string");
    return SD_INVALID_ARGUMENT;
  }
  struct stat sb;
  if (stat(path, &sb) != 0) {
    sd__set_err(err, err_cap, "model file not found: %s (%s)", path, strerror(errno));
    return SD_IO;
  }
  if (!S_ISREG(sb.st_mode)) {
    sd__set_err(err, err_cap, "model path is not a regular file: %s", path);
    return SD_IO;
  }
  FILE *f = fopen(path, "rb");
  if (f == NULL) {
    sd__set_err(err, err_cap, "cannot read model file: %s (%s)", path, strerror(errno));
    return SD_IO;
  }
  fclose(f);
  return create_session(env, opts, path, NULL, 0, err, err_cap, out);
}

sd_status sd_session_create_from_bytes(sd_env *env, const sd_session_options *opts,
                                       const void *bytes, size_t byte_length, char *err,
                                       size_t err_cap, sd_session **out) {
  sd_status r = check_create_args(env, out, err, err_cap);
  if (r != SD_OK) return r;
  if (bytes == NULL || byte_length == 0) {
    sd__set_err(err, err_cap, "model bytes must not be empty");
    return SD_IO;
  }
  return create_session(env, opts, NULL, bytes, byte_length, err, err_cap, out);
}

const char *sd_session_last_error(const sd_session *s) { return s != NULL ? s->last_error : ""; }

static const sd_io *get_io(const sd_session *s, int32_t kind, int32_t index) {
  if (s == NULL || (kind != SD_INPUT && kind != SD_OUTPUT)) return NULL;
  if (index < 0 || index >= s->n_io[kind]) return NULL;
  return &s->io[kind][index];
}

int32_t sd_session_io_count(const sd_session *s, int32_t kind) {
  if (s == NULL || (kind != SD_INPUT && kind != SD_OUTPUT)) return -1;
  return s->n_io[kind];
}

const char *sd_session_io_name(const sd_session *s, int32_t kind, int32_t index) {
  const sd_io *io = get_io(s, kind, index);
  return io != NULL ? io->name : NULL;
}

int32_t sd_session_io_dtype(const sd_session *s, int32_t kind, int32_t index) {
  const sd_io *io = get_io(s, kind, index);
  return io != NULL ? io->dtype : -1;
}

int32_t sd_session_io_rank(const sd_session *s, int32_t kind, int32_t index) {
  const sd_io *io = get_io(s, kind, index);
  return io != NULL ? io->rank : -1;
}

sd_status sd_session_io_dims(sd_session *s, int32_t kind, int32_t index, int64_t *dims,
                             int32_t cap) {
  if (s == NULL) return SD_INVALID_ARGUMENT;
  const sd_io *io = get_io(s, kind, index);
  if (io == NULL) {
    sd__set_err(s->last_error, SD_ERR_CAP, "%s index %d out of range [0, %d)",
                (kind == SD_INPUT || kind == SD_OUTPUT) ? kind_name(kind) : "io", index,
                (kind == SD_INPUT || kind == SD_OUTPUT) ? s->n_io[kind] : 0);
    return SD_INVALID_ARGUMENT;
  }
  if (io->rank < 0) {
    sd__set_err(s->last_error, SD_ERR_CAP, "%s '%s' has no tensor shape", kind_name(kind),
                io->name);
    return SD_INVALID_ARGUMENT;
  }
  if (dims == NULL || cap < io->rank) {
    sd__set_err(s->last_error, SD_ERR_CAP, "dims capacity must be >= %d, got %d", io->rank,
                dims == NULL ? 0 : cap);
    return SD_INVALID_ARGUMENT;
  }
  for (int32_t i = 0; i < io->rank; i++) dims[i] = io->dims[i];
  return SD_OK;
}

/* Checks one descriptor against the model's input/output it names. */
static sd_status check_desc(sd_session *s, int32_t kind, const sd_tensor_desc *d, int32_t pos) {
  char *err = s->last_error;
  if (d->index < 0 || d->index >= s->n_io[kind]) {
    sd__set_err(err, SD_ERR_CAP, "%s descriptor %d: index %d out of range [0, %d)",
                kind_name(kind), pos, d->index, s->n_io[kind]);
    return SD_INVALID_ARGUMENT;
  }
  const sd_io *io = &s->io[kind][d->index];
  if (io->rank < 0 || io->dtype == 0 || sd_dtype_size(io->dtype) == 0) {
    sd__set_err(err, SD_ERR_CAP, "%s '%s': %s values are not supported", kind_name(kind),
                io->name, dtype_name(io->dtype));
    return SD_INVALID_ARGUMENT;
  }
  if (d->dtype != io->dtype) {
    sd__set_err(err, SD_ERR_CAP, "%s '%s': dtype expected %s, got %s", kind_name(kind), io->name,
                dtype_name(io->dtype), dtype_name(d->dtype));
    return SD_INVALID_ARGUMENT;
  }
  if (d->rank != io->rank) {
    sd__set_err(err, SD_ERR_CAP, "%s '%s': rank expected %d, got %d", kind_name(kind), io->name,
                io->rank, d->rank);
    return SD_INVALID_ARGUMENT;
  }
  for (int32_t i = 0; i < d->rank; i++) {
    if (io->dims[i] >= 0 && d->dims[i] != io->dims[i]) {
      sd__set_err(err, SD_ERR_CAP, "%s '%s': dim %d expected %lld, got %lld", kind_name(kind),
                  io->name, i, (long long)io->dims[i], (long long)d->dims[i]);
      return SD_INVALID_ARGUMENT;
    }
  }
  return check_desc_alone(d, kind_name(kind), io->name, err, SD_ERR_CAP);
}

/* Validates descs and makes OrtValues into s->transient (cleared first). On failure releases
 * whatever it made. */
static sd_status make_transients(sd_session *s, const void *descs, size_t desc_bytes,
                                 int32_t n_inputs, int32_t n_outputs) {
  for (int k = 0; k < 2; k++) {
    memset(s->transient[k], 0, (size_t)(s->n_io[k] > 0 ? s->n_io[k] : 1) * sizeof(OrtValue *));
  }
  if (n_inputs < 0 || n_inputs > s->n_io[0] || n_outputs < 0 || n_outputs > s->n_io[1]) {
    sd__set_err(s->last_error, SD_ERR_CAP,
                "descriptor counts out of range: %d inputs (model has %d), %d outputs (model has "
                "%d)",
                n_inputs, s->n_io[0], n_outputs, s->n_io[1]);
    return SD_INVALID_ARGUMENT;
  }
  size_t expected = (size_t)(n_inputs + n_outputs) * sizeof(sd_tensor_desc);
  if (desc_bytes != expected || (expected > 0 && descs == NULL)) {
    sd__set_err(s->last_error, SD_ERR_CAP, "descriptor buffer expected %zu bytes, got %zu%s",
                expected, desc_bytes, descs == NULL ? " (NULL)" : "");
    return SD_INVALID_ARGUMENT;
  }
  const unsigned char *bytes = descs;
  sd_status r = SD_OK;
  for (int32_t i = 0; i < n_inputs + n_outputs && r == SD_OK; i++) {
    sd_tensor_desc d;
    memcpy(&d, bytes + (size_t)i * sizeof d, sizeof d); /* descs need not be aligned */
    int32_t kind = i < n_inputs ? SD_INPUT : SD_OUTPUT;
    r = check_desc(s, kind, &d, kind == SD_INPUT ? i : i - n_inputs);
    if (r != SD_OK) break;
    if (s->transient[kind][d.index] != NULL) {
      sd__set_err(s->last_error, SD_ERR_CAP, "%s '%s' is given twice", kind_name(kind),
                  s->io[kind][d.index].name);
      r = SD_INVALID_ARGUMENT;
      break;
    }
    r = make_value(s, &d, &s->transient[kind][d.index], s->last_error, SD_ERR_CAP,
                   kind_name(kind), s->io[kind][d.index].name);
  }
  if (r != SD_OK) {
    for (int k = 0; k < 2; k++) {
      for (int32_t j = 0; j < s->n_io[k]; j++) {
        if (s->transient[k][j] != NULL) g_ort->ReleaseValue(s->transient[k][j]);
        s->transient[k][j] = NULL;
      }
    }
  }
  return r;
}

static void release_transients(sd_session *s) {
  for (int k = 0; k < 2; k++) {
    for (int32_t j = 0; j < s->n_io[k]; j++) {
      if (s->transient[k][j] != NULL) g_ort->ReleaseValue(s->transient[k][j]);
      s->transient[k][j] = NULL;
    }
  }
}

static int enter(sd_session *s) {
  int expected = 0;
  return atomic_compare_exchange_strong(&s->busy, &expected, 1);
}

static void leave(sd_session *s) { atomic_store(&s->busy, 0); }

sd_status sd_session_bind(sd_session *s, const void *descs, size_t desc_bytes, int32_t n_inputs,
                          int32_t n_outputs) {
  if (s == NULL) return SD_INVALID_ARGUMENT;
  if (!enter(s)) return SD_STATE;
  s->last_error[0] = '\0';
  sd_status r = make_transients(s, descs, desc_bytes, n_inputs, n_outputs);
  if (r == SD_OK) {
    for (int k = 0; k < 2; k++) {
      for (int32_t j = 0; j < s->n_io[k]; j++) {
        if (s->transient[k][j] == NULL) continue;
        if (s->bound[k][j] != NULL) g_ort->ReleaseValue(s->bound[k][j]);
        s->bound[k][j] = s->transient[k][j];
        s->transient[k][j] = NULL;
      }
    }
  }
  leave(s);
  return r;
}

sd_status sd_session_unbind(sd_session *s, int32_t kind, int32_t index) {
  if (s == NULL) return SD_INVALID_ARGUMENT;
  if (!enter(s)) return SD_STATE;
  s->last_error[0] = '\0';
  sd_status r = SD_OK;
  if (kind != SD_INPUT && kind != SD_OUTPUT) {
    sd__set_err(s->last_error, SD_ERR_CAP, "kind must be 0 (input) or 1 (output), got %d", kind);
    r = SD_INVALID_ARGUMENT;
  } else if (index < -1 || index >= s->n_io[kind]) {
    sd__set_err(s->last_error, SD_ERR_CAP, "%s index %d out of range [-1, %d)", kind_name(kind),
                index, s->n_io[kind]);
    r = SD_INVALID_ARGUMENT;
  } else {
    for (int32_t j = 0; j < s->n_io[kind]; j++) {
      if ((index == -1 || j == index) && s->bound[kind][j] != NULL) {
        g_ort->ReleaseValue(s->bound[kind][j]);
        s->bound[kind][j] = NULL;
      }
    }
  }
  leave(s);
  return r;
}

sd_status sd_session_run(sd_session *s, const void *descs, size_t desc_bytes, int32_t n_inputs,
                         int32_t n_outputs) {
  if (s == NULL) return SD_INVALID_ARGUMENT;
  if (!enter(s)) return SD_STATE;
  s->last_error[0] = '\0';
  sd_status r = make_transients(s, descs, desc_bytes, n_inputs, n_outputs);
  if (r != SD_OK) {
    leave(s);
    return r;
  }
  size_t ni = 0;
  for (int32_t j = 0; j < s->n_io[0] && r == SD_OK; j++) {
    OrtValue *t = s->transient[0][j];
    OrtValue *b = s->bound[0][j];
    if (t != NULL && b != NULL) {
      sd__set_err(s->last_error, SD_ERR_CAP, "input '%s' is bound and also given to run",
                  s->io[0][j].name);
      r = SD_INVALID_ARGUMENT;
    } else if (t == NULL && b == NULL) {
      sd__set_err(s->last_error, SD_ERR_CAP, "input '%s' is missing (neither bound nor given)",
                  s->io[0][j].name);
      r = SD_INVALID_ARGUMENT;
    } else {
      s->run_in_names[ni] = s->io[0][j].name;
      s->run_in[ni] = t != NULL ? t : b;
      ni++;
    }
  }
  size_t no = 0;
  for (int32_t j = 0; j < s->n_io[1] && r == SD_OK; j++) {
    OrtValue *t = s->transient[1][j];
    OrtValue *b = s->bound[1][j];
    if (t != NULL && b != NULL) {
      sd__set_err(s->last_error, SD_ERR_CAP, "output '%s' is bound and also given to run",
                  s->io[1][j].name);
      r = SD_INVALID_ARGUMENT;
    } else if (t != NULL || b != NULL) {
      s->run_out_names[no] = s->io[1][j].name;
      s->run_out[no] = t != NULL ? t : b;
      no++;
    }
  }
  if (r == SD_OK && no == 0) {
    sd__set_err(s->last_error, SD_ERR_CAP, "no output requested: bind or give at least one");
    r = SD_INVALID_ARGUMENT;
  }
  if (r == SD_OK) {
    OrtStatus *st = g_ort->Run(s->ort, NULL, s->run_in_names, s->run_in, ni, s->run_out_names, no,
                               s->run_out);
    if (st != NULL) r = take_ort_status(st, SD_ORT, s->last_error, SD_ERR_CAP, "run failed");
  }
  release_transients(s);
  leave(s);
  return r;
}
