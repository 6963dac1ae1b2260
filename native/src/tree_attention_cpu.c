/*
 * tree_attention_cpu.c: the CPU kernel of the TreeAttention op (see sd_ta_cpu_forward in the
 * header). Same operation and checks as the reference (tree_attention_ref.c), made fast where it
 * costs: dot products and value sums run on vectors, and the (batch entry, query head,
 * new token) work items are spread over ONNX Runtime's intra-op threads.
 *
 * Exactness across tree shapes is the point of this kernel: every number a query computes
 * depends only on the slots it sees, in increasing slot order. A dot product always sums its D
 * products in the same lanes and combines them in the same order; the softmax maximum is exact;
 * the softmax sum and each value lane accumulate over visible slots in slot order, skipping
 * masked ones. A tree node and the same token in a chain see the same rows in the same order,
 * so their outputs are equal bit for bit, and so are the logits of a batch-invariant model.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simd16.h"
#include "specdec.h"
#include "tree_attention_ref.h"

/* 16 f32 lanes: AVX-512 in the avx512f clone, pairs or quads of narrower registers elsewhere.
   Vectors are never passed to or returned from functions (that would change the ABI). */
typedef sd_v16 v16;
typedef sd_v16i v16i;
#define LANES 16

#define LOAD16(dst, src) memcpy(&(dst), (src), sizeof(v16))
#define STORE16(dst, src) memcpy((dst), &(src), sizeof(v16))

typedef struct job {
  const sd_ta_shape *s;
  const int32_t *past_lens;
  const sd_ta_tensors *t;
  size_t q_tok; /* elements between consecutive tokens of query */
  float scale;
  volatile int failed; /* set (only ever to 1) by an item that could not get its scratch */
} job;

/* Shuffles of the pairwise lane sums: lane l gets lane l + w (w = 8, 4, 2, 1) in its low lanes. */
#define HALF8 ((v16i){8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15})
#define HALF4 ((v16i){4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7})
#define HALF2 ((v16i){2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3, 2, 3})
#define HALF1 ((v16i){1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1})

/* The 16 lanes of a dot product before their reduction: the whole 32-element blocks of D. */
#define DOT_LANES(out, a, b, D)                                                               \
  do {                                                                                        \
    v16 s_ = {0}, t_ = {0};                                                                   \
    for (int32_t d_ = 0; d_ + 2 * LANES <= (D); d_ += 2 * LANES) {                            \
      v16 x_, y_, u_, w_;                                                                     \
      LOAD16(x_, (a) + d_);                                                                   \
      LOAD16(y_, (b) + d_);                                                                   \
      LOAD16(u_, (a) + d_ + LANES);                                                           \
      LOAD16(w_, (b) + d_ + LANES);                                                           \
      s_ += x_ * y_;                                                                          \
      t_ += u_ * w_;                                                                          \
    }                                                                                         \
    (out) = s_ + t_;                                                                          \
  } while (0)

/* out = a . b over D elements in one fixed order: lane l of 16 sums d = l, l + 32, ... and
   d = l + 16, l + 48, ... in two accumulators, added (DOT_LANES); the lanes combine pairwise
   (l += l + 8, then + 4, + 2, + 1); the tail (D % 32) follows in order. A macro: no vector
   crosses a function boundary. */
#define DOT(out, a, b, D)                                                                     \
  do {                                                                                        \
    v16 l_;                                                                                   \
    DOT_LANES(l_, (a), (b), (D));                                                             \
    l_ += __builtin_shuffle(l_, HALF8);                                                       \
    l_ += __builtin_shuffle(l_, HALF4);                                                       \
    l_ += __builtin_shuffle(l_, HALF2);                                                       \
    l_ += __builtin_shuffle(l_, HALF1);                                                       \
    float r_ = l_[0];                                                                         \
    for (int32_t e_ = (D) / (2 * LANES) * (2 * LANES); e_ < (D); e_++) r_ += (a)[e_] * (b)[e_]; \
    (out) = r_;                                                                               \
  } while (0)

/* Two-vector shuffles that combine pairs of lanes of two slots' sums at once (see DOT16). */
#define LO8 ((v16i){0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23})
#define HI8 ((v16i){8, 9, 10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31})
#define LO4 ((v16i){0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27})
#define HI4 ((v16i){4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31})
#define LO2 ((v16i){0, 1, 4, 5, 8, 9, 12, 13, 16, 17, 20, 21, 24, 25, 28, 29})
#define HI2 ((v16i){2, 3, 6, 7, 10, 11, 14, 15, 18, 19, 22, 23, 26, 27, 30, 31})
#define LO1 ((v16i){0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30})
#define HI1 ((v16i){1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31})

/* Pairs the lanes of two vectors by `lo` / `hi` and adds them (one level of DOT16). */
#define COMBINE(out, x, y, lo, hi) (out) = __builtin_shuffle((x), (y), lo) + __builtin_shuffle((x), (y), hi)

/*
 * out[u] = DOT(a, b + u * D, D) for 16 consecutive key rows, bit for bit: each row's lanes are
 * summed as DOT sums them (lane l += l + 8, then + 4, + 2, + 1), but two rows share every
 * shuffle and add, so 16 reductions take 15 combines instead of 16 chains of four. Needs
 * D % 32 == 0. A macro: no vector crosses a function boundary.
 */
#define DOT16(out, a, b, D)                                                                   \
  do {                                                                                        \
    v16 r_[16], c_[8], e_[4], f_[2];                                                          \
    for (int n_ = 0; n_ < 16; n_++) DOT_LANES(r_[n_], (a), (b) + (size_t)n_ * (size_t)(D), (D)); \
    for (int m_ = 0; m_ < 8; m_++) COMBINE(c_[m_], r_[2 * m_], r_[2 * m_ + 1], LO8, HI8);     \
    for (int m_ = 0; m_ < 4; m_++) COMBINE(e_[m_], c_[2 * m_], c_[2 * m_ + 1], LO4, HI4);     \
    for (int m_ = 0; m_ < 2; m_++) COMBINE(f_[m_], e_[2 * m_], e_[2 * m_ + 1], LO2, HI2);     \
    COMBINE((out), f_[0], f_[1], LO1, HI1);                                                   \
  } while (0)

/*
 * The attention of one query: item = (b * H + h) * S + i for batch entry b, query head h, new
 * token i (a work item per query, so every thread has work even with one KV head or one token).
 * A score per visible slot, the maximum, p = exp(score - max) on vectors, the visible p and slots
 * compacted in slot order, the softmax sum over that list in 16 fixed lanes, and the value sum
 * slot by slot.
 */
__attribute__((target_clones("avx512f", "default"))) static void attend(void *usr, size_t item) {
  job *jb = usr;
  const sd_ta_shape *s = jb->s;
  const sd_ta_tensors *t = jb->t;
  const int32_t S = s->seq_len, H = s->num_heads, Hkv = s->kv_num_heads, D = s->head_dim;
  const int32_t L = s->max_len, dt = s->dtype, G = H / Hkv;
  const int32_t i = (int32_t)(item % (size_t)S);
  const int32_t h = (int32_t)(item / (size_t)S % (size_t)H);
  const int32_t b = (int32_t)(item / ((size_t)S * (size_t)H)), g = h / G;
  const int32_t P = jb->past_lens[b], T = P + S;
  const int32_t Tp = (T + LANES - 1) / LANES * LANES; /* T rounded up to whole vectors */
  /* scratch: scores [Tp], compacted p [Tp] and slots [Tp], q, acc, odd, k and v rows [D] each */
  float *scratch = malloc(sizeof(float) * (3 * (size_t)Tp + 5 * (size_t)D));
  if (scratch == NULL) {
    jb->failed = 1;
    return;
  }
  float *scores = scratch, *pc = scores + Tp;
  int32_t *slots = (int32_t *)(pc + Tp);
  float *q = (float *)(slots + Tp), *acc = q + D, *odd = acc + D, *krow = odd + D, *vrow = krow + D;
  const size_t kv0 = ((size_t)b * (size_t)Hkv + (size_t)g) * (size_t)L * (size_t)D;
  const float *keys = dt == SD_TA_F32 ? (const float *)t->present_key + kv0 : NULL;
  const float *values = dt == SD_TA_F32 ? (const float *)t->present_value + kv0 : NULL;
  {
    {
      const size_t q0 = ((size_t)b * (size_t)S + (size_t)i) * jb->q_tok + (size_t)h * (size_t)D;
      for (int32_t d = 0; d < D; d++) q[d] = sd__ta_load(t->query, q0 + (size_t)d, dt);
      if (s->rotary_dim > 0) sd__ta_rotate(q, s, t, sd__ta_position(t, s, b, i, P));
      float max_score = -INFINITY;
      int32_t j_start = 0;
      if (keys != NULL && D % (2 * LANES) == 0) { /* the prefix (always visible), 16 at a time */
        v16 top = (v16){0} - INFINITY;
        for (; j_start + LANES <= P; j_start += LANES) {
          v16 dots;
          DOT16(dots, q, keys + (size_t)j_start * (size_t)D, D);
          dots = dots * jb->scale;
          STORE16(scores + j_start, dots);
          const v16i up = dots > top; /* lanes: -1 where the new score is larger */
          top = (v16)(((v16i)dots & up) | ((v16i)top & ~up));
        }
        for (int32_t u = 0; u < LANES; u++) {
          if (top[u] > max_score) max_score = top[u];
        }
      }
      if (keys != NULL) { /* the rest of the prefix, four independent dots at a time */
        for (; j_start + 4 <= P; j_start += 4) {
          const float *k = keys + (size_t)j_start * (size_t)D;
          float d0, d1, d2, d3;
          DOT(d0, q, k, D);
          DOT(d1, q, k + D, D);
          DOT(d2, q, k + 2 * D, D);
          DOT(d3, q, k + 3 * D, D);
          scores[j_start] = d0 * jb->scale;
          scores[j_start + 1] = d1 * jb->scale;
          scores[j_start + 2] = d2 * jb->scale;
          scores[j_start + 3] = d3 * jb->scale;
          for (int32_t u = 0; u < 4; u++) {
            if (scores[j_start + u] > max_score) max_score = scores[j_start + u];
          }
        }
      }
      for (int32_t j = j_start; j < Tp; j++) {
        if (j >= T || (j >= P && !sd__ta_sees(s, t, b, i, j - P, P))) {
          scores[j] = -INFINITY;
          continue;
        }
        const float *k = keys != NULL ? keys + (size_t)j * (size_t)D : krow;
        if (keys == NULL) {
          for (int32_t d = 0; d < D; d++) {
            krow[d] = sd__ta_load(t->present_key, kv0 + (size_t)j * (size_t)D + (size_t)d, dt);
          }
        }
        float dp;
        DOT(dp, q, k, D);
        scores[j] = dp * jb->scale;
        if (scores[j] > max_score) max_score = scores[j];
      }
      for (int32_t d = 0; d < D; d++) acc[d] = 0.0f;
      float sum = 0.0f;
      if (max_score != -INFINITY) {
        for (int32_t j0 = 0; j0 < Tp; j0 += LANES) {
          v16 x, e;
          LOAD16(x, scores + j0);
          SD_EXP16(e, x - max_score); /* x <= 0 */
          STORE16(pc + j0, e); /* p in place; compacted below (never ahead of the reads) */
        }
        int32_t m = 0;
        for (int32_t j = 0; j < T; j++) {
          if (scores[j] == -INFINITY) continue;
          pc[m] = pc[j];
          slots[m++] = j;
        }
        for (int32_t j = m; j < (m + LANES - 1) / LANES * LANES; j++) pc[j] = 0.0f;
        v16 lanes = {0};
        for (int32_t j0 = 0; j0 < m; j0 += LANES) {
          v16 x;
          LOAD16(x, pc + j0);
          lanes += x;
        }
        lanes += __builtin_shuffle(lanes, HALF8); /* pairwise: lane l += lane l + w */
        lanes += __builtin_shuffle(lanes, HALF4);
        lanes += __builtin_shuffle(lanes, HALF2);
        lanes += __builtin_shuffle(lanes, HALF1);
        sum = lanes[0];
        if (values != NULL && D % (4 * LANES) == 0) {
          /* acc[d] = sum over visible slots, in order, of p * v[d]: 64 lanes of d in registers */
          for (int32_t d0 = 0; d0 < D; d0 += 4 * LANES) {
            /* even entries of the compacted list into a*, odd ones into b*, then a* + b* */
            v16 a0 = {0}, a1 = {0}, a2 = {0}, a3 = {0}, b0 = {0}, b1 = {0}, b2 = {0}, b3 = {0};
            int32_t c = 0;
            for (; c + 2 <= m; c += 2) {
              const float *v = values + (size_t)slots[c] * (size_t)D + d0;
              const float *w = values + (size_t)slots[c + 1] * (size_t)D + d0;
              const float p = pc[c], r = pc[c + 1];
              v16 x0, x1, x2, x3, y0, y1, y2, y3;
              LOAD16(x0, v);
              LOAD16(x1, v + LANES);
              LOAD16(x2, v + 2 * LANES);
              LOAD16(x3, v + 3 * LANES);
              LOAD16(y0, w);
              LOAD16(y1, w + LANES);
              LOAD16(y2, w + 2 * LANES);
              LOAD16(y3, w + 3 * LANES);
              a0 += p * x0;
              a1 += p * x1;
              a2 += p * x2;
              a3 += p * x3;
              b0 += r * y0;
              b1 += r * y1;
              b2 += r * y2;
              b3 += r * y3;
            }
            if (c < m) {
              const float *v = values + (size_t)slots[c] * (size_t)D + d0;
              const float p = pc[c];
              v16 x0, x1, x2, x3;
              LOAD16(x0, v);
              LOAD16(x1, v + LANES);
              LOAD16(x2, v + 2 * LANES);
              LOAD16(x3, v + 3 * LANES);
              a0 += p * x0;
              a1 += p * x1;
              a2 += p * x2;
              a3 += p * x3;
            }
            a0 += b0;
            a1 += b1;
            a2 += b2;
            a3 += b3;
            STORE16(acc + d0, a0);
            STORE16(acc + d0 + LANES, a1);
            STORE16(acc + d0 + 2 * LANES, a2);
            STORE16(acc + d0 + 3 * LANES, a3);
          }
        } else {
          for (int32_t d = 0; d < D; d++) odd[d] = 0.0f;
          for (int32_t c = 0; c < m; c++) {
            const int32_t j = slots[c];
            const float *v = values != NULL ? values + (size_t)j * (size_t)D : vrow;
            if (values == NULL) {
              for (int32_t d = 0; d < D; d++) {
                vrow[d] = sd__ta_load(t->present_value, kv0 + (size_t)j * (size_t)D + (size_t)d, dt);
              }
            }
            const float p = pc[c];
            float *into = c % 2 == 0 ? acc : odd; /* the same even / odd split as above */
            for (int32_t d = 0; d < D; d++) into[d] += p * v[d];
          }
          for (int32_t d = 0; d < D; d++) acc[d] += odd[d];
        }
      }
      const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
      const size_t o0 = (((size_t)b * (size_t)S + (size_t)i) * (size_t)H + (size_t)h) *
                        (size_t)D; /* output [B, S, H, D] */
      for (int32_t d = 0; d < D; d++) sd__ta_store(t->output, o0 + (size_t)d, dt, acc[d] * inv);
    }
  }
  free(scratch);
}

int sd_ta_cpu_forward(const sd_ta_shape *shape, const int32_t *past_lens,
                      const sd_ta_tensors *tensors, sd_ta_parallel_for parallel_for,
                      void *parallel_ctx, char *err, size_t err_cap) {
  int status = sd_ta_check_forward(shape, past_lens, tensors, err, err_cap);
  if (status != SD_OK) return status;
  const sd_ta_shape *s = shape;
  const sd_ta_tensors *t = tensors;
  const int32_t B = s->batch, H = s->num_heads, Hkv = s->kv_num_heads, D = s->head_dim;
  /* elements between consecutive query tokens (packed: q, k and v of a token) */
  const size_t q_tok = (size_t)(s->qkv_packed ? H + 2 * Hkv : H) * (size_t)D;

  sd__ta_write_present(s, past_lens, t); /* 1, 2: past -> present, new keys and values */
  /* 3. attention, one work item per query (batch entry, query head, new token). */
  job jb = {s, past_lens, t, q_tok, s->scale > 0.0f ? s->scale : 1.0f / sqrtf((float)D), 0};
  const size_t total = (size_t)B * (size_t)H * (size_t)s->seq_len;
  if (parallel_for != NULL) {
    parallel_for(parallel_ctx, attend, total, &jb);
  } else {
    for (size_t item = 0; item < total; item++) attend(&jb, item);
  }
  if (jb.failed) {
    if (err != NULL && err_cap > 0) snprintf(err, err_cap, "out of memory (tree attention scratch)");
    return SD_OUT_OF_MEMORY;
  }
  return SD_OK;
}
