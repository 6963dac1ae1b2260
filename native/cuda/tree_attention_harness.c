/*
 * tree_attention_harness.c: checks the CUDA kernels against the CPU reference, then times them.
 * Needs no ONNX Runtime: it links the kernels (tree_attention.cu), the reference
 * (native/src/tree_attention_ref.c) and the CUDA runtime.
 *
 * Usage: tree_attention_harness [--check] [--bench] [--quick]
 *   --check  correctness cases (default when no mode is given): random inputs and edge cases
 *            (one-node tree, deep chain, wide tree, random trees, S = 64, P from 0 to 4,096, fp16 and
 *            fp32, head sizes 32/64/128/256, GQA ratios 1, 4, 8, batch 1-3, in place and copy),
 *            comparing outputs and every slot of the present K/V buffers; then KV compaction.
 *   --bench  timing table S x P (fp16, 32 query heads, 8 KV heads, head size 128, batch 1, 8, 32):
 *            time per call and achieved KV-read bandwidth against the device's peak, once for
 *            back-to-back calls (host work included) and once replayed from a CUDA graph (GPU
 *            only). Bytes counted: K and V of the P cached tokens of every KV head, per call.
 *   --quick  fewer bench points.
 * Output is markdown. Exit codes: 0 all passed, 1 a check failed, 2 usage or CUDA error,
 * 77 no CUDA device (skipped: the machine has no GPU or no driver).
 */
#define _POSIX_C_SOURCE 200112L /* setenv */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cuda_runtime_api.h>

#include "specdec.h"
#include "tree_attention_cuda.h"
#include "tree_attention_ref.h"

#define EXIT_SKIP 77

static int g_failed = 0;

/* ---- deterministic random numbers (xorshift64*) ----------------------------------------- */

static uint64_t g_rng = 0x243f6a8885a308d3ull;
static uint32_t rand_u32(void) {
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return (uint32_t)((g_rng * 0x2545f4914f6cdd1dull) >> 32);
}
static float rand_uniform(void) { return (float)(rand_u32() >> 8) * 0x1p-24f * 2.0f - 1.0f; }

static void *xmalloc(size_t n) {
  void *p = malloc(n > 0 ? n : 1);
  if (p == NULL) {
    fprintf(stderr, "out of host memory (%zu bytes)\n", n);
    exit(2);
  }
  return p;
}

static void cuda_ok(cudaError_t e, const char *what) {
  if (e != cudaSuccess) {
    printf("CUDA error in %s: %s\n", what, cudaGetErrorString(e));
    exit(2);
  }
}

static void *dev_copy(const void *host, size_t bytes) {
  void *d = NULL;
  cuda_ok(cudaMalloc(&d, bytes > 0 ? bytes : 16), "cudaMalloc");
  if (bytes > 0 && host != NULL) cuda_ok(cudaMemcpy(d, host, bytes, cudaMemcpyHostToDevice), "H2D");
  return d;
}

/* Fills n elements of storage dtype with uniform values in [-amp, amp). */
static void *random_storage(size_t n, int32_t dtype, float amp) {
  if (dtype == SD_TA_F16) {
    uint16_t *a = xmalloc(n * 2);
    for (size_t i = 0; i < n; i++) a[i] = sd_f32_to_f16(amp * rand_uniform());
    return a;
  }
  float *a = xmalloc(n * 4);
  for (size_t i = 0; i < n; i++) a[i] = amp * rand_uniform();
  return a;
}

static float get(const void *a, size_t i, int32_t dtype) {
  return dtype == SD_TA_F16 ? sd_f16_to_f32(((const uint16_t *)a)[i]) : ((const float *)a)[i];
}

/* ---- correctness ------------------------------------------------------------------------ */

typedef enum tree_kind { ONE_NODE, CHAIN, WIDE, RANDOM, CAUSAL_NULL, BATCH_MASKS } tree_kind;

static const char *tree_name(tree_kind k) {
  switch (k) {
    case ONE_NODE: return "one node";
    case CHAIN: return "chain";
    case WIDE: return "wide";
    case RANDOM: return "random tree";
    case CAUSAL_NULL: return "no mask (causal)";
    default: return "per-batch masks";
  }
}

typedef struct tcase {
  int32_t B, S, H, Hkv, D, P, rot, dtype;
  tree_kind tree;
  int in_place;
  int gqa_form; /* 1: packed QKV and an additive attention_bias mask, as the graph builder emits */
} tcase;

/* Ancestor mask [S, S] of a tree given as parents (parent[i] < i). */
static void tree_mask(uint8_t *mask, const int32_t *parent, int32_t S) {
  memset(mask, 0, (size_t)S * (size_t)S);
  for (int32_t i = 0; i < S; i++) {
    for (int32_t j = i; j >= 0; j = parent[j]) mask[i * S + j] = 1;
  }
}

static void make_parents(int32_t *parent, int32_t S, tree_kind kind) {
  for (int32_t i = 0; i < S; i++) {
    if (i == 0) parent[i] = -1;
    else if (kind == CHAIN || kind == CAUSAL_NULL) parent[i] = i - 1;
    else if (kind == WIDE) parent[i] = i <= 8 ? 0 : 1 + (int32_t)(rand_u32() % 8u); /* 2 levels */
    else parent[i] = (int32_t)(rand_u32() % (uint32_t)i);
  }
}

static int32_t depth(const int32_t *parent, int32_t i) {
  int32_t d = 0;
  for (int32_t j = parent[i]; j >= 0; j = parent[j]) d++;
  return d;
}

static double run_case(const tcase *c, double *cache_err, int *cache_mismatch) {
  const int32_t B = c->B, S = c->S, H = c->H, Hkv = c->Hkv, D = c->D, dt = c->dtype;
  const int32_t L = c->P + S + 5; /* a few slots past the end stay untouched */
  const int32_t max_pos = L + 16;
  const size_t es = (size_t)sd_ta_dtype_size(dt);
  int32_t past_lens[SD_CUDA_MAX_BATCH];
  for (int32_t b = 0; b < B; b++) past_lens[b] = c->P - (b * c->P) / 3; /* differ per batch */
  sd_ta_shape shape = {.batch = B, .seq_len = S, .num_heads = H, .kv_num_heads = Hkv,
                             .head_dim = D, .max_len = L, .rotary_dim = c->rot,
                             .max_pos = max_pos, .dtype = dt, .scale = 0.0f,
                             .mask_batch_stride = c->tree == BATCH_MASKS ? (int64_t)S * S : 0};
  const size_t nq = (size_t)B * S * H * D, nk = (size_t)B * S * Hkv * D;
  const size_t ncache = (size_t)B * Hkv * L * D, nrot = (size_t)max_pos * (size_t)(c->rot / 2);
  void *q = random_storage(nq, dt, 1.0f);
  void *k = random_storage(nk, dt, 1.0f);
  void *v = random_storage(nk, dt, 1.0f);
  void *past_k = random_storage(ncache, dt, 1.0f);
  void *past_v = random_storage(ncache, dt, 1.0f);
  /* cos/sin caches of a real rotary table (theta = 10000) */
  void *cos_c = xmalloc(nrot * es + 16), *sin_c = xmalloc(nrot * es + 16);
  for (int32_t p = 0; p < max_pos; p++) {
    for (int32_t d = 0; d < c->rot / 2; d++) {
      const double a = p * pow(10000.0, -2.0 * d / c->rot);
      const size_t x = (size_t)p * (size_t)(c->rot / 2) + (size_t)d;
      if (dt == SD_TA_F16) {
        ((uint16_t *)cos_c)[x] = sd_f32_to_f16((float)cos(a));
        ((uint16_t *)sin_c)[x] = sd_f32_to_f16((float)sin(a));
      } else {
        ((float *)cos_c)[x] = (float)cos(a);
        ((float *)sin_c)[x] = (float)sin(a);
      }
    }
  }
  const int32_t n_masks = c->tree == BATCH_MASKS ? B : 1;
  uint8_t *mask = xmalloc((size_t)n_masks * S * S);
  int32_t parent[SD_TA_MAX_SEQ];
  int64_t *positions = xmalloc(sizeof(int64_t) * (size_t)(B * S));
  for (int32_t m = 0; m < n_masks; m++) {
    make_parents(parent, S, c->tree);
    tree_mask(mask + (size_t)m * S * S, parent, S);
    for (int32_t b = 0; b < B; b++) {
      if (m != (n_masks == 1 ? 0 : b)) continue;
      for (int32_t i = 0; i < S; i++) positions[b * S + i] = past_lens[b] + depth(parent, i);
    }
  }

  /* GroupQueryAttention form: packed QKV [B, S, (H + 2 Hkv) * D], bias [B, 1, S, T] */
  const size_t tok = (size_t)(H + 2 * Hkv) * D;
  const int32_t T = c->P + S + 2;
  void *packed = NULL, *bias = NULL;
  if (c->gqa_form) {
    packed = xmalloc((size_t)B * S * tok * es);
    for (size_t bi = 0; bi < (size_t)B * S; bi++) {
      memcpy((char *)packed + bi * tok * es, (char *)q + bi * H * D * es, (size_t)H * D * es);
      memcpy((char *)packed + (bi * tok + (size_t)H * D) * es, (char *)k + bi * Hkv * D * es,
             (size_t)Hkv * D * es);
      memcpy((char *)packed + (bi * tok + (size_t)(H + Hkv) * D) * es,
             (char *)v + bi * Hkv * D * es, (size_t)Hkv * D * es);
    }
    bias = xmalloc((size_t)B * S * T * es);
    memset(bias, 0, (size_t)B * S * T * es);
    for (int32_t b = 0; b < B; b++) {
      const uint8_t *mb = mask + (n_masks == 1 ? 0 : (size_t)b * S * S);
      for (int32_t i = 0; i < S; i++) {
        for (int32_t j = 0; j < S; j++) {
          if (mb[i * S + j]) continue;
          const size_t x = ((size_t)b * S + i) * T + (size_t)(past_lens[b] + j);
          if (dt == SD_TA_F16) ((uint16_t *)bias)[x] = sd_f32_to_f16(-60000.0f);
          else ((float *)bias)[x] = -3.0e38f;
        }
      }
    }
    shape.qkv_packed = 1;
    shape.bias_len = T;
    shape.bias_batch_stride = (int64_t)S * T;
  }
  void *d_packed = c->gqa_form ? dev_copy(packed, (size_t)B * S * tok * es) : NULL;
  void *d_bias = c->gqa_form ? dev_copy(bias, (size_t)B * S * T * es) : NULL;

  /* present buffers: in place = the past buffers; copy = a sentinel pattern */
  void *pres_k = xmalloc(ncache * es), *pres_v = xmalloc(ncache * es);
  if (c->in_place) {
    memcpy(pres_k, past_k, ncache * es);
    memcpy(pres_v, past_v, ncache * es);
  } else {
    memset(pres_k, 0x3c, ncache * es);
    memset(pres_v, 0x3c, ncache * es);
  }

  /* device copies, made before the CPU run changes the host present buffers */
  void *d_q = dev_copy(q, nq * es), *d_k = dev_copy(k, nk * es), *d_v = dev_copy(v, nk * es);
  void *d_pres_k = dev_copy(pres_k, ncache * es), *d_pres_v = dev_copy(pres_v, ncache * es);
  void *d_past_k = c->in_place ? d_pres_k : dev_copy(past_k, ncache * es);
  void *d_past_v = c->in_place ? d_pres_v : dev_copy(past_v, ncache * es);
  void *d_cos = dev_copy(cos_c, nrot * es), *d_sin = dev_copy(sin_c, nrot * es);
  void *d_pos = dev_copy(positions, sizeof(int64_t) * (size_t)(B * S));
  void *d_mask = dev_copy(mask, (size_t)n_masks * S * S);
  void *d_out = dev_copy(NULL, nq * es);
  cuda_ok(cudaMemset(d_out, 0x7f, nq * es), "cudaMemset");

  void *out = xmalloc(nq * es);
  const sd_ta_tensors host_t = {
      .query = q, .key = k, .value = v, .past_key = c->in_place ? pres_k : past_k,
      .past_value = c->in_place ? pres_v : past_v, .present_key = pres_k, .present_value = pres_v,
      .cos_cache = c->rot > 0 ? cos_c : NULL, .sin_cache = c->rot > 0 ? sin_c : NULL,
      .position_ids = positions, .tree_mask = c->tree == CAUSAL_NULL ? NULL : mask, .output = out};
  const sd_ta_tensors dev_t = {
      .query = d_q, .key = d_k, .value = d_v, .past_key = d_past_k, .past_value = d_past_v,
      .present_key = d_pres_k, .present_value = d_pres_v, .cos_cache = c->rot > 0 ? d_cos : NULL,
      .sin_cache = c->rot > 0 ? d_sin : NULL, .position_ids = d_pos,
      .tree_mask = c->tree == CAUSAL_NULL ? NULL : d_mask, .output = d_out};
  sd_ta_tensors host_f = host_t, dev_f = dev_t;
  if (c->gqa_form) {
    host_f.query = packed;
    host_f.key = host_f.value = NULL;
    host_f.tree_mask = NULL;
    host_f.attention_bias = bias;
    dev_f.query = d_packed;
    dev_f.key = dev_f.value = NULL;
    dev_f.tree_mask = NULL;
    dev_f.attention_bias = d_bias;
  }
  char err[512] = "";
  int status = sd_ta_ref_forward(&shape, past_lens, &host_f, err, sizeof err);
  if (status != SD_OK) {
    printf("reference failed: %s\n", err);
    exit(2);
  }
  size_t ws_bytes = 0;
  status = sd_cuda_tree_attention_workspace(&shape, past_lens, &ws_bytes, err, sizeof err);
  void *d_ws = NULL;
  if (status == SD_OK) {
    d_ws = dev_copy(NULL, ws_bytes);
    status = sd_cuda_tree_attention(&shape, past_lens, &dev_f, d_ws, ws_bytes, NULL, err,
                                    sizeof err);
  }
  if (status != SD_OK) {
    printf("sd_cuda_tree_attention failed (%d): %s\n", status, err);
    exit(2);
  }
  cuda_ok(cudaDeviceSynchronize(), "tree attention kernels");
  void *g_out = xmalloc(nq * es), *g_k = xmalloc(ncache * es), *g_v = xmalloc(ncache * es);
  cuda_ok(cudaMemcpy(g_out, d_out, nq * es, cudaMemcpyDeviceToHost), "D2H");
  cuda_ok(cudaMemcpy(g_k, d_pres_k, ncache * es, cudaMemcpyDeviceToHost), "D2H");
  cuda_ok(cudaMemcpy(g_v, d_pres_v, ncache * es, cudaMemcpyDeviceToHost), "D2H");

  double worst = 0.0;
  for (size_t x = 0; x < nq; x++) {
    const double diff = fabs((double)get(g_out, x, dt) - (double)get(out, x, dt));
    if (!(diff <= worst)) worst = isnan(diff) ? INFINITY : diff;
  }
  /* caches: new slots within rounding of the rotated keys; every other slot bit-identical */
  double worst_cache = 0.0;
  int mismatched = 0;
  for (int32_t b = 0; b < B; b++) {
    for (int32_t g = 0; g < Hkv; g++) {
      for (int32_t slot = 0; slot < L; slot++) {
        const size_t row = (((size_t)b * Hkv + g) * L + slot) * D;
        const int is_new = slot >= past_lens[b] && slot < past_lens[b] + S;
        if (is_new) {
          for (int32_t d = 0; d < D; d++) {
            const double diff = fabs((double)get(g_k, row + d, dt) - (double)get(pres_k, row + d, dt));
            if (!(diff <= worst_cache)) worst_cache = isnan(diff) ? INFINITY : diff;
          }
          mismatched += memcmp((char *)g_v + row * es, (char *)pres_v + row * es, D * es) != 0;
        } else {
          mismatched += memcmp((char *)g_k + row * es, (char *)pres_k + row * es, D * es) != 0;
          mismatched += memcmp((char *)g_v + row * es, (char *)pres_v + row * es, D * es) != 0;
        }
      }
    }
  }
  *cache_err = worst_cache;
  *cache_mismatch = mismatched;

  void *host_bufs[] = {q, k, v, past_k, past_v, cos_c, sin_c, mask, positions, pres_k, pres_v,
                       out, g_out, g_k, g_v, packed, bias};
  for (size_t x = 0; x < sizeof host_bufs / sizeof host_bufs[0]; x++) free(host_bufs[x]);
  void *dev_bufs[] = {d_q, d_k, d_v, d_pres_k, d_pres_v, d_cos, d_sin, d_pos, d_mask, d_out, d_ws,
                      d_packed, d_bias};
  for (size_t x = 0; x < sizeof dev_bufs / sizeof dev_bufs[0]; x++) cudaFree(dev_bufs[x]);
  if (!c->in_place) {
    cudaFree(d_past_k);
    cudaFree(d_past_v);
  }
  return worst;
}

static void check_attention(int quick) {
  const int F32 = SD_TA_F32, F16 = SD_TA_F16;
  const tcase cases[] = {
      /* B, S, H, Hkv, D, P, rot, dtype, tree, in_place */
      {1, 1, 8, 8, 64, 0, 64, F32, ONE_NODE, 1, 0},
      {1, 1, 32, 8, 128, 4096, 128, F16, ONE_NODE, 1, 0},
      {1, 64, 4, 1, 64, 0, 64, F32, CHAIN, 1, 0},
      {1, 64, 8, 2, 128, 1000, 128, F16, CHAIN, 0, 0},
      {1, 33, 32, 8, 128, 4096, 128, F16, WIDE, 1, 0},
      {1, 64, 32, 4, 128, 4096, 64, F32, RANDOM, 1, 0},
      {2, 64, 16, 2, 64, 513, 64, F16, RANDOM, 1, 0},
      {3, 17, 12, 3, 64, 100, 32, F32, BATCH_MASKS, 0, 0},
      {1, 8, 32, 32, 128, 2048, 0, F16, CAUSAL_NULL, 1, 0},
      {1, 5, 8, 1, 32, 31, 32, F32, RANDOM, 1, 0},
      {2, 12, 8, 2, 256, 700, 256, F16, RANDOM, 0, 0},
      {1, 20, 4, 4, 96, 333, 64, F16, WIDE, 1, 0},
      {1, 16, 16, 8, 80, 64, 80, F32, CHAIN, 1, 0},
      {1, 64, 64, 8, 128, 4090, 128, F16, RANDOM, 1, 0},
      {4, 3, 8, 8, 64, 1, 64, F32, RANDOM, 1, 0},
      {2, 9, 8, 2, 64, 1500, 64, F32, RANDOM, 1, 1},
      {1, 64, 32, 8, 128, 4000, 128, F16, BATCH_MASKS, 0, 1},
      {1, 7, 8, 2, 80, 300, 80, F16, RANDOM, 0, 1},
  };
  printf("\n## Tree attention: CUDA vs CPU reference\n\n");
  printf("| # | tree | dtype | kernel | B | S | P | heads (q/kv) | head | rotary | KV | inputs "
         "| max abs err (out) | max abs err (new K) | other slots | result |\n");
  printf("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  const size_t n = sizeof cases / sizeof cases[0];
  for (size_t run = 0; run < 3 * n; run++) {
    /* fp16 with head size 64/128 runs twice: tensor-core kernel, then the CUDA-core one; the
       cheaper of those with more than 16 query rows per KV head a third time, on the tensor-core
       kernel with 16-row query tiles (several per KV head: what 99 KB GPUs such as sm_86/89 and
       SPECDEC_CUDA_QUERY_TILE=16 use) */
    const size_t x = run % n;
    const int cuda_cores = run >= n && run < 2 * n, tc16 = run >= 2 * n;
    const tcase *c = &cases[x];
    const int tc_eligible = c->dtype == F16 && (c->D == 64 || c->D == 128);
    if ((cuda_cores || tc16) && !tc_eligible) continue;
    if (tc16 && (c->S * (c->H / c->Hkv) <= 16 || c->P > 1000)) continue;
    if (quick && c->P > 2048) continue;
    if (cuda_cores) setenv("SPECDEC_CUDA_NO_TENSOR_CORES", "1", 1);
    else unsetenv("SPECDEC_CUDA_NO_TENSOR_CORES");
    if (tc16) setenv("SPECDEC_CUDA_QUERY_TILE", "16", 1);
    else unsetenv("SPECDEC_CUDA_QUERY_TILE");
    double cache_err = 0.0;
    int mismatched = 0;
    const double err = run_case(c, &cache_err, &mismatched);
    const double tol = c->dtype == SD_TA_F16 ? 4e-3 : 2e-5;
    const double tol_k = c->dtype == SD_TA_F16 ? 1e-3 : 2e-6;
    const int ok = err <= tol && cache_err <= tol_k && mismatched == 0;
    if (!ok) g_failed++;
    printf("| %zu | %s | %s | %s | %d | %d | %d | %d/%d | %d | %d | %s | %s | %.2e (tol %.0e) | %.2e | %s | %s |\n",
           x + 1, tree_name(c->tree), c->dtype == F16 ? "fp16" : "fp32",
           tc16                        ? "tensor cores, 16-row tiles"
           : tc_eligible && !cuda_cores ? "tensor cores"
                                        : "CUDA cores",
           c->B, c->S, c->P, c->H,
           c->Hkv, c->D, c->rot, c->in_place ? "in place" : "copy",
           c->gqa_form ? "packed QKV + bias" : "q, k, v + mask", err, tol, cache_err,
           mismatched == 0 ? "identical" : "DIFFER", ok ? "pass" : "**FAIL**");
    fflush(stdout);
  }
  unsetenv("SPECDEC_CUDA_NO_TENSOR_CORES");
  unsetenv("SPECDEC_CUDA_QUERY_TILE");
}

static void check_compaction(void) {
  printf("\n## KV compaction: CUDA vs CPU reference\n\n");
  printf("| layers | dtype | B | kv heads | max_len | head | base | kept slots | result |\n");
  printf("|---|---|---|---|---|---|---|---|---|\n");
  const struct {
    int32_t layers, elem, B, Hkv, L, D, base, n;
  } cases[] = {{32, 2, 1, 8, 4160, 128, 4096, 7}, {4, 4, 2, 2, 300, 64, 200, 12},
               {3, 2, 1, 3, 40, 3, 10, 5}, {2, 4, 1, 1, 128, 32, 60, 64}};
  for (size_t x = 0; x < sizeof cases / sizeof cases[0]; x++) {
    const int32_t nb = 2 * cases[x].layers;
    const sd_kv_layout layout = {.batch = cases[x].B, .kv_num_heads = cases[x].Hkv,
                                 .max_len = cases[x].L, .head_dim = cases[x].D,
                                 .elem_size = cases[x].elem};
    const size_t bytes = (size_t)cases[x].B * cases[x].Hkv * cases[x].L * cases[x].D * cases[x].elem;
    int32_t slots[SD_TA_MAX_SEQ];
    /* a strictly increasing path starting at base: first nodes kept in place, then gaps */
    int32_t s = cases[x].base;
    for (int32_t j = 0; j < cases[x].n; j++) {
      slots[j] = s;
      s += j < 2 ? 1 : 1 + (int32_t)(rand_u32() % 3u);
      if (s >= cases[x].L) s = cases[x].L - 1;
    }
    /* keep them valid when max_len is tight (case 4: exactly n slots after base) */
    for (int32_t j = 0; j < cases[x].n; j++) {
      const int32_t hi = cases[x].L - (cases[x].n - j);
      if (slots[j] > hi) slots[j] = hi;
      if (j > 0 && slots[j] <= slots[j - 1]) slots[j] = slots[j - 1] + 1;
    }
    void **host = xmalloc(sizeof(void *) * (size_t)nb);
    void **dev = xmalloc(sizeof(void *) * (size_t)nb);
    for (int32_t k = 0; k < nb; k++) {
      host[k] = xmalloc(bytes);
      for (size_t b = 0; b < bytes; b++) ((uint8_t *)host[k])[b] = (uint8_t)rand_u32();
      dev[k] = dev_copy(host[k], bytes);
    }
    char err[512] = "";
    int status = sd_kv_ref_compact(host, nb, &layout, cases[x].base, slots, cases[x].n, err,
                                   sizeof err);
    if (status == SD_OK) {
      status = sd_cuda_kv_compact(dev, nb, &layout, cases[x].base, slots, cases[x].n, NULL, err,
                                  sizeof err);
    }
    if (status != SD_OK) {
      printf("compaction failed (%d): %s\n", status, err);
      exit(2);
    }
    cuda_ok(cudaDeviceSynchronize(), "kv compaction");
    int same = 1;
    uint8_t *back = xmalloc(bytes);
    for (int32_t k = 0; k < nb; k++) {
      cuda_ok(cudaMemcpy(back, dev[k], bytes, cudaMemcpyDeviceToHost), "D2H");
      same = same && memcmp(back, host[k], bytes) == 0;
      free(host[k]);
      cudaFree(dev[k]);
    }
    free(back);
    free(host);
    free(dev);
    if (!same) g_failed++;
    printf("| %d | %s | %d | %d | %d | %d | %d | %d | %s |\n", cases[x].layers,
           cases[x].elem == 2 ? "fp16" : "fp32", cases[x].B, cases[x].Hkv, cases[x].L,
           cases[x].D, cases[x].base, cases[x].n, same ? "pass (bit-identical)" : "**FAIL**");
  }
}

/* Bad arguments come back as SD_INVALID_ARGUMENT naming the parameter, with no launch. */
static void check_errors(void) {
  printf("\n## Argument checks\n\n");
  sd_ta_shape s = {.batch = 1, .seq_len = 4, .num_heads = 8, .kv_num_heads = 2, .head_dim = 48,
                   .max_len = 64, .dtype = SD_TA_F16};
  int32_t past[1] = {0};
  sd_ta_tensors t;
  memset(&t, 0, sizeof t);
  char err[512] = "";
  int got = sd_cuda_tree_attention(&s, past, &t, NULL, 0, NULL, err, sizeof err);
  int ok = got == SD_INVALID_ARGUMENT && strstr(err, "head_dim") != NULL;
  printf("- head_dim 48: status %d, \"%s\": %s\n", got, err, ok ? "pass" : "**FAIL**");
  if (!ok) g_failed++;
  s.head_dim = 64;
  s.batch = SD_CUDA_MAX_BATCH + 1;
  int32_t many[SD_CUDA_MAX_BATCH + 1] = {0};
  got = sd_cuda_tree_attention(&s, many, &t, NULL, 0, NULL, err, sizeof err);
  ok = got == SD_INVALID_ARGUMENT && strstr(err, "batch") != NULL;
  printf("- batch %d: status %d, \"%s\": %s\n", s.batch, got, err, ok ? "pass" : "**FAIL**");
  if (!ok) g_failed++;
  s.batch = 1;
  got = sd_cuda_tree_attention(&s, past, &t, NULL, 0, NULL, err, sizeof err);
  ok = got == SD_INVALID_ARGUMENT && strstr(err, "query") != NULL;
  printf("- NULL query: status %d, \"%s\": %s\n", got, err, ok ? "pass" : "**FAIL**");
  if (!ok) g_failed++;
}

/* ---- bench -------------------------------------------------------------------------------- */

/*
 * Microseconds per call on the GPU alone: `iters` calls captured into one CUDA graph (relaxed
 * capture mode: the calls query the device and set a kernel attribute while capturing), then the
 * graph replayed once, timed with events. -1 when capture or replay fails (reported as n/a).
 */
static double graph_us_per_call(const sd_ta_shape *shape, const int32_t *past_lens,
                                const sd_ta_tensors *t, void *ws, size_t ws_bytes,
                                cudaStream_t stream, int iters) {
  char err[512] = "";
  cudaGraph_t graph = NULL;
  cudaGraphExec_t exec = NULL;
  if (cudaStreamBeginCapture(stream, cudaStreamCaptureModeRelaxed) != cudaSuccess) {
    (void)cudaGetLastError();
    return -1.0;
  }
  int ok = 1;
  for (int it = 0; it < iters && ok; it++) {
    ok = sd_cuda_tree_attention(shape, past_lens, t, ws, ws_bytes, stream, err, sizeof err) == SD_OK;
  }
  cudaError_t e = cudaStreamEndCapture(stream, &graph);
  if (ok && e == cudaSuccess && graph != NULL) e = cudaGraphInstantiate(&exec, graph, 0);
  double us = -1.0;
  if (ok && e == cudaSuccess && exec != NULL) {
    cudaEvent_t e0 = NULL, e1 = NULL;
    float ms = 0.0f;
    if (cudaGraphLaunch(exec, stream) == cudaSuccess && /* warm-up replay */
        cudaEventCreate(&e0) == cudaSuccess && cudaEventCreate(&e1) == cudaSuccess &&
        cudaEventRecord(e0, stream) == cudaSuccess && cudaGraphLaunch(exec, stream) == cudaSuccess &&
        cudaEventRecord(e1, stream) == cudaSuccess && cudaEventSynchronize(e1) == cudaSuccess &&
        cudaEventElapsedTime(&ms, e0, e1) == cudaSuccess) {
      us = 1e3 * ms / iters;
    }
    if (e0 != NULL) cudaEventDestroy(e0);
    if (e1 != NULL) cudaEventDestroy(e1);
  }
  if (exec != NULL) cudaGraphExecDestroy(exec);
  if (graph != NULL) cudaGraphDestroy(graph);
  (void)cudaGetLastError(); /* a failed capture is reported as n/a, not carried on */
  return us;
}

/* "| GB/s | % of peak" cells for `bytes` per call in `us` microseconds (n/a when unknown). */
static void print_rate(double bytes, double us, double peak) {
  if (us <= 0.0) {
    printf(" n/a | n/a |");
    return;
  }
  const double bps = bytes / (us * 1e-6);
  if (peak > 0.0) printf(" %.0f | %.0f%% |", bps / 1e9, 100.0 * bps / peak);
  else printf(" %.0f | n/a |", bps / 1e9);
}

static void bench(const sd_cuda_device_info *info, int quick) {
  const int32_t H = 32, Hkv = 8, D = 128;
  const int32_t batches[] = {1, 8, 32}; /* larger batches amortize the launch overheads */
  const int32_t seqs[] = {1, 4, 16, 64};
  const int32_t pasts_full[] = {256, 1024, 4096, 16384};
  const int32_t pasts_quick[] = {1024, 4096};
  const int32_t *pasts = quick ? pasts_quick : pasts_full;
  const int n_past = quick ? 2 : 4;
  printf("\n## Timing: fp16, %d query heads, %d KV heads, head size %d, random tree mask\n\n", H,
         Hkv, D);
  printf("Time per call of all steps (append K/V, split attention, combine; in place): \"calls\" "
         "is 50 back-to-back calls (host work of each call included), \"graph\" the same 50 calls "
         "replayed from a CUDA graph (GPU time only). Bandwidth = KV bytes / time, KV bytes = "
         "2 (K and V) x B x %d KV heads x P cached tokens x %d x 2 bytes. Peak: %.0f GB/s "
         "(2 x memory clock x bus width).\n\n",
         Hkv, D, info->peak_bandwidth / 1e9);
  printf("| kernel | B | S | P | KV bytes (MB) | time, calls (us) | GB/s | %% of peak "
         "| time, graph (us) | GB/s | %% of peak |\n");
  printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  /* 0: tensor cores (the plan's tiles), 1: tensor cores with 16-row query tiles (only where the
     plan would take 64: S x G > 16), 2: CUDA cores */
  static const char *const kernel_names[] = {"tensor cores", "tensor cores, 16-row tiles",
                                             "CUDA cores"};
  for (int kernel = 0; kernel < 3; kernel++) {
  if (kernel == 2) setenv("SPECDEC_CUDA_NO_TENSOR_CORES", "1", 1);
  else unsetenv("SPECDEC_CUDA_NO_TENSOR_CORES");
  if (kernel == 1) setenv("SPECDEC_CUDA_QUERY_TILE", "16", 1);
  else unsetenv("SPECDEC_CUDA_QUERY_TILE");
  for (int bi = 0; bi < 3; bi++) {
    for (int si = 0; si < 4; si++) {
      if (kernel == 1 && seqs[si] * (H / Hkv) <= 16) continue; /* same plan as kernel 0 */
      for (int pi = 0; pi < n_past; pi++) {
        const int32_t B = batches[bi], S = seqs[si], P = pasts[pi];
        const int32_t L = P + S;
        sd_ta_shape shape = {.batch = B, .seq_len = S, .num_heads = H, .kv_num_heads = Hkv,
                                   .head_dim = D, .max_len = L, .rotary_dim = D,
                                   .max_pos = L, .dtype = SD_TA_F16, .scale = 0.0f,
                                   .mask_batch_stride = 0};
        int32_t past_lens[32];
        for (int32_t b = 0; b < B; b++) past_lens[b] = P;
        const size_t nq = (size_t)B * S * H * D, nk = (size_t)B * S * Hkv * D;
        const size_t ncache = (size_t)B * Hkv * L * D;
        void *h_q = random_storage(nq, SD_TA_F16, 1.0f), *h_k = random_storage(nk, SD_TA_F16, 1.0f);
        void *h_rot = random_storage((size_t)L * (D / 2), SD_TA_F16, 1.0f);
        uint8_t mask[SD_TA_MAX_SEQ * SD_TA_MAX_SEQ];
        int32_t parent[SD_TA_MAX_SEQ];
        make_parents(parent, S, RANDOM);
        tree_mask(mask, parent, S);
        void *d_q = dev_copy(h_q, nq * 2), *d_k = dev_copy(h_k, nk * 2), *d_v = dev_copy(h_k, nk * 2);
        void *d_kc = dev_copy(NULL, ncache * 2), *d_vc = dev_copy(NULL, ncache * 2);
        cuda_ok(cudaMemset(d_kc, 0, ncache * 2), "memset");
        cuda_ok(cudaMemset(d_vc, 0, ncache * 2), "memset");
        void *d_rot = dev_copy(h_rot, (size_t)L * (D / 2) * 2);
        void *d_mask = dev_copy(mask, (size_t)S * S), *d_out = dev_copy(NULL, nq * 2);
        const sd_ta_tensors t = {.query = d_q, .key = d_k, .value = d_v, .past_key = d_kc,
                                 .past_value = d_vc, .present_key = d_kc, .present_value = d_vc,
                                 .cos_cache = d_rot, .sin_cache = d_rot, .position_ids = NULL,
                                 .tree_mask = d_mask, .output = d_out};
        char err[512] = "";
        size_t ws_bytes = 0;
        if (sd_cuda_tree_attention_workspace(&shape, past_lens, &ws_bytes, err, sizeof err) != SD_OK) {
          printf("workspace: %s\n", err);
          exit(2);
        }
        void *d_ws = dev_copy(NULL, ws_bytes);
        cudaStream_t stream;
        cuda_ok(cudaStreamCreate(&stream), "cudaStreamCreate");
        for (int w = 0; w < 5; w++) {
          if (sd_cuda_tree_attention(&shape, past_lens, &t, d_ws, ws_bytes, stream, err, sizeof err) != SD_OK) {
            printf("tree attention: %s\n", err);
            exit(2);
          }
        }
        cudaEvent_t e0, e1;
        cuda_ok(cudaEventCreate(&e0), "event");
        cuda_ok(cudaEventCreate(&e1), "event");
        const int iters = 50;
        cuda_ok(cudaEventRecord(e0, stream), "record");
        for (int it = 0; it < iters; it++) {
          (void)sd_cuda_tree_attention(&shape, past_lens, &t, d_ws, ws_bytes, stream, err, sizeof err);
        }
        cuda_ok(cudaEventRecord(e1, stream), "record");
        cuda_ok(cudaEventSynchronize(e1), "sync");
        float ms = 0.0f;
        cuda_ok(cudaEventElapsedTime(&ms, e0, e1), "elapsed");
        const double us = 1e3 * ms / iters;
        const double gus = graph_us_per_call(&shape, past_lens, &t, d_ws, ws_bytes, stream, iters);
        /* K and V of the P cached tokens of every KV head, fp16 */
        const double kv_bytes = 2.0 * B * Hkv * (double)P * D * 2.0;
        printf("| %s | %d | %d | %d | %.1f | %.1f |", kernel_names[kernel], B, S, P,
               kv_bytes / 1e6, us);
        print_rate(kv_bytes, us, info->peak_bandwidth);
        if (gus > 0.0) printf(" %.1f |", gus);
        else printf(" n/a |");
        print_rate(kv_bytes, gus, info->peak_bandwidth);
        printf("\n");
        fflush(stdout);
        cudaEventDestroy(e0);
        cudaEventDestroy(e1);
        cudaStreamDestroy(stream);
        void *dev_bufs[] = {d_q, d_k, d_v, d_kc, d_vc, d_rot, d_mask, d_out, d_ws};
        for (size_t x = 0; x < sizeof dev_bufs / sizeof dev_bufs[0]; x++) cudaFree(dev_bufs[x]);
        free(h_q);
        free(h_k);
        free(h_rot);
      }
    }
  }
  }
  unsetenv("SPECDEC_CUDA_NO_TENSOR_CORES");
  unsetenv("SPECDEC_CUDA_QUERY_TILE");
}

int main(int argc, char **argv) {
  int do_check = 0, do_bench = 0, quick = 0;
  for (int a = 1; a < argc; a++) {
    if (strcmp(argv[a], "--check") == 0) do_check = 1;
    else if (strcmp(argv[a], "--bench") == 0) do_bench = 1;
    else if (strcmp(argv[a], "--quick") == 0) quick = 1;
    else {
      fprintf(stderr, "usage: %s [--check] [--bench] [--quick]\n", argv[0]);
      return 2;
    }
  }
  if (!do_check && !do_bench) do_check = 1;
  const int n = sd_cuda_device_count();
  if (n == 0) {
    int count = 0;
    const cudaError_t e = cudaGetDeviceCount(&count);
    printf("no CUDA device: %s; skipped (exit %d)\n",
           e != cudaSuccess ? cudaGetErrorString(e) : "the driver reports 0 devices", EXIT_SKIP);
    return EXIT_SKIP;
  }
  sd_cuda_device_info info;
  char err[512] = "";
  if (sd_cuda_device_info_get(0, &info, err, sizeof err) != SD_OK) {
    printf("device info: %s\n", err);
    return 2;
  }
  printf("# tree_attention_harness\n\nDevice 0: %s (sm_%d%d, %d SMs, %.0f GiB, peak %.0f GB/s)\n",
         info.name, info.major, info.minor, info.sm_count, info.total_memory / 1073741824.0,
         info.peak_bandwidth / 1e9);
  if (do_check) {
    check_errors();
    check_attention(quick);
    check_compaction();
    printf("\nCorrectness: %s\n", g_failed == 0 ? "all passed" : "FAILED");
  }
  if (do_bench && g_failed == 0) bench(&info, quick);
  return g_failed == 0 ? 0 : 1;
}
