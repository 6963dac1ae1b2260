/*
 * tree_attention_op.c: the ONNX Runtime custom op `specdec.TreeAttention`.
 *
 * Inputs are those of com.microsoft.GroupQueryAttention, with input 10 as the tree mask:
 *   0 query [B, S, H * D], or packed QKV [B, S, (H + 2 Hkv) * D] when inputs 1 and 2 are absent
 *   1 key [B, S, Hkv * D] (optional)         2 value [B, S, Hkv * D] (optional)
 *   3 past_key [B, Hkv, Lpast, D] (optional)  4 past_value (optional)
 *   5 seqlens_k [B] i32: P + S - 1 per batch entry   6 total_sequence_length [1] i32: T
 *   7 cos_cache [max_pos, R / 2] (with do_rotary)     8 sin_cache
 *   9 position_ids [B, S] i64 (optional: P + i)
 *  10 tree mask (optional; absent: causal): u8 or bool [S, S] / [1 | B, S, S] (nonzero: visible),
 *     or GroupQueryAttention's attention_bias [1 | B, 1, S, T] of the float type, read as a mask
 *     (entries 0 or <= -1e4; the prefix all 0)
 * Outputs: 0 output [B, S, H * D]; 1 present_key [B, Hkv, max(Lpast, T), D]; 2 present_value.
 * Attributes: num_heads, kv_num_heads (required); do_rotary (0); scale (0: 1 / sqrt(D));
 * rotary_interleaved must be 0, local_window_size -1, softcap 0 (what the kernels implement).
 * When present_key is bound to the past_key buffer (IO binding), the new K/V are written in place.
 *
 * Element types: float32 and float16 (one OrtCustomOp per type and execution provider; ONNX
 * Runtime picks the one matching input 0). CPU implementation: tree_attention_ref.c. CUDA
 * implementation (only when the CUDA objects are linked in and a device is present): the kernels
 * of native/cuda on the stream of KernelContext_GetGPUComputeStream, with seqlens_k and
 * total_sequence_length kept on the host.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "custom_ops.h"
#include "packed_linear.h"
#include "tree_attention_ref.h"

/*
 * From native/cuda/tree_attention_cuda.h (not on this file's include path): the CUDA objects
 * are optional, so these are weak references, NULL when libspecdec is built without CUDA.
 */
__attribute__((weak)) int sd_cuda_device_count(void);
__attribute__((weak)) int sd_cuda_tree_attention(const sd_ta_shape *shape,
                                                 const int32_t *past_lens,
                                                 const sd_ta_tensors *tensors, void *workspace,
                                                 size_t workspace_bytes, void *stream, char *err,
                                                 size_t err_cap);

enum {
  IN_QUERY,
  IN_KEY,
  IN_VALUE,
  IN_PAST_KEY,
  IN_PAST_VALUE,
  IN_SEQLENS_K,
  IN_TOTAL_SEQ,
  IN_COS,
  IN_SIN,
  IN_POSITION_IDS,
  IN_MASK,
  N_INPUTS
};
enum { OUT_OUTPUT, OUT_PRESENT_KEY, OUT_PRESENT_VALUE, N_OUTPUTS };

static const char *const INPUT_NAMES[N_INPUTS] = {
    "query",    "key",       "value",     "past_key",     "past_value", "seqlens_k",
    "total_sequence_length", "cos_cache", "sin_cache", "position_ids", "tree_mask"};

/* One registered variant: the ORT struct first, so `const OrtCustomOp *` casts back. */
typedef struct ta_op {
  OrtCustomOp base;
  ONNXTensorElementDataType type; /* float or float16 */
  int cuda;                       /* 1: CUDA execution provider */
} ta_op;

/* Per-node state. */
typedef struct ta_kernel {
  const OrtApi *api;
  int64_t num_heads, kv_num_heads, do_rotary;
  float scale;
  ONNXTensorElementDataType type;
  int cuda;
} ta_kernel;

/* ---- schema callbacks ----------------------------------------------------------------- */

static const char *ORT_API_CALL op_name(const OrtCustomOp *op) {
  (void)op;
  return "TreeAttention";
}

static const char *ORT_API_CALL op_provider(const OrtCustomOp *op) {
  return ((const ta_op *)op)->cuda ? "CUDAExecutionProvider" : "CPUExecutionProvider";
}

static ONNXTensorElementDataType ORT_API_CALL op_input_type(const OrtCustomOp *op, size_t i) {
  switch (i) {
    case IN_SEQLENS_K:
    case IN_TOTAL_SEQ: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32;
    case IN_POSITION_IDS: return ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64;
    case IN_MASK: return ONNX_TENSOR_ELEMENT_DATA_TYPE_UNDEFINED; /* u8, bool or the float type */
    default: return ((const ta_op *)op)->type;
  }
}

static size_t ORT_API_CALL op_input_count(const OrtCustomOp *op) {
  (void)op;
  return N_INPUTS;
}

static ONNXTensorElementDataType ORT_API_CALL op_output_type(const OrtCustomOp *op, size_t i) {
  (void)i;
  return ((const ta_op *)op)->type;
}

static size_t ORT_API_CALL op_output_count(const OrtCustomOp *op) {
  (void)op;
  return N_OUTPUTS;
}

static OrtCustomOpInputOutputCharacteristic ORT_API_CALL op_input_kind(const OrtCustomOp *op,
                                                                       size_t i) {
  (void)op;
  return (i == IN_QUERY || i == IN_SEQLENS_K || i == IN_TOTAL_SEQ) ? INPUT_OUTPUT_REQUIRED
                                                                   : INPUT_OUTPUT_OPTIONAL;
}

static OrtCustomOpInputOutputCharacteristic ORT_API_CALL op_output_kind(const OrtCustomOp *op,
                                                                        size_t i) {
  (void)op;
  (void)i;
  return INPUT_OUTPUT_REQUIRED;
}

static OrtMemType ORT_API_CALL op_input_memory(const OrtCustomOp *op, size_t i) {
  /* CUDA: the small scalars the launch is planned from stay on the host */
  if (((const ta_op *)op)->cuda && (i == IN_SEQLENS_K || i == IN_TOTAL_SEQ)) {
    return OrtMemTypeCPUInput;
  }
  return OrtMemTypeDefault;
}

/* ---- kernel creation -------------------------------------------------------------------- */

/* Reads an int attribute; `fallback` when absent (required: fallback < -1000 -> error). */
static OrtStatus *attr_int(const OrtApi *api, const OrtKernelInfo *info, const char *name,
                           int64_t fallback, int64_t *out) {
  OrtStatus *st = api->KernelInfoGetAttribute_int64(info, name, out);
  if (st == NULL) return NULL;
  api->ReleaseStatus(st);
  if (fallback < -1000) {
    return sd__ort_status(api, ORT_INVALID_ARGUMENT, "TreeAttention: attribute %s is required", name);
  }
  *out = fallback;
  return NULL;
}

static OrtStatus *attr_float(const OrtApi *api, const OrtKernelInfo *info, const char *name,
                             float fallback, float *out) {
  OrtStatus *st = api->KernelInfoGetAttribute_float(info, name, out);
  if (st == NULL) return NULL;
  api->ReleaseStatus(st);
  *out = fallback;
  return NULL;
}

static OrtStatus *ORT_API_CALL op_create(const OrtCustomOp *op, const OrtApi *api,
                                         const OrtKernelInfo *info, void **kernel) {
  *kernel = NULL;
  ta_kernel k;
  memset(&k, 0, sizeof k);
  k.api = api;
  k.type = ((const ta_op *)op)->type;
  k.cuda = ((const ta_op *)op)->cuda;
  int64_t interleaved = 0, window = -1;
  float softcap = 0.0f;
  OrtStatus *st = attr_int(api, info, "num_heads", -1001, &k.num_heads);
  if (st == NULL) st = attr_int(api, info, "kv_num_heads", -1001, &k.kv_num_heads);
  if (st == NULL) st = attr_int(api, info, "do_rotary", 0, &k.do_rotary);
  if (st == NULL) st = attr_int(api, info, "rotary_interleaved", 0, &interleaved);
  if (st == NULL) st = attr_int(api, info, "local_window_size", -1, &window);
  if (st == NULL) st = attr_float(api, info, "scale", 0.0f, &k.scale);
  if (st == NULL) st = attr_float(api, info, "softcap", 0.0f, &softcap);
  if (st != NULL) return st;
  if (k.num_heads < 1 || k.kv_num_heads < 1 || k.num_heads % k.kv_num_heads != 0) {
    return sd__ort_status(api, ORT_INVALID_ARGUMENT,
                     "TreeAttention: num_heads (%lld) must be a positive multiple of kv_num_heads "
                     "(%lld)",
                     (long long)k.num_heads, (long long)k.kv_num_heads);
  }
  if (k.do_rotary != 0 && k.do_rotary != 1) {
    return sd__ort_status(api, ORT_INVALID_ARGUMENT, "TreeAttention: do_rotary must be 0 or 1, got %lld",
                     (long long)k.do_rotary);
  }
  if (interleaved != 0) {
    return sd__ort_status(api, ORT_NOT_IMPLEMENTED,
                     "TreeAttention: rotary_interleaved=1 is not supported (rotate-half only)");
  }
  if (window != -1) {
    return sd__ort_status(api, ORT_NOT_IMPLEMENTED,
                     "TreeAttention: local_window_size must be -1 (no sliding window), got %lld",
                     (long long)window);
  }
  if (softcap != 0.0f) {
    return sd__ort_status(api, ORT_NOT_IMPLEMENTED, "TreeAttention: softcap must be 0, got %g",
                     (double)softcap);
  }
  if (!(k.scale >= 0.0f) || isinf(k.scale)) {
    return sd__ort_status(api, ORT_INVALID_ARGUMENT, "TreeAttention: scale must be finite and >= 0");
  }
  ta_kernel *out = malloc(sizeof *out);
  if (out == NULL) return sd__ort_status(api, ORT_FAIL, "TreeAttention: out of memory");
  *out = k;
  *kernel = out;
  return NULL;
}

static void ORT_API_CALL op_destroy(void *kernel) { free(kernel); }

/* ---- compute ---------------------------------------------------------------------------- */

typedef struct tensor_view {
  const OrtValue *value; /* NULL when the optional input is absent */
  ONNXTensorElementDataType type;
  size_t rank;
  int64_t dims[SD_MAX_RANK];
  const void *data;
} tensor_view;

static OrtStatus *view_input(const OrtApi *api, const OrtKernelContext *ctx, size_t index,
                             tensor_view *v) {
  memset(v, 0, sizeof *v);
  OrtStatus *st = api->KernelContext_GetInput(ctx, index, &v->value);
  if (st != NULL || v->value == NULL) return st;
  OrtTensorTypeAndShapeInfo *info = NULL;
  st = api->GetTensorTypeAndShape(v->value, &info);
  if (st == NULL) st = api->GetTensorElementType(info, &v->type);
  if (st == NULL) st = api->GetDimensionsCount(info, &v->rank);
  if (st == NULL && v->rank > SD_MAX_RANK) {
    st = sd__ort_status(api, ORT_INVALID_ARGUMENT, "TreeAttention: input %s has rank %zu (> %d)",
                   INPUT_NAMES[index], v->rank, SD_MAX_RANK);
  }
  if (st == NULL) st = api->GetDimensions(info, v->dims, v->rank);
  if (info != NULL) api->ReleaseTensorTypeAndShapeInfo(info);
  if (st == NULL) st = api->GetTensorData(v->value, &v->data);
  return st;
}

static int64_t numel(const tensor_view *v) {
  int64_t n = 1;
  for (size_t d = 0; d < v->rank; d++) n *= v->dims[d];
  return n;
}

/* "[a, b, c]" of a view's shape, for messages. */
static const char *shape_str(const tensor_view *v, char *buf, size_t cap) {
  size_t used = (size_t)snprintf(buf, cap, "[");
  for (size_t d = 0; d < v->rank && used < cap; d++) {
    used += (size_t)snprintf(buf + used, cap - used, d == 0 ? "%lld" : ", %lld",
                             (long long)v->dims[d]);
  }
  if (used < cap) snprintf(buf + used, cap - used, "]");
  return buf;
}

static OrtStatus *bad_shape(const OrtApi *api, size_t index, const tensor_view *v,
                            const char *expected) {
  char buf[128];
  return sd__ort_status(api, ORT_INVALID_ARGUMENT, "TreeAttention: input %s must be %s, got shape %s",
                   INPUT_NAMES[index], expected, shape_str(v, buf, sizeof buf));
}

static int is_shape(const tensor_view *v, size_t rank, const int64_t *dims) {
  if (v->rank != rank) return 0;
  for (size_t d = 0; d < rank; d++) {
    if (dims[d] >= 0 && v->dims[d] != dims[d]) return 0;
  }
  return 1;
}

static OrtStatus *ORT_API_CALL op_compute(void *kernel_state, OrtKernelContext *ctx) {
  const ta_kernel *k = kernel_state;
  const OrtApi *api = k->api;
  tensor_view in[N_INPUTS];
  for (size_t i = 0; i < N_INPUTS; i++) {
    OrtStatus *st = view_input(api, ctx, i, &in[i]);
    if (st != NULL) return st;
  }
  const int64_t H = k->num_heads, Hkv = k->kv_num_heads;
  const tensor_view *q = &in[IN_QUERY];
  if (q->rank != 3) return bad_shape(api, IN_QUERY, q, "[B, S, hidden]");
  const int64_t B = q->dims[0], S = q->dims[1];
  const int packed = in[IN_KEY].value == NULL && in[IN_VALUE].value == NULL;
  if (!packed && (in[IN_KEY].value == NULL || in[IN_VALUE].value == NULL)) {
    return sd__ort_status(api, ORT_INVALID_ARGUMENT,
                     "TreeAttention: key and value must both be given, or both absent (packed QKV)");
  }
  const int64_t heads_in_q = packed ? H + 2 * Hkv : H;
  if (q->dims[2] % heads_in_q != 0) {
    return bad_shape(api, IN_QUERY, q,
                     packed ? "[B, S, (num_heads + 2 * kv_num_heads) * head_size] (packed QKV)"
                            : "[B, S, num_heads * head_size]");
  }
  const int64_t D = q->dims[2] / heads_in_q;
  if (B < 1 || S < 1 || S > SD_TA_MAX_SEQ) {
    return sd__ort_status(api, ORT_INVALID_ARGUMENT,
                     "TreeAttention: query needs batch >= 1 and 1..%d new tokens, got [%lld, %lld]",
                     SD_TA_MAX_SEQ, (long long)B, (long long)S);
  }
  if (!packed) {
    const int64_t kv_dims[3] = {B, S, Hkv * D};
    if (!is_shape(&in[IN_KEY], 3, kv_dims)) {
      return bad_shape(api, IN_KEY, &in[IN_KEY], "[B, S, kv_num_heads * head_size]");
    }
    if (!is_shape(&in[IN_VALUE], 3, kv_dims)) {
      return bad_shape(api, IN_VALUE, &in[IN_VALUE], "[B, S, kv_num_heads * head_size]");
    }
  }
  const tensor_view *seqlens = &in[IN_SEQLENS_K], *total = &in[IN_TOTAL_SEQ];
  if (numel(seqlens) != B) return bad_shape(api, IN_SEQLENS_K, seqlens, "[B]");
  if (numel(total) != 1) return bad_shape(api, IN_TOTAL_SEQ, total, "[1] or a scalar");
  const int32_t T = *(const int32_t *)total->data;
  int32_t past_lens[256]; /* the CUDA kernels take at most 64 (SD_CUDA_MAX_BATCH) */
  if (B > (int64_t)(sizeof past_lens / sizeof past_lens[0])) {
    return sd__ort_status(api, ORT_INVALID_ARGUMENT, "TreeAttention: batch %lld exceeds %zu",
                     (long long)B, sizeof past_lens / sizeof past_lens[0]);
  }
  int32_t max_total = 0;
  for (int64_t b = 0; b < B; b++) {
    const int32_t sk = ((const int32_t *)seqlens->data)[b];
    if ((int64_t)sk + 1 < S || sk + 1 > T) {
      return sd__ort_status(api, ORT_INVALID_ARGUMENT,
                       "TreeAttention: seqlens_k[%lld] must be in %lld..%d (S - 1 .. "
                       "total_sequence_length - 1), got %d",
                       (long long)b, (long long)(S - 1), T - 1, sk);
    }
    past_lens[b] = sk + 1 - (int32_t)S;
    if (sk + 1 > max_total) max_total = sk + 1;
  }
  const tensor_view *pk = &in[IN_PAST_KEY], *pv = &in[IN_PAST_VALUE];
  int64_t past_L = 0;
  if ((pk->value == NULL) != (pv->value == NULL)) {
    return sd__ort_status(api, ORT_INVALID_ARGUMENT,
                     "TreeAttention: past_key and past_value must both be given or both absent");
  }
  if (pk->value != NULL) {
    const int64_t past_dims[4] = {B, Hkv, -1, D};
    if (!is_shape(pk, 4, past_dims)) {
      return bad_shape(api, IN_PAST_KEY, pk, "[B, kv_num_heads, past_len, head_size]");
    }
    if (!is_shape(pv, 4, pk->dims)) return bad_shape(api, IN_PAST_VALUE, pv, "past_key's shape");
    past_L = pk->dims[2];
  }
  for (int64_t b = 0; b < B; b++) {
    if (past_lens[b] > past_L) {
      return sd__ort_status(api, ORT_INVALID_ARGUMENT,
                       "TreeAttention: seqlens_k[%lld] implies %d cached tokens but past_key holds "
                       "%lld",
                       (long long)b, past_lens[b], (long long)past_L);
    }
  }
  const int64_t L = past_L > T ? past_L : T; /* present length, as GroupQueryAttention */

  sd_ta_shape shape;
  memset(&shape, 0, sizeof shape);
  shape.batch = (int32_t)B;
  shape.seq_len = (int32_t)S;
  shape.num_heads = (int32_t)H;
  shape.kv_num_heads = (int32_t)Hkv;
  shape.head_dim = (int32_t)D;
  shape.max_len = (int32_t)L;
  shape.past_max_len = (int32_t)(past_L > 0 ? past_L : L);
  shape.dtype = k->type == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16 ? SD_TA_F16 : SD_TA_F32;
  shape.scale = k->scale;
  shape.qkv_packed = packed;

  sd_ta_tensors t;
  memset(&t, 0, sizeof t);
  t.query = q->data;
  t.key = packed ? NULL : in[IN_KEY].data;
  t.value = packed ? NULL : in[IN_VALUE].data;
  t.past_key = pk->data;
  t.past_value = pv->data;

  if (k->do_rotary) {
    const tensor_view *c = &in[IN_COS], *s = &in[IN_SIN];
    if (c->value == NULL || s->value == NULL) {
      return sd__ort_status(api, ORT_INVALID_ARGUMENT,
                       "TreeAttention: do_rotary=1 needs inputs cos_cache and sin_cache");
    }
    if (c->rank != 2 || c->dims[1] < 1 || 2 * c->dims[1] > D) {
      return bad_shape(api, IN_COS, c, "[max_position, rotary_dim / 2] with rotary_dim <= head_size");
    }
    if (!is_shape(s, 2, c->dims)) return bad_shape(api, IN_SIN, s, "cos_cache's shape");
    shape.rotary_dim = (int32_t)(2 * c->dims[1]);
    shape.max_pos = (int32_t)c->dims[0];
    t.cos_cache = c->data;
    t.sin_cache = s->data;
  }
  const tensor_view *pos = &in[IN_POSITION_IDS];
  if (pos->value != NULL && k->do_rotary) {
    const int64_t pos_dims[2] = {B, S};
    if (!is_shape(pos, 2, pos_dims)) return bad_shape(api, IN_POSITION_IDS, pos, "[B, S]");
    t.position_ids = pos->data;
  }
  const tensor_view *m = &in[IN_MASK];
  if (m->value != NULL) {
    if (m->type == ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8 || m->type == ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL) {
      const int ok = (m->rank == 2 && m->dims[0] == S && m->dims[1] == S) ||
                     (m->rank == 3 && (m->dims[0] == 1 || m->dims[0] == B) && m->dims[1] == S &&
                      m->dims[2] == S);
      if (!ok) return bad_shape(api, IN_MASK, m, "[S, S] or [1 | B, S, S] (u8 or bool)");
      t.tree_mask = m->data;
      shape.mask_batch_stride = m->rank == 3 && m->dims[0] == B && B > 1 ? S * S : 0;
    } else if (m->type == k->type) {
      const int ok = m->rank == 4 && (m->dims[0] == 1 || m->dims[0] == B) && m->dims[1] == 1 &&
                     m->dims[2] == S && m->dims[3] >= max_total;
      if (!ok) {
        return bad_shape(api, IN_MASK, m,
                         "an attention_bias [1 | B, 1, S, T] with T >= every P + S");
      }
      t.attention_bias = m->data;
      shape.bias_len = (int32_t)m->dims[3];
      shape.bias_batch_stride = m->dims[0] == B && B > 1 ? S * m->dims[3] : 0;
    } else {
      return sd__ort_status(api, ORT_INVALID_ARGUMENT,
                       "TreeAttention: input tree_mask must be u8, bool or the attention type "
                       "(ONNX type %d), got ONNX type %d",
                       (int)k->type, (int)m->type);
    }
  }

  const int64_t out_dims[3] = {B, S, H * D};
  const int64_t present_dims[4] = {B, Hkv, L, D};
  OrtValue *out = NULL, *present_k = NULL, *present_v = NULL;
  OrtStatus *st = api->KernelContext_GetOutput(ctx, OUT_OUTPUT, out_dims, 3, &out);
  if (st == NULL) st = api->KernelContext_GetOutput(ctx, OUT_PRESENT_KEY, present_dims, 4, &present_k);
  if (st == NULL) {
    st = api->KernelContext_GetOutput(ctx, OUT_PRESENT_VALUE, present_dims, 4, &present_v);
  }
  if (st == NULL) st = api->GetTensorMutableData(out, &t.output);
  if (st == NULL) st = api->GetTensorMutableData(present_k, &t.present_key);
  if (st == NULL) st = api->GetTensorMutableData(present_v, &t.present_value);
  if (st != NULL) return st;

  char err[512] = "";
  int status;
  if (k->cuda) {
    void *stream = NULL;
    st = api->KernelContext_GetGPUComputeStream(ctx, &stream);
    if (st != NULL) return st;
    if (sd_cuda_tree_attention == NULL) {
      return sd__ort_status(api, ORT_FAIL, "TreeAttention: the CUDA kernels are not built in");
    }
    status = sd_cuda_tree_attention(&shape, past_lens, &t, NULL, 0, stream, err, sizeof err);
  } else {
    sd__ort_parallel pc = {api, ctx};
    status = sd_ta_cpu_forward(&shape, past_lens, &t, sd__ort_parallel_for, &pc, err, sizeof err);
  }
  if (status != SD_OK) {
    return sd__ort_status(api, status == SD_INVALID_ARGUMENT ? ORT_INVALID_ARGUMENT : ORT_FAIL,
                     "TreeAttention: %s", err);
  }
  return NULL;
}

/* ---- registration ----------------------------------------------------------------------- */

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static OrtCustomOpDomain *g_domain; /* lives until the process ends: sessions may use it */
static ta_op g_ops[4];              /* CPU f32, CPU f16, CUDA f32, CUDA f16 */

static void init_op(ta_op *op, ONNXTensorElementDataType type, int cuda) {
  memset(op, 0, sizeof *op);
  op->type = type;
  op->cuda = cuda;
  OrtCustomOp *b = &op->base;
  b->version = ORT_API_VERSION;
  b->GetName = op_name;
  b->GetExecutionProviderType = op_provider;
  b->GetInputType = op_input_type;
  b->GetInputTypeCount = op_input_count;
  b->GetOutputType = op_output_type;
  b->GetOutputTypeCount = op_output_count;
  b->GetInputCharacteristic = op_input_kind;
  b->GetOutputCharacteristic = op_output_kind;
  b->GetInputMemoryType = op_input_memory;
  b->KernelDestroy = op_destroy;
  b->CreateKernelV2 = op_create;
  b->KernelComputeV2 = op_compute;
}

sd_status sd__register_tree_attention(const OrtApi *api, OrtSessionOptions *so, char *err,
                                      size_t err_cap) {
  if (api == NULL || so == NULL) {
    if (err != NULL && err_cap > 0) snprintf(err, err_cap, "TreeAttention: no session options");
    return SD_INVALID_ARGUMENT;
  }
  OrtStatus *st = NULL;
  pthread_mutex_lock(&g_lock);
  if (g_domain == NULL) {
    int n = 0;
    init_op(&g_ops[n++], ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, 0);
    init_op(&g_ops[n++], ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16, 0);
    if (sd_cuda_tree_attention != NULL && sd_cuda_device_count != NULL &&
        sd_cuda_device_count() > 0) {
      init_op(&g_ops[n++], ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, 1);
      init_op(&g_ops[n++], ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16, 1);
    }
    OrtCustomOpDomain *domain = NULL;
    st = api->CreateCustomOpDomain("specdec", &domain);
    for (int i = 0; i < n && st == NULL; i++) st = api->CustomOpDomain_Add(domain, &g_ops[i].base);
    if (st == NULL) st = api->CustomOpDomain_Add(domain, sd__packed_linear_op());
    if (st == NULL) st = api->CustomOpDomain_Add(domain, sd__packed_linear_q_op());
    if (st == NULL) {
      g_domain = domain;
    } else if (domain != NULL) {
      api->ReleaseCustomOpDomain(domain);
    }
  }
  if (st == NULL) st = api->AddCustomOpDomain(so, g_domain);
  pthread_mutex_unlock(&g_lock);
  if (st != NULL) {
    if (err != NULL && err_cap > 0) {
      snprintf(err, err_cap, "TreeAttention custom op: %s", api->GetErrorMessage(st));
    }
    api->ReleaseStatus(st);
    return SD_ORT;
  }
  return SD_OK;
}
