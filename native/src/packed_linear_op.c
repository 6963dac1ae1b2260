/*
 * packed_linear_op.c: the ONNX Runtime custom ops `specdec.PackedLinear` and `PackedLinearQ` (CPU).
 *
 * Inputs:  0 X [..., K] f32
 *          1 W packed [ceil(N / 32), K, 32] f32 (packed_linear.h; an initializer)
 *          2 B [N] f32 (optional)
 * Output:  0 Y [..., N] f32 = X W^T + B, rows in the order of X's leading dimensions.
 * Attributes: N (output width, required, >= 1); glu (optional, 0 or 1, default 0): 1 fuses a
 *          gated MLP's gate and up projections and its activation, Y = silu(X Wg^T + Bg) *
 *          (X Wu^T + Bu), with W [2 ceil(N / 32), K, 32] alternating gate and up panels and
 *          B [2N] (packed_linear.h).
 * Registered in the "specdec" domain beside TreeAttention (tree_attention_op.c), with
 * PackedLinearQ: the same over block-quantized weights (packed_linear.h, packed_linear_q.c);
 * its optional attribute act_bits (0 or 8, default 0) = 8 quantizes the activations to int8 too
 * (packed_linear_a8.c: faster, for drafters).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "custom_ops.h"
#include "packed_linear.h"
#include "specdec.h"

#define PL_MAX_RANK 8

typedef struct pl_kernel {
  const OrtApi *api;
  int64_t n;
  int glu;
} pl_kernel;

/* The optional attribute glu (0 when absent); an error status when it is not 0 or 1. */
static OrtStatus *pl_glu_attribute(const OrtApi *api, const OrtKernelInfo *info, const char *op,
                                   int *glu) {
  int64_t v = 0;
  OrtStatus *st = api->KernelInfoGetAttribute_int64(info, "glu", &v);
  if (st != NULL) {
    api->ReleaseStatus(st);
    v = 0;
  }
  if (v != 0 && v != 1) {
    return sd__ort_status(api, ORT_INVALID_ARGUMENT, "%s: glu must be 0 or 1, got %lld", op,
                          (long long)v);
  }
  *glu = (int)v;
  return NULL;
}


static const char *ORT_API_CALL pl_name(const OrtCustomOp *op) {
  (void)op;
  return "PackedLinear";
}

static const char *ORT_API_CALL pl_provider(const OrtCustomOp *op) {
  (void)op;
  return "CPUExecutionProvider";
}

static ONNXTensorElementDataType ORT_API_CALL pl_type(const OrtCustomOp *op, size_t i) {
  (void)op;
  (void)i;
  return ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
}

static size_t ORT_API_CALL pl_input_count(const OrtCustomOp *op) {
  (void)op;
  return 3;
}

static size_t ORT_API_CALL pl_output_count(const OrtCustomOp *op) {
  (void)op;
  return 1;
}

static OrtCustomOpInputOutputCharacteristic ORT_API_CALL pl_input_kind(const OrtCustomOp *op,
                                                                       size_t i) {
  (void)op;
  return i == 2 ? INPUT_OUTPUT_OPTIONAL : INPUT_OUTPUT_REQUIRED;
}

static OrtCustomOpInputOutputCharacteristic ORT_API_CALL pl_output_kind(const OrtCustomOp *op,
                                                                        size_t i) {
  (void)op;
  (void)i;
  return INPUT_OUTPUT_REQUIRED;
}

static OrtMemType ORT_API_CALL pl_input_memory(const OrtCustomOp *op, size_t i) {
  (void)op;
  (void)i;
  return OrtMemTypeDefault;
}

static OrtStatus *ORT_API_CALL pl_create(const OrtCustomOp *op, const OrtApi *api,
                                         const OrtKernelInfo *info, void **kernel) {
  (void)op;
  *kernel = NULL;
  int64_t n = 0;
  OrtStatus *st = api->KernelInfoGetAttribute_int64(info, "N", &n);
  if (st != NULL) {
    api->ReleaseStatus(st);
    return sd__ort_status(api, ORT_INVALID_ARGUMENT, "PackedLinear: attribute N is required");
  }
  if (n < 1) return sd__ort_status(api, ORT_INVALID_ARGUMENT, "PackedLinear: N must be >= 1, got %lld", (long long)n);
  int glu = 0;
  st = pl_glu_attribute(api, info, "PackedLinear", &glu);
  if (st != NULL) return st;
  pl_kernel *k = malloc(sizeof *k);
  if (k == NULL) return sd__ort_status(api, ORT_FAIL, "PackedLinear: out of memory");
  k->api = api;
  k->n = n;
  k->glu = glu;
  *kernel = k;
  return NULL;
}

static void ORT_API_CALL pl_destroy(void *kernel) { free(kernel); }

/* Shape and data of input i (value NULL when an optional input is absent). */
typedef struct pl_view {
  const OrtValue *value;
  size_t rank;
  int64_t dims[PL_MAX_RANK];
  const float *data;
} pl_view;

static OrtStatus *pl_input(const OrtApi *api, const OrtKernelContext *ctx, size_t i, pl_view *v) {
  memset(v, 0, sizeof *v);
  OrtStatus *st = api->KernelContext_GetInput(ctx, i, &v->value);
  if (st != NULL || v->value == NULL) return st;
  OrtTensorTypeAndShapeInfo *info = NULL;
  st = api->GetTensorTypeAndShape(v->value, &info);
  if (st == NULL) st = api->GetDimensionsCount(info, &v->rank);
  if (st == NULL && (v->rank < 1 || v->rank > PL_MAX_RANK)) {
    st = sd__ort_status(api, ORT_INVALID_ARGUMENT, "PackedLinear: input %zu has rank %zu (1..%d)", i,
                   v->rank, PL_MAX_RANK);
  }
  if (st == NULL) st = api->GetDimensions(info, v->dims, v->rank);
  if (info != NULL) api->ReleaseTensorTypeAndShapeInfo(info);
  if (st == NULL) st = api->GetTensorData(v->value, (const void **)&v->data);
  return st;
}


/*
 * Checks the optional bias ([N], or [2N] with glu) and creates the output [..., N] of input X's
 * leading dimensions; *rows is their product.
 */
static OrtStatus *pl_output(const OrtApi *api, OrtKernelContext *ctx, const char *op,
                            const pl_view *x, const pl_view *b, int64_t N, int glu, float **y,
                            int64_t *rows) {
  const int64_t bn = glu ? 2 * N : N;
  if (b->value != NULL && (b->rank != 1 || b->dims[0] != bn)) {
    return sd__ort_status(api, ORT_INVALID_ARGUMENT, "%s: B must be [%s] = [%lld]", op,
                          glu ? "2N" : "N", (long long)bn);
  }
  int64_t n_rows = 1, out_dims[PL_MAX_RANK];
  for (size_t d = 0; d + 1 < x->rank; d++) {
    n_rows *= x->dims[d];
    out_dims[d] = x->dims[d];
  }
  out_dims[x->rank - 1] = N;
  OrtValue *out = NULL;
  OrtStatus *st = api->KernelContext_GetOutput(ctx, 0, out_dims, x->rank, &out);
  if (st == NULL) st = api->GetTensorMutableData(out, (void **)y);
  if (st == NULL) *rows = n_rows;
  return st;
}

static OrtStatus *ORT_API_CALL pl_compute(void *state, OrtKernelContext *ctx) {
  const pl_kernel *kn = state;
  const OrtApi *api = kn->api;
  pl_view x, w, b;
  OrtStatus *st = pl_input(api, ctx, 0, &x);
  if (st == NULL) st = pl_input(api, ctx, 1, &w);
  if (st == NULL) st = pl_input(api, ctx, 2, &b);
  if (st != NULL) return st;
  const int64_t K = x.dims[x.rank - 1], N = kn->n, P = (1 + kn->glu) * sd_pl_panels(N);
  if (w.rank != 3 || w.dims[0] != P || w.dims[1] != K || w.dims[2] != SD_PL_PANEL) {
    return sd__ort_status(api, ORT_INVALID_ARGUMENT,
                     "PackedLinear: W must be [%lld, %lld, %d] (%sceil(N / %d), K, %d) for N = "
                     "%lld and X's last dimension K = %lld",
                     (long long)P, (long long)K, SD_PL_PANEL, kn->glu ? "2 " : "", SD_PL_PANEL,
                     SD_PL_PANEL, (long long)N, (long long)K);
  }
  int64_t rows = 0;
  float *y = NULL;
  st = pl_output(api, ctx, "PackedLinear", &x, &b, N, kn->glu, &y, &rows);
  if (st != NULL || rows == 0) return st;
  sd__ort_parallel pc = {api, ctx};
  char err[256] = "";
  if (sd_pl_forward(x.data, rows, K, w.data, N, kn->glu, b.value != NULL ? b.data : NULL, y,
                    sd__ort_parallel_for, &pc, err, sizeof err) != SD_OK) {
    return sd__ort_status(api, ORT_INVALID_ARGUMENT, "PackedLinear: %s", err);
  }
  return NULL;
}

/* ---- PackedLinearQ: X [..., K] f32, codes [P, KB * 32, 32 * bits / 8] u8, scales [P, KB, 32]
   f32, bias [N] f32 (optional); attributes N, bits (4 or 8), act_bits (0 or 8) --------------- */

typedef struct plq_kernel {
  const OrtApi *api;
  int64_t n, bits;
  int glu;
  int act_bits; /* 0: f32 activations (sd_plq_forward); 8: int8 (sd_plq_forward_a8) */
} plq_kernel;

static const char *ORT_API_CALL plq_name(const OrtCustomOp *op) {
  (void)op;
  return "PackedLinearQ";
}

static ONNXTensorElementDataType ORT_API_CALL plq_input_type(const OrtCustomOp *op, size_t i) {
  (void)op;
  return i == 1 ? ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8 : ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
}

static size_t ORT_API_CALL plq_input_count(const OrtCustomOp *op) {
  (void)op;
  return 4;
}

static OrtCustomOpInputOutputCharacteristic ORT_API_CALL plq_input_kind(const OrtCustomOp *op,
                                                                        size_t i) {
  (void)op;
  return i == 3 ? INPUT_OUTPUT_OPTIONAL : INPUT_OUTPUT_REQUIRED;
}

static OrtStatus *ORT_API_CALL plq_create(const OrtCustomOp *op, const OrtApi *api,
                                          const OrtKernelInfo *info, void **kernel) {
  (void)op;
  *kernel = NULL;
  int64_t n = 0, bits = 0;
  OrtStatus *st = api->KernelInfoGetAttribute_int64(info, "N", &n);
  if (st == NULL) st = api->KernelInfoGetAttribute_int64(info, "bits", &bits);
  if (st != NULL) {
    api->ReleaseStatus(st);
    return sd__ort_status(api, ORT_INVALID_ARGUMENT, "PackedLinearQ: attributes N and bits are required");
  }
  if (n < 1 || (bits != 4 && bits != 8)) {
    return sd__ort_status(api, ORT_INVALID_ARGUMENT,
                     "PackedLinearQ: N must be >= 1 and bits 4 or 8, got N = %lld, bits = %lld",
                     (long long)n, (long long)bits);
  }
  int glu = 0;
  st = pl_glu_attribute(api, info, "PackedLinearQ", &glu);
  if (st != NULL) return st;
  int64_t act_bits = 0; /* optional */
  st = api->KernelInfoGetAttribute_int64(info, "act_bits", &act_bits);
  if (st != NULL) {
    api->ReleaseStatus(st);
    act_bits = 0;
  }
  if (act_bits != 0 && act_bits != 8) {
    return sd__ort_status(api, ORT_INVALID_ARGUMENT,
                          "PackedLinearQ: act_bits must be 0 (f32 activations) or 8, got %lld",
                          (long long)act_bits);
  }
  plq_kernel *k = malloc(sizeof *k);
  if (k == NULL) return sd__ort_status(api, ORT_FAIL, "PackedLinearQ: out of memory");
  k->api = api;
  k->n = n;
  k->bits = bits;
  k->glu = glu;
  k->act_bits = (int)act_bits;
  *kernel = k;
  return NULL;
}

static OrtStatus *ORT_API_CALL plq_compute(void *state, OrtKernelContext *ctx) {
  const plq_kernel *kn = state;
  const OrtApi *api = kn->api;
  pl_view x, c, sc, b;
  OrtStatus *st = pl_input(api, ctx, 0, &x);
  if (st == NULL) st = pl_input(api, ctx, 1, &c);
  if (st == NULL) st = pl_input(api, ctx, 2, &sc);
  if (st == NULL) st = pl_input(api, ctx, 3, &b);
  if (st != NULL) return st;
  const int64_t K = x.dims[x.rank - 1], N = kn->n, P = (1 + kn->glu) * sd_pl_panels(N);
  const int64_t KB = sd_plq_blocks(K), RB = sd_plq_row_bytes((int)kn->bits);
  if (c.rank != 3 || c.dims[0] != P || c.dims[1] != KB * SD_PL_QBLOCK || c.dims[2] != RB) {
    return sd__ort_status(api, ORT_INVALID_ARGUMENT,
                     "PackedLinearQ: codes must be [%lld, %lld, %lld] for N = %lld, K = %lld and "
                     "%lld bits",
                     (long long)P, (long long)(KB * SD_PL_QBLOCK), (long long)RB, (long long)N,
                     (long long)K, (long long)kn->bits);
  }
  if (sc.rank != 3 || sc.dims[0] != P || sc.dims[1] != KB || sc.dims[2] != SD_PL_PANEL) {
    return sd__ort_status(api, ORT_INVALID_ARGUMENT, "PackedLinearQ: scales must be [%lld, %lld, %d]",
                     (long long)P, (long long)KB, SD_PL_PANEL);
  }
  int64_t rows = 0;
  float *y = NULL;
  st = pl_output(api, ctx, "PackedLinearQ", &x, &b, N, kn->glu, &y, &rows);
  if (st != NULL || rows == 0) return st;
  sd__ort_parallel pc = {api, ctx};
  char err[256] = "";
  int (*forward)(const float *, int64_t, int64_t, const uint8_t *, const float *, int, int64_t,
                 int, const float *, float *, sd_ta_parallel_for, void *, char *, size_t) =
      kn->act_bits == 8 ? sd_plq_forward_a8 : sd_plq_forward;
  if (forward(x.data, rows, K, (const uint8_t *)c.data, sc.data, (int)kn->bits, N, kn->glu,
              b.value != NULL ? b.data : NULL, y, sd__ort_parallel_for, &pc, err,
              sizeof err) != SD_OK) {
    return sd__ort_status(api, ORT_INVALID_ARGUMENT, "PackedLinearQ: %s", err);
  }
  return NULL;
}

static OrtCustomOp g_op, g_op_q;

const OrtCustomOp *sd__packed_linear_q_op(void) {
  if (g_op_q.version == 0) { /* filled under the registration lock (tree_attention_op.c) */
    OrtCustomOp *o = &g_op_q;
    o->GetName = plq_name;
    o->GetExecutionProviderType = pl_provider;
    o->GetInputType = plq_input_type;
    o->GetInputTypeCount = plq_input_count;
    o->GetOutputType = pl_type;
    o->GetOutputTypeCount = pl_output_count;
    o->GetInputCharacteristic = plq_input_kind;
    o->GetOutputCharacteristic = pl_output_kind;
    o->GetInputMemoryType = pl_input_memory;
    o->KernelDestroy = pl_destroy;
    o->CreateKernelV2 = plq_create;
    o->KernelComputeV2 = plq_compute;
    o->version = ORT_API_VERSION;
  }
  return &g_op_q;
}

const OrtCustomOp *sd__packed_linear_op(void) {
  if (g_op.version == 0) { /* filled under the registration lock (tree_attention_op.c) */
    OrtCustomOp *o = &g_op;
    o->GetName = pl_name;
    o->GetExecutionProviderType = pl_provider;
    o->GetInputType = pl_type;
    o->GetInputTypeCount = pl_input_count;
    o->GetOutputType = pl_type;
    o->GetOutputTypeCount = pl_output_count;
    o->GetInputCharacteristic = pl_input_kind;
    o->GetOutputCharacteristic = pl_output_kind;
    o->GetInputMemoryType = pl_input_memory;
    o->KernelDestroy = pl_destroy;
    o->CreateKernelV2 = pl_create;
    o->KernelComputeV2 = pl_compute;
    o->version = ORT_API_VERSION;
  }
  return &g_op;
}
