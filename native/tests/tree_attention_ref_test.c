/*
 * tree_attention_ref_test.c: unit tests of the CPU tree-attention reference.
 *
 * The oracle here is deliberately different code: for every tree node it runs ordinary causal
 * attention (in double precision) along its root-to-node path, computing rotary from the direct
 * formula cos/sin(pos * theta^(-2d/rotary_dim)) rather than from the caches' entries. Also checked:
 * the in-place K/V slots, GQA head mapping, aliasing of past and present, fp16 conversion
 * (exhaustively), compaction, and argument errors.
 *
 * Exit code 0 when every check passes, 1 otherwise.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specdec.h"
#include "tree_attention_ref.h"

static int g_failures = 0;
static int g_checks = 0;

#define CHECK(cond, ...)                                           \
  do {                                                             \
    g_checks++;                                                    \
    if (!(cond)) {                                                 \
      g_failures++;                                                \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond); \
      fprintf(stderr, __VA_ARGS__);                                \
      fprintf(stderr, "\n");                                       \
    }                                                              \
  } while (0)

/* ---- the kernel under test: the reference, then the fast CPU kernel ---------------------- */

static int g_fast = 0; /* 0: sd_ta_ref_forward, 1: sd_ta_cpu_forward */

/* A parallel_for that runs the items backwards: item order must not matter. */
static void backwards(void *ctx, void (*fn)(void *usr, size_t i), size_t total, void *usr) {
  (void)ctx;
  for (size_t i = total; i-- > 0;) fn(usr, i);
}

static int forward(const sd_ta_shape *s, const int32_t *past, const sd_ta_tensors *t, char *err,
                   size_t cap) {
  if (g_fast) return sd_ta_cpu_forward(s, past, t, backwards, NULL, err, cap);
  return sd_ta_ref_forward(s, past, t, err, cap);
}

/* ---- deterministic random numbers (xorshift64*) ----------------------------------------- */

static uint64_t g_rng = 0x9e3779b97f4a7c15ull;
static uint32_t rand_u32(void) {
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return (uint32_t)((g_rng * 0x2545f4914f6cdd1dull) >> 32);
}
static float rand_uniform(void) { return (float)(rand_u32() >> 8) * 0x1p-24f * 2.0f - 1.0f; }

/* ---- a test case: shape, a tree, host tensors (stored fp32 or fp16) -------------------- */

typedef struct tcase {
  sd_ta_shape shape;
  int32_t past_lens[4];   /* [B] */
  int32_t parent[SD_TA_MAX_SEQ]; /* tree: parent[i] < i, -1 for a root */
  uint8_t *mask;          /* [S, S] ancestors and self */
  int64_t *positions;     /* [B, S] past + depth */
  float *q, *k, *v;       /* [B, S, H|Hkv, D] f32 values (already representable in dtype) */
  float *past_k, *past_v; /* [B, Hkv, L, D] f32 */
  double theta;           /* rotary base */
} tcase;

static float round_to(int32_t dtype, float x) {
  return dtype == SD_TA_F16 ? sd_f16_to_f32(sd_f32_to_f16(x)) : x;
}

static void *to_storage(const float *src, size_t n, int32_t dtype) {
  if (dtype == SD_TA_F32) {
    float *out = malloc(n * sizeof(float));
    memcpy(out, src, n * sizeof(float));
    return out;
  }
  uint16_t *out = malloc(n * sizeof(uint16_t));
  for (size_t i = 0; i < n; i++) out[i] = sd_f32_to_f16(src[i]);
  return out;
}

static float from_storage(const void *src, size_t i, int32_t dtype) {
  return dtype == SD_TA_F16 ? sd_f16_to_f32(((const uint16_t *)src)[i]) : ((const float *)src)[i];
}

static float *random_array(size_t n, int32_t dtype) {
  float *a = malloc(n * sizeof(float));
  for (size_t i = 0; i < n; i++) a[i] = round_to(dtype, rand_uniform());
  return a;
}

static int32_t depth_of(const tcase *c, int32_t i) {
  int32_t depth = 0;
  for (int32_t j = c->parent[i]; j >= 0; j = c->parent[j]) depth++;
  return depth;
}

/* Builds a case; tree kind: 0 chain, 1 star (every node a child of node 0), 2 random. */
static void make_case(tcase *c, int32_t B, int32_t S, int32_t H, int32_t Hkv, int32_t D,
                      int32_t P, int32_t L, int32_t rotary_dim, int32_t dtype, int tree_kind) {
  memset(c, 0, sizeof *c);
  c->shape = (sd_ta_shape){.batch = B, .seq_len = S, .num_heads = H, .kv_num_heads = Hkv,
                           .head_dim = D, .max_len = L, .rotary_dim = rotary_dim,
                           .max_pos = L + 8, .dtype = dtype, .scale = 0.0f,
                           .mask_batch_stride = 0};
  for (int32_t b = 0; b < B; b++) c->past_lens[b] = P > b ? P - b : P; /* differ per batch */
  for (int32_t i = 0; i < S; i++) {
    if (i == 0) c->parent[i] = -1;
    else if (tree_kind == 0) c->parent[i] = i - 1;
    else if (tree_kind == 1) c->parent[i] = 0;
    else c->parent[i] = (int32_t)(rand_u32() % (uint32_t)i);
  }
  c->mask = calloc((size_t)S * (size_t)S, 1);
  for (int32_t i = 0; i < S; i++) {
    for (int32_t j = i; j >= 0; j = c->parent[j]) c->mask[i * S + j] = 1;
  }
  c->positions = malloc(sizeof(int64_t) * (size_t)(B * S));
  for (int32_t b = 0; b < B; b++) {
    for (int32_t i = 0; i < S; i++) c->positions[b * S + i] = c->past_lens[b] + depth_of(c, i);
  }
  c->q = random_array((size_t)(B * S * H * D), dtype);
  c->k = random_array((size_t)(B * S * Hkv * D), dtype);
  c->v = random_array((size_t)(B * S * Hkv * D), dtype);
  c->past_k = random_array((size_t)B * Hkv * L * D, dtype);
  c->past_v = random_array((size_t)B * Hkv * L * D, dtype);
  c->theta = 10000.0;
}

static void free_case(tcase *c) {
  free(c->mask);
  free(c->positions);
  free(c->q);
  free(c->k);
  free(c->v);
  free(c->past_k);
  free(c->past_v);
}

/* cos/sin caches [max_pos, rotary_dim / 2] in f32 (rounded to dtype). */
static void make_rotary(const tcase *c, float *cos_c, float *sin_c) {
  const int32_t half = c->shape.rotary_dim / 2;
  for (int32_t p = 0; p < c->shape.max_pos; p++) {
    for (int32_t d = 0; d < half; d++) {
      const double angle = p * pow(c->theta, -2.0 * d / c->shape.rotary_dim);
      cos_c[p * half + d] = round_to(c->shape.dtype, (float)cos(angle));
      sin_c[p * half + d] = round_to(c->shape.dtype, (float)sin(angle));
    }
  }
}

/* Direct rotary on x [D] (double) at position pos; matches the caches up to their rounding. */
static void rotate_direct(double *x, const tcase *c, int64_t pos) {
  const int32_t half = c->shape.rotary_dim / 2;
  for (int32_t d = 0; d < half; d++) {
    const double angle = (double)pos * pow(c->theta, -2.0 * d / c->shape.rotary_dim);
    const double cs = round_to(c->shape.dtype, (float)cos(angle));
    const double sn = round_to(c->shape.dtype, (float)sin(angle));
    const double x1 = x[d], x2 = x[d + half];
    x[d] = x1 * cs - x2 * sn;
    x[d + half] = x2 * cs + x1 * sn;
  }
}

/*
 * The oracle: node i of batch b, head h, as causal attention over prefix + path(root..i).
 * out [D] double. Keys of path nodes are rotated directly (and rounded to dtype as stored).
 */
static void oracle(const tcase *c, int32_t b, int32_t i, int32_t h, double *out) {
  const sd_ta_shape *s = &c->shape;
  const int32_t S = s->seq_len, H = s->num_heads, Hkv = s->kv_num_heads, D = s->head_dim;
  const int32_t L = s->max_len, P = c->past_lens[b];
  const int32_t g = h / (H / Hkv);
  int32_t path[SD_TA_MAX_SEQ];
  int32_t n = 0;
  for (int32_t j = i; j >= 0; j = c->parent[j]) path[n++] = j;
  /* reverse: root first (order does not change softmax, but reads like a chain) */
  for (int32_t a = 0, z = n - 1; a < z; a++, z--) {
    const int32_t tmp = path[a];
    path[a] = path[z];
    path[z] = tmp;
  }
  double q[SD_TA_MAX_HEAD_DIM], k[SD_TA_MAX_HEAD_DIM];
  for (int32_t d = 0; d < D; d++) q[d] = c->q[((b * S + i) * H + h) * D + d];
  if (s->rotary_dim > 0) rotate_direct(q, c, c->positions[b * S + i]);
  const double scale = 1.0 / sqrt((double)D);
  const int32_t total = P + n;
  double *scores = malloc(sizeof(double) * (size_t)total);
  double max_score = -INFINITY;
  for (int32_t t = 0; t < total; t++) {
    if (t < P) {
      for (int32_t d = 0; d < D; d++) k[d] = c->past_k[(((size_t)b * Hkv + g) * L + t) * D + d];
    } else {
      const int32_t j = path[t - P];
      for (int32_t d = 0; d < D; d++) k[d] = c->k[((b * S + j) * Hkv + g) * D + d];
      if (s->rotary_dim > 0) rotate_direct(k, c, c->positions[b * S + j]);
      for (int32_t d = 0; d < D; d++) k[d] = round_to(s->dtype, (float)k[d]); /* stored */
    }
    double dot = 0.0;
    for (int32_t d = 0; d < D; d++) dot += q[d] * k[d];
    scores[t] = dot * scale;
    if (scores[t] > max_score) max_score = scores[t];
  }
  double sum = 0.0;
  for (int32_t d = 0; d < D; d++) out[d] = 0.0;
  for (int32_t t = 0; t < total; t++) {
    const double p = exp(scores[t] - max_score);
    sum += p;
    for (int32_t d = 0; d < D; d++) {
      const double v = t < P ? c->past_v[(((size_t)b * Hkv + g) * L + t) * D + d]
                             : c->v[((b * S + path[t - P]) * Hkv + g) * D + d];
      out[d] += p * v;
    }
  }
  for (int32_t d = 0; d < D; d++) out[d] /= sum;
  free(scores);
}

/* Runs the reference on a case and compares outputs and caches with the oracle. */
static void run_case(const char *name, tcase *c, int in_place, double tol) {
  const sd_ta_shape *s = &c->shape;
  const int32_t B = s->batch, S = s->seq_len, H = s->num_heads, Hkv = s->kv_num_heads;
  const int32_t D = s->head_dim, L = s->max_len, dt = s->dtype;
  const size_t cache_n = (size_t)B * Hkv * L * D;
  const size_t esize = (size_t)sd_ta_dtype_size(dt);
  const int32_t half = s->rotary_dim / 2;
  float *cos_f = malloc(sizeof(float) * (size_t)(s->max_pos * (half > 0 ? half : 1)));
  float *sin_f = malloc(sizeof(float) * (size_t)(s->max_pos * (half > 0 ? half : 1)));
  if (half > 0) make_rotary(c, cos_f, sin_f);
  void *q = to_storage(c->q, (size_t)(B * S * H * D), dt);
  void *k = to_storage(c->k, (size_t)(B * S * Hkv * D), dt);
  void *v = to_storage(c->v, (size_t)(B * S * Hkv * D), dt);
  void *past_k = to_storage(c->past_k, cache_n, dt);
  void *past_v = to_storage(c->past_v, cache_n, dt);
  void *cos_s = to_storage(cos_f, (size_t)(s->max_pos * (half > 0 ? half : 1)), dt);
  void *sin_s = to_storage(sin_f, (size_t)(s->max_pos * (half > 0 ? half : 1)), dt);
  void *present_k = in_place ? past_k : calloc(cache_n, esize);
  void *present_v = in_place ? past_v : calloc(cache_n, esize);
  if (!in_place) { /* sentinel pattern to see which slots were written */
    for (size_t x = 0; x < cache_n * esize; x++) ((uint8_t *)present_k)[x] = 0x3c;
    for (size_t x = 0; x < cache_n * esize; x++) ((uint8_t *)present_v)[x] = 0x3c;
  }
  void *out = calloc((size_t)(B * S * H * D), esize);
  sd_ta_tensors t = {.query = q, .key = k, .value = v, .past_key = past_k, .past_value = past_v,
                     .present_key = present_k, .present_value = present_v,
                     .cos_cache = half > 0 ? cos_s : NULL, .sin_cache = half > 0 ? sin_s : NULL,
                     .position_ids = c->positions, .tree_mask = c->mask, .output = out};
  char err[256] = "";
  const int status = forward(s, c->past_lens, &t, err, sizeof err);
  CHECK(status == SD_OK, "%s: status %d: %s", name, status, err);

  double worst = 0.0;
  double ref[SD_TA_MAX_HEAD_DIM];
  for (int32_t b = 0; b < B; b++) {
    for (int32_t i = 0; i < S; i++) {
      for (int32_t h = 0; h < H; h++) {
        oracle(c, b, i, h, ref);
        for (int32_t d = 0; d < D; d++) {
          const double got = from_storage(out, (size_t)((b * S + i) * H + h) * D + d, dt);
          const double diff = fabs(got - ref[d]);
          if (diff > worst) worst = diff;
        }
      }
    }
  }
  CHECK(worst <= tol, "%s: output max |diff| %.3g > %.3g", name, worst, tol);

  /* Caches: prefix kept, new slots hold the rotated keys and the values, the rest untouched. */
  double worst_k = 0.0;
  int bad_slots = 0;
  double kr[SD_TA_MAX_HEAD_DIM];
  for (int32_t b = 0; b < B; b++) {
    const int32_t P = c->past_lens[b];
    for (int32_t g = 0; g < Hkv; g++) {
      for (int32_t slot = 0; slot < L; slot++) {
        const size_t row = (((size_t)b * Hkv + g) * L + slot) * D;
        if (slot < P) {
          for (int32_t d = 0; d < D; d++) {
            bad_slots += from_storage(present_k, row + d, dt) != c->past_k[row + d];
            bad_slots += from_storage(present_v, row + d, dt) != c->past_v[row + d];
          }
        } else if (slot < P + S) {
          const int32_t i = slot - P;
          for (int32_t d = 0; d < D; d++) kr[d] = c->k[((b * S + i) * Hkv + g) * D + d];
          if (half > 0) rotate_direct(kr, c, c->positions[b * S + i]);
          for (int32_t d = 0; d < D; d++) {
            const double diff = fabs(from_storage(present_k, row + d, dt) - kr[d]);
            if (diff > worst_k) worst_k = diff;
            bad_slots += from_storage(present_v, row + d, dt) != c->v[((b * S + i) * Hkv + g) * D + d];
          }
        } else if (!in_place) {
          for (size_t x = row * esize; x < (row + (size_t)D) * esize; x++) {
            bad_slots += ((uint8_t *)present_k)[x] != 0x3c;
            bad_slots += ((uint8_t *)present_v)[x] != 0x3c;
          }
        } else {
          for (int32_t d = 0; d < D; d++) {
            bad_slots += from_storage(present_k, row + d, dt) != c->past_k[row + d];
          }
        }
      }
    }
  }
  CHECK(worst_k <= (dt == SD_TA_F16 ? 4e-3 : 1e-5), "%s: new key max |diff| %.3g", name, worst_k);
  CHECK(bad_slots == 0, "%s: %d cache elements wrong", name, bad_slots);
  printf("ok  %-5s%-44s max|diff| %.2e\n", g_fast ? "fast" : "ref", name, worst);

  if (!in_place) {
    free(present_k);
    free(present_v);
  }
  free(q);
  free(k);
  free(v);
  free(past_k);
  free(past_v);
  free(cos_s);
  free(sin_s);
  free(cos_f);
  free(sin_f);
  free(out);
}

static void test_attention_cases(void) {
  struct {
    const char *name;
    int32_t B, S, H, Hkv, D, P, L, rot, dtype, kind, in_place;
  } cases[] = {
      {"one node, empty prefix, f32", 1, 1, 2, 2, 8, 0, 4, 8, SD_TA_F32, 0, 1},
      {"chain S=5, P=7, GQA 4:2, f32, copy", 1, 5, 4, 2, 16, 7, 16, 16, SD_TA_F32, 0, 0},
      {"star S=9, P=3, MQA 6:1, partial rotary, f32", 1, 9, 6, 1, 32, 3, 20, 16, SD_TA_F32, 1, 1},
      {"random tree S=17, B=2, GQA 8:2, f32", 2, 17, 8, 2, 64, 33, 64, 64, SD_TA_F32, 2, 0},
      {"random tree S=64, P=40, no rotary, f32", 1, 64, 2, 1, 32, 40, 128, 0, SD_TA_F32, 2, 1},
      {"deep chain S=64, P=0, f32", 1, 64, 2, 2, 16, 0, 64, 16, SD_TA_F32, 0, 0},
      {"random tree S=13, B=3, GQA 4:1, f16", 3, 13, 4, 1, 64, 21, 40, 64, SD_TA_F16, 2, 1},
      {"chain S=8, P=100, head 128, f16, copy", 1, 8, 2, 1, 128, 100, 120, 128, SD_TA_F16, 0, 0},
  };
  for (size_t n = 0; n < sizeof cases / sizeof cases[0]; n++) {
    tcase c;
    make_case(&c, cases[n].B, cases[n].S, cases[n].H, cases[n].Hkv, cases[n].D, cases[n].P,
              cases[n].L, cases[n].rot, cases[n].dtype, cases[n].kind);
    run_case(cases[n].name, &c, cases[n].in_place, cases[n].dtype == SD_TA_F16 ? 3e-3 : 2e-5);
    free_case(&c);
  }
}

/* In place and with separate buffers give the same outputs; NULL mask means causal. */
static void test_alias_and_null_mask(void) {
  tcase c;
  make_case(&c, 1, 6, 4, 2, 16, 5, 16, 16, SD_TA_F32, 0); /* chain: the mask is causal */
  const size_t cache_n = (size_t)2 * 16 * 16, out_n = (size_t)6 * 4 * 16;
  float cos_c[24 * 8], sin_c[24 * 8];
  make_rotary(&c, cos_c, sin_c);
  float *k1 = malloc(cache_n * 4), *v1 = malloc(cache_n * 4);
  float *k2 = malloc(cache_n * 4), *v2 = malloc(cache_n * 4);
  memcpy(k1, c.past_k, cache_n * 4);
  memcpy(v1, c.past_v, cache_n * 4);
  float *o1 = calloc(out_n, 4), *o2 = calloc(out_n, 4);
  sd_ta_tensors t = {.query = c.q, .key = c.k, .value = c.v, .past_key = k1, .past_value = v1,
                     .present_key = k1, .present_value = v1, .cos_cache = cos_c,
                     .sin_cache = sin_c, .position_ids = NULL, .tree_mask = NULL, .output = o1};
  char err[256] = "";
  CHECK(forward(&c.shape, c.past_lens, &t, err, sizeof err) == SD_OK, "%s", err);
  t.past_key = c.past_k;
  t.past_value = c.past_v;
  t.present_key = k2;
  t.present_value = v2;
  t.tree_mask = c.mask;
  t.position_ids = c.positions;
  t.output = o2;
  CHECK(forward(&c.shape, c.past_lens, &t, err, sizeof err) == SD_OK, "%s", err);
  CHECK(memcmp(o1, o2, out_n * 4) == 0, "in-place/NULL mask output differs from copy/chain mask");
  CHECK(memcmp(k1, k2, (size_t)(5 + 6) * 16 * 4) == 0, "present keys differ");
  printf("ok  %-44s\n", "alias vs copy, NULL mask = causal");
  free(k1);
  free(v1);
  free(k2);
  free(v2);
  free(o1);
  free(o2);
  free_case(&c);
}

/* A query that sees nothing (no prefix, empty mask row) gets zeros, not NaN. */
static void test_empty_row(void) {
  float q[4] = {1, 2, 3, 4}, k[4] = {1, 1, 1, 1}, v[4] = {5, 6, 7, 8};
  float kc[8], vc[8], out[4] = {9, 9, 9, 9};
  uint8_t mask[1] = {0};
  int32_t past[1] = {0};
  sd_ta_shape s = {.batch = 1, .seq_len = 1, .num_heads = 1, .kv_num_heads = 1, .head_dim = 4,
                   .max_len = 2, .dtype = SD_TA_F32};
  sd_ta_tensors t = {.query = q, .key = k, .value = v, .present_key = kc, .present_value = vc,
                     .tree_mask = mask, .output = out};
  char err[256] = "";
  CHECK(forward(&s, past, &t, err, sizeof err) == SD_OK, "%s", err);
  CHECK(out[0] == 0.0f && out[3] == 0.0f, "empty row gave %g %g", (double)out[0], (double)out[3]);
  mask[0] = 1;
  CHECK(forward(&s, past, &t, err, sizeof err) == SD_OK, "%s", err);
  CHECK(out[0] == 5.0f && out[3] == 8.0f, "self only gave %g %g", (double)out[0], (double)out[3]);
  CHECK(kc[0] == 1.0f && vc[3] == 8.0f, "new K/V not written at slot 0");
  printf("ok  %-44s\n", "empty mask row gives zeros");
}

/*
 * The GroupQueryAttention-shaped variants give the same results as the plain form: packed QKV,
 * an additive attention_bias mask instead of the u8 mask, and past buffers shorter than the
 * present ones (a growing cache).
 */
static void test_gqa_forms(void) {
  tcase c;
  make_case(&c, 2, 7, 4, 2, 16, 5, 20, 16, SD_TA_F32, 2);
  const int32_t B = 2, S = 7, H = 4, Hkv = 2, D = 16, L = 20;
  const size_t cache_n = (size_t)B * Hkv * L * D, out_n = (size_t)B * S * H * D;
  float cos_c[28 * 8], sin_c[28 * 8];
  make_rotary(&c, cos_c, sin_c);
  char err[256] = "";
  /* plain */
  float *k0 = malloc(cache_n * 4), *v0 = malloc(cache_n * 4), *o0 = calloc(out_n, 4);
  sd_ta_tensors t = {.query = c.q, .key = c.k, .value = c.v, .past_key = c.past_k,
                     .past_value = c.past_v, .present_key = k0, .present_value = v0,
                     .cos_cache = cos_c, .sin_cache = sin_c, .position_ids = c.positions,
                     .tree_mask = c.mask, .output = o0};
  CHECK(forward(&c.shape, c.past_lens, &t, err, sizeof err) == SD_OK, "%s", err);
  /* packed QKV [B, S, (H + 2 Hkv) * D] */
  const size_t tok = (size_t)(H + 2 * Hkv) * D;
  float *packed = malloc(sizeof(float) * (size_t)B * S * tok);
  for (int32_t bi = 0; bi < B * S; bi++) {
    memcpy(packed + bi * tok, c.q + (size_t)bi * H * D, sizeof(float) * (size_t)H * D);
    memcpy(packed + bi * tok + H * D, c.k + (size_t)bi * Hkv * D, sizeof(float) * (size_t)Hkv * D);
    memcpy(packed + bi * tok + (H + Hkv) * D, c.v + (size_t)bi * Hkv * D,
           sizeof(float) * (size_t)Hkv * D);
  }
  /* additive bias [1, 1, S, T] from the mask; T = max P + S + 2 */
  const int32_t T = c.past_lens[0] + S + 2;
  float *bias = calloc((size_t)S * T, sizeof(float));
  for (int32_t i = 0; i < S; i++) {
    for (int32_t j = 0; j < S; j++) {
      if (!c.mask[i * S + j]) bias[i * T + c.past_lens[1] + j] = -3.0e38f; /* batch 1's P */
    }
  }
  /* growing cache: past buffers of length past_L = 6 >= max P = 5 */
  const int32_t past_L = 6;
  float *pk = malloc(sizeof(float) * (size_t)B * Hkv * past_L * D);
  float *pv = malloc(sizeof(float) * (size_t)B * Hkv * past_L * D);
  for (int32_t bg = 0; bg < B * Hkv; bg++) {
    memcpy(pk + (size_t)bg * past_L * D, c.past_k + (size_t)bg * L * D, sizeof(float) * past_L * D);
    memcpy(pv + (size_t)bg * past_L * D, c.past_v + (size_t)bg * L * D, sizeof(float) * past_L * D);
  }
  float *k1 = malloc(cache_n * 4), *v1 = malloc(cache_n * 4), *o1 = calloc(out_n, 4);
  sd_ta_shape s1 = c.shape;
  s1.qkv_packed = 1;
  s1.past_max_len = past_L;
  s1.bias_len = T;
  s1.bias_batch_stride = 0;
  sd_ta_tensors t1 = t;
  t1.query = packed;
  t1.key = NULL;
  t1.value = NULL;
  t1.past_key = pk;
  t1.past_value = pv;
  t1.present_key = k1;
  t1.present_value = v1;
  t1.tree_mask = NULL;
  t1.attention_bias = bias;
  t1.output = o1;
  /* batch entries have different P (5, 4): the shared bias holds batch 1's columns, so run
     batch 1 alone through the bias path and compare with batch 1 of the plain run */
  sd_ta_shape s_one = s1;
  s_one.batch = 1;
  const int32_t past_one[1] = {c.past_lens[1]};
  sd_ta_tensors t_one = t1;
  t_one.query = packed + (size_t)S * tok;
  t_one.past_key = pk + (size_t)Hkv * past_L * D;
  t_one.past_value = pv + (size_t)Hkv * past_L * D;
  t_one.position_ids = c.positions + S;
  CHECK(forward(&s_one, past_one, &t_one, err, sizeof err) == SD_OK, "%s", err);
  CHECK(memcmp(o1, o0 + (size_t)S * H * D, sizeof(float) * (size_t)S * H * D) == 0,
        "packed + bias + short past buffers differ from the plain form");
  CHECK(memcmp(k1, k0 + (size_t)Hkv * L * D, sizeof(float) * (size_t)(past_one[0] + S) * D) == 0,
        "present keys differ");
  /* bias values that are not a mask are rejected, naming the entry */
  bias[2 * T + 1] = -5.0f; /* a prefix column */
  CHECK(forward(&s_one, past_one, &t_one, err, sizeof err) == SD_INVALID_ARGUMENT &&
            strstr(err, "attention_bias[0, 0, 2, 1]") != NULL,
        "prefix bias: %s", err);
  bias[2 * T + 1] = 0.0f;
  bias[3 * T + past_one[0] + 1] = -0.5f; /* a new-token column, neither 0 nor masked */
  CHECK(forward(&s_one, past_one, &t_one, err, sizeof err) == SD_INVALID_ARGUMENT &&
            strstr(err, "<= -1e4") != NULL,
        "soft bias: %s", err);
  bias[3 * T + past_one[0] + 1] = 0.0f;
  /* exclusive and inconsistent arguments */
  t_one.tree_mask = c.mask;
  CHECK(forward(&s_one, past_one, &t_one, err, sizeof err) == SD_INVALID_ARGUMENT &&
            strstr(err, "exclusive") != NULL,
        "mask and bias: %s", err);
  t_one.tree_mask = NULL;
  t_one.key = c.k;
  CHECK(forward(&s_one, past_one, &t_one, err, sizeof err) == SD_INVALID_ARGUMENT &&
            strstr(err, "qkv_packed") != NULL,
        "packed with key: %s", err);
  t_one.key = NULL;
  s_one.bias_len = past_one[0] + S - 1;
  CHECK(forward(&s_one, past_one, &t_one, err, sizeof err) == SD_INVALID_ARGUMENT &&
            strstr(err, "bias_len") != NULL,
        "short bias: %s", err);
  printf("ok  %-44s\n", "packed QKV, attention_bias, short past buffers");
  free(k0);
  free(v0);
  free(o0);
  free(k1);
  free(v1);
  free(o1);
  free(packed);
  free(bias);
  free(pk);
  free(pv);
  free_case(&c);
}

static void expect_error(const sd_ta_shape *s, const int32_t *past, const sd_ta_tensors *t,
                         const char *needle) {
  char err[256] = "";
  const int status = forward(s, past, t, err, sizeof err);
  CHECK(status == SD_INVALID_ARGUMENT && strstr(err, needle) != NULL,
        "expected an error naming '%s', got status %d '%s'", needle, status, err);
}

static void test_errors(void) {
  float buf[4096] = {0};
  int64_t pos[4] = {0, 1, 2, 999};
  int32_t past[2] = {0, 0};
  const sd_ta_shape good = {.batch = 1, .seq_len = 4, .num_heads = 2, .kv_num_heads = 1,
                            .head_dim = 8, .max_len = 8, .rotary_dim = 8, .max_pos = 16,
                            .dtype = SD_TA_F32};
  const sd_ta_tensors t = {.query = buf, .key = buf, .value = buf, .present_key = buf + 1024,
                           .present_value = buf + 2048, .cos_cache = buf, .sin_cache = buf,
                           .position_ids = NULL, .output = buf + 3072};
  char err[256] = "";
  CHECK(forward(&good, past, &t, err, sizeof err) == SD_OK, "good call failed: %s", err);
  sd_ta_shape s = good;
  s.seq_len = 65;
  expect_error(&s, past, &t, "seq_len");
  s = good;
  s.num_heads = 3;
  s.kv_num_heads = 2;
  expect_error(&s, past, &t, "num_heads");
  s = good;
  s.head_dim = 7;
  expect_error(&s, past, &t, "head_dim");
  s = good;
  s.rotary_dim = 10;
  expect_error(&s, past, &t, "rotary_dim");
  s = good;
  s.dtype = 7;
  expect_error(&s, past, &t, "dtype");
  s = good;
  s.mask_batch_stride = 3;
  expect_error(&s, past, &t, "mask_batch_stride");
  int32_t too_long[1] = {5};
  expect_error(&good, too_long, &t, "past_lens[0]");
  int32_t some_past[1] = {2};
  expect_error(&good, some_past, &t, "past_key");
  sd_ta_tensors t2 = t;
  t2.query = NULL;
  expect_error(&good, past, &t2, "query");
  t2 = t;
  t2.cos_cache = NULL;
  expect_error(&good, past, &t2, "cos_cache");
  t2 = t;
  t2.position_ids = pos;
  expect_error(&good, past, &t2, "position_ids[0, 3]");
  expect_error(&good, NULL, &t, "past_lens");
  printf("ok  %-44s\n", "argument errors name the parameter");
}

static void test_fp16(void) {
  int bad = 0;
  for (uint32_t h = 0; h < 0x10000u; h++) {
    const uint16_t bits = (uint16_t)h;
    const float f = sd_f16_to_f32(bits);
    if (((h >> 10) & 0x1fu) == 0x1fu && (h & 0x3ffu) != 0) { /* NaN stays NaN */
      bad += !isnan(f) || !isnan(sd_f16_to_f32(sd_f32_to_f16(f)));
      continue;
    }
    bad += sd_f32_to_f16(f) != bits; /* exact round trip */
    /* the midpoint to the next half (same sign, finite) rounds to the even one */
    if ((h & 0x7fffu) < 0x7bffu) {
      const float next = sd_f16_to_f32((uint16_t)(bits + 1u));
      const float mid = (float)(((double)f + (double)next) / 2.0);
      const uint16_t even = (bits & 1u) == 0 ? bits : (uint16_t)(bits + 1u);
      bad += sd_f32_to_f16(mid) != even;
      /* just above the midpoint rounds away from bits */
      const float above = nextafterf(mid, (h & 0x8000u) != 0 ? -INFINITY : INFINITY);
      bad += sd_f32_to_f16(above) != (uint16_t)(bits + 1u);
    }
  }
  CHECK(bad == 0, "%d fp16 conversions wrong", bad);
  CHECK(sd_f32_to_f16(1e6f) == 0x7c00u, "overflow must give inf");
  CHECK(sd_f32_to_f16(-1e-10f) == 0x8000u, "tiny negative must give -0");
  CHECK(sd_f16_to_f32(0x3c00u) == 1.0f && sd_f16_to_f32(0x0001u) == 0x1p-24f, "known values");
  CHECK(sd_f32_to_f16(65519.0f) == 0x7bffu && sd_f32_to_f16(65520.0f) == 0x7c00u, "max rounding");
  printf("ok  %-44s\n", "fp16 conversion (all 65,536 values)");
}

static void test_compact(void) {
  const sd_kv_layout l = {.batch = 2, .kv_num_heads = 3, .max_len = 20, .head_dim = 5,
                          .elem_size = 4};
  const size_t n_elems = (size_t)2 * 3 * 20 * 5;
  float *bufs[4];
  for (int k = 0; k < 4; k++) {
    bufs[k] = malloc(n_elems * sizeof(float));
    for (size_t x = 0; x < n_elems; x++) bufs[k][x] = (float)(k * 100000 + (int)x);
  }
  const int32_t base = 6;
  const int32_t slots[4] = {7, 8, 11, 15}; /* shifts overlap: slot 7 -> 6, 8 -> 7, ... */
  char err[256] = "";
  const int status = sd_kv_ref_compact((void *const *)bufs, 4, &l, base, slots, 4, err, sizeof err);
  CHECK(status == SD_OK, "compact: %s", err);
  int bad = 0;
  for (int k = 0; k < 4; k++) {
    for (int bh = 0; bh < 6; bh++) {
      for (int slot = 0; slot < 20; slot++) {
        int src = slot;
        if (slot >= base && slot < base + 4) src = slots[slot - base];
        for (int d = 0; d < 5; d++) {
          const float want = (float)(k * 100000 + (bh * 20 + src) * 5 + d);
          bad += bufs[k][(bh * 20 + slot) * 5 + d] != want;
        }
      }
    }
  }
  CHECK(bad == 0, "compaction moved %d elements wrong", bad);
  const int32_t unsorted[2] = {9, 8}, below[2] = {5, 9}, beyond[1] = {20};
  CHECK(sd_kv_ref_compact((void *const *)bufs, 4, &l, base, unsorted, 2, err, sizeof err) ==
                SD_INVALID_ARGUMENT && strstr(err, "slots[1]") != NULL,
        "unsorted slots: %s", err);
  CHECK(sd_kv_ref_compact((void *const *)bufs, 4, &l, base, below, 2, err, sizeof err) ==
                SD_INVALID_ARGUMENT && strstr(err, "slots[0]") != NULL,
        "slot below base: %s", err);
  CHECK(sd_kv_ref_compact((void *const *)bufs, 4, &l, base, beyond, 1, err, sizeof err) ==
            SD_INVALID_ARGUMENT,
        "slot past max_len: %s", err);
  CHECK(sd_kv_ref_compact((void *const *)bufs, 4, &l, base, slots, 0, err, sizeof err) ==
                SD_INVALID_ARGUMENT && strstr(err, "n must") != NULL,
        "n = 0: %s", err);
  /* fp16 buffers, a path whose first nodes are already in place (slot == base + j) */
  const sd_kv_layout l16 = {.batch = 1, .kv_num_heads = 2, .max_len = 12, .head_dim = 3,
                            .elem_size = 2};
  uint16_t h16[2][2 * 12 * 3];
  for (int k = 0; k < 2; k++) {
    for (int x = 0; x < 2 * 12 * 3; x++) h16[k][x] = (uint16_t)(k * 1000 + x);
  }
  void *hb[2] = {h16[0], h16[1]};
  const int32_t kept[4] = {4, 5, 8, 10};
  CHECK(sd_kv_ref_compact(hb, 2, &l16, 4, kept, 4, err, sizeof err) == SD_OK, "%s", err);
  bad = 0;
  for (int k = 0; k < 2; k++) {
    for (int hh = 0; hh < 2; hh++) {
      for (int slot = 0; slot < 12; slot++) {
        const int src = slot >= 4 && slot < 8 ? kept[slot - 4] : slot;
        for (int d = 0; d < 3; d++) {
          bad += h16[k][(hh * 12 + slot) * 3 + d] != (uint16_t)(k * 1000 + (hh * 12 + src) * 3 + d);
        }
      }
    }
  }
  CHECK(bad == 0, "fp16 compaction with in-place prefix moved %d elements wrong", bad);
  for (int k = 0; k < 4; k++) free(bufs[k]);
  printf("ok  %-44s\n", "KV compaction, all buffers, in place");
}

/*
 * The fast kernel's promise: a tree node's output equals, bit for bit, the output of the same
 * token in a chain (its ancestors only), wherever its siblings put it. Same prefix, a chain
 * root -> a -> b, and a tree where b sits at slot 5 behind unrelated siblings.
 */
static void test_tree_equals_chain(void) {
  const int32_t H = 6, Hkv = 2, D = 64, L = 320, P = 257, S_tree = 6;
  const size_t cache_n = (size_t)Hkv * L * D, tok = (size_t)(H + 2 * Hkv) * D;
  float *k_chain = malloc(cache_n * 4), *v_chain = malloc(cache_n * 4);
  float *k_tree = malloc(cache_n * 4), *v_tree = malloc(cache_n * 4);
  for (size_t x = 0; x < cache_n; x++) k_chain[x] = k_tree[x] = rand_uniform();
  for (size_t x = 0; x < cache_n; x++) v_chain[x] = v_tree[x] = rand_uniform();
  float tokens[3][(6 + 4) * 64]; /* root, a, b: packed q, k, v [(H + 2 Hkv) * D] */
  for (int n = 0; n < 3; n++) {
    for (size_t x = 0; x < tok; x++) tokens[n][x] = rand_uniform();
  }
  float q_chain[3 * 10 * 64], q_tree[6 * 10 * 64];
  for (int n = 0; n < 3; n++) memcpy(q_chain + n * tok, tokens[n], tok * 4);
  /* tree slots: 0 root, 1 sibling of a, 2 a, 3 child of the sibling, 4 sibling of b, 5 b */
  const int tree_of[6] = {0, -1, 1, -1, -1, 2};
  for (int n = 0; n < S_tree; n++) {
    if (tree_of[n] >= 0) {
      memcpy(q_tree + n * tok, tokens[tree_of[n]], tok * 4);
    } else {
      for (size_t x = 0; x < tok; x++) q_tree[n * tok + x] = rand_uniform();
    }
  }
  const int parent[6] = {-1, 0, 0, 1, 2, 2};
  uint8_t mask[36] = {0};
  for (int i = 0; i < S_tree; i++) {
    for (int j = i; j >= 0; j = parent[j]) mask[i * S_tree + j] = 1;
  }
  int64_t pos_chain[3] = {P, P + 1, P + 2}, pos_tree[6] = {P, P + 1, P + 1, P + 2, P + 2, P + 2};
  float cos_c[(P + 8) * 32], sin_c[(P + 8) * 32];
  for (int p = 0; p < P + 8; p++) {
    for (int d = 0; d < 32; d++) {
      const double a = p * pow(10000.0, -2.0 * d / 64.0);
      cos_c[p * 32 + d] = (float)cos(a);
      sin_c[p * 32 + d] = (float)sin(a);
    }
  }
  float out_chain[3 * 6 * 64], out_tree[6 * 6 * 64];
  sd_ta_shape s = {.batch = 1, .num_heads = H, .kv_num_heads = Hkv, .head_dim = D, .max_len = L,
                   .rotary_dim = D, .max_pos = P + 8, .dtype = SD_TA_F32, .qkv_packed = 1};
  int32_t past[1] = {P};
  char err[256] = "";
  s.seq_len = 3;
  sd_ta_tensors tc = {.query = q_chain, .past_key = k_chain, .past_value = v_chain,
                      .present_key = k_chain, .present_value = v_chain, .cos_cache = cos_c,
                      .sin_cache = sin_c, .position_ids = pos_chain, .output = out_chain};
  int st = sd_ta_cpu_forward(&s, past, &tc, NULL, NULL, err, sizeof err);
  CHECK(st == SD_OK, "chain: %s", err);
  s.seq_len = S_tree;
  sd_ta_tensors tt = {.query = q_tree, .past_key = k_tree, .past_value = v_tree,
                      .present_key = k_tree, .present_value = v_tree, .cos_cache = cos_c,
                      .sin_cache = sin_c, .position_ids = pos_tree, .tree_mask = mask,
                      .output = out_tree};
  st = sd_ta_cpu_forward(&s, past, &tt, backwards, NULL, err, sizeof err);
  CHECK(st == SD_OK, "tree: %s", err);
  int differ = 0;
  for (int n = 0; n < S_tree; n++) {
    if (tree_of[n] < 0) continue;
    differ += memcmp(out_tree + (size_t)n * H * D, out_chain + (size_t)tree_of[n] * H * D,
                     (size_t)H * D * 4) != 0;
  }
  CHECK(differ == 0, "%d tree nodes differ from their chain tokens", differ);
  printf("ok  %-44s\n", "fast kernel: tree node == chain token, bitwise");
  free(k_chain);
  free(v_chain);
  free(k_tree);
  free(v_tree);
}

int main(void) {
  test_fp16();
  for (g_fast = 0; g_fast < 2; g_fast++) {
    test_attention_cases();
    test_alias_and_null_mask();
    test_empty_row();
    test_gqa_forms();
    test_errors();
  }
  test_tree_equals_chain();
  test_compact();
  printf("%d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}
