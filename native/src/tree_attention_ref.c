/*
 * tree_attention_ref.c: CPU reference of tree attention and KV compaction (see the header for
 * the operation). Written for clarity: the CUDA kernels mirror its index arithmetic.
 */
#include "tree_attention_ref.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specdec.h"

static int fail(int status, char *err, size_t err_cap, const char *fmt, ...) {
  if (err != NULL && err_cap > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_cap, fmt, ap);
    va_end(ap);
  }
  return status;
}

int32_t sd_ta_dtype_size(int32_t dtype) {
  if (dtype == SD_TA_F32) return 4;
  if (dtype == SD_TA_F16) return 2;
  return 0;
}

/* ---- fp16 ------------------------------------------------------------------------------- */

uint16_t sd_f32_to_f16(float value) {
  uint32_t x;
  memcpy(&x, &value, sizeof x);
  const uint32_t sign = (x >> 16) & 0x8000u;
  const uint32_t exponent = (x >> 23) & 0xffu;
  uint32_t mantissa = x & 0x7fffffu;
  if (exponent == 0xffu) { /* inf or NaN (NaN kept quiet and non-zero) */
    return (uint16_t)(sign | 0x7c00u | (mantissa != 0 ? 0x200u | (mantissa >> 13) : 0u));
  }
  const int32_t e = (int32_t)exponent - 127 + 15; /* biased half exponent */
  if (e >= 31) return (uint16_t)(sign | 0x7c00u); /* overflow: inf */
  if (e <= 0) {                                   /* half subnormal or zero */
    if (e < -10) return (uint16_t)sign;           /* below half the smallest subnormal */
    mantissa |= 0x800000u;                        /* implicit leading bit */
    const uint32_t shift = (uint32_t)(14 - e);    /* value / 2^-24 = mantissa >> shift */
    uint32_t half_mantissa = mantissa >> shift;
    const uint32_t rest = mantissa & ((1u << shift) - 1u);
    const uint32_t halfway = 1u << (shift - 1u);
    if (rest > halfway || (rest == halfway && (half_mantissa & 1u) != 0)) half_mantissa++;
    return (uint16_t)(sign | half_mantissa); /* a carry becomes the smallest normal: right */
  }
  uint32_t half = sign | ((uint32_t)e << 10) | (mantissa >> 13);
  const uint32_t rest = mantissa & 0x1fffu;
  if (rest > 0x1000u || (rest == 0x1000u && (half & 1u) != 0)) half++; /* carry may give inf */
  return (uint16_t)half;
}

float sd_f16_to_f32(uint16_t bits) {
  const uint32_t sign = ((uint32_t)bits & 0x8000u) << 16;
  const uint32_t exponent = ((uint32_t)bits >> 10) & 0x1fu;
  const uint32_t mantissa = (uint32_t)bits & 0x3ffu;
  uint32_t x;
  if (exponent == 0) {
    const float magnitude = (float)mantissa * 0x1p-24f; /* exact */
    return sign != 0 ? -magnitude : magnitude;
  }
  if (exponent == 31) {
    x = sign | 0x7f800000u | (mantissa << 13);
  } else {
    x = sign | ((exponent + 112u) << 23) | (mantissa << 13);
  }
  float out;
  memcpy(&out, &x, sizeof out);
  return out;
}

/* ---- element access ---------------------------------------------------------------------- */

float sd__ta_load(const void *base, size_t index, int32_t dtype) {
  if (dtype == SD_TA_F16) return sd_f16_to_f32(((const uint16_t *)base)[index]);
  return ((const float *)base)[index];
}

void sd__ta_store(void *base, size_t index, int32_t dtype, float value) {
  if (dtype == SD_TA_F16) {
    ((uint16_t *)base)[index] = sd_f32_to_f16(value);
  } else {
    ((float *)base)[index] = value;
  }
}

/* ---- checks ------------------------------------------------------------------------------ */

int sd_ta_check_shape(const sd_ta_shape *shape, const int32_t *past_lens, char *err,
                      size_t err_cap) {
  if (shape == NULL) return fail(SD_INVALID_ARGUMENT, err, err_cap, "shape is NULL");
  const sd_ta_shape *s = shape;
  if (s->batch < 1) return fail(SD_INVALID_ARGUMENT, err, err_cap, "batch must be >= 1, got %d", s->batch);
  if (s->seq_len < 1 || s->seq_len > SD_TA_MAX_SEQ) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap, "seq_len must be in 1..%d, got %d",
                SD_TA_MAX_SEQ, s->seq_len);
  }
  if (s->kv_num_heads < 1) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap, "kv_num_heads must be >= 1, got %d",
                s->kv_num_heads);
  }
  if (s->num_heads < s->kv_num_heads || s->num_heads % s->kv_num_heads != 0) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap,
                "num_heads must be a positive multiple of kv_num_heads (%d), got %d",
                s->kv_num_heads, s->num_heads);
  }
  if (s->head_dim < 2 || s->head_dim > SD_TA_MAX_HEAD_DIM || s->head_dim % 2 != 0) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap, "head_dim must be even and in 2..%d, got %d",
                SD_TA_MAX_HEAD_DIM, s->head_dim);
  }
  if (s->max_len < s->seq_len) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap, "max_len must be >= seq_len (%d), got %d",
                s->seq_len, s->max_len);
  }
  if (s->rotary_dim < 0 || s->rotary_dim > s->head_dim || s->rotary_dim % 2 != 0) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap,
                "rotary_dim must be even and in 0..head_dim (%d), got %d", s->head_dim,
                s->rotary_dim);
  }
  if (s->rotary_dim > 0 && s->max_pos < 1) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap, "max_pos must be >= 1 with rotary, got %d",
                s->max_pos);
  }
  if (sd_ta_dtype_size(s->dtype) == 0) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap, "dtype must be SD_TA_F32 or SD_TA_F16, got %d",
                s->dtype);
  }
  if (!(s->scale >= 0.0f) || isinf(s->scale)) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap, "scale must be finite and >= 0, got %g",
                (double)s->scale);
  }
  const int64_t mask_size = (int64_t)s->seq_len * s->seq_len;
  if (s->mask_batch_stride != 0 && s->mask_batch_stride != mask_size) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap,
                "mask_batch_stride must be 0 or seq_len * seq_len (%lld), got %lld",
                (long long)mask_size, (long long)s->mask_batch_stride);
  }
  if (s->qkv_packed != 0 && s->qkv_packed != 1) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap, "qkv_packed must be 0 or 1, got %d",
                s->qkv_packed);
  }
  if (s->past_max_len < 0) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap, "past_max_len must be >= 0, got %d",
                s->past_max_len);
  }
  if (s->bias_len < 0) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap, "bias_len must be >= 0, got %d", s->bias_len);
  }
  const int64_t bias_size = (int64_t)s->seq_len * s->bias_len;
  if (s->bias_batch_stride != 0 && s->bias_batch_stride != bias_size) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap,
                "bias_batch_stride must be 0 or seq_len * bias_len (%lld), got %lld",
                (long long)bias_size, (long long)s->bias_batch_stride);
  }
  if (past_lens != NULL) {
    const int32_t past_max = s->past_max_len > 0 ? s->past_max_len : s->max_len;
    for (int32_t b = 0; b < s->batch; b++) {
      const int32_t p = past_lens[b];
      if (p < 0 || (int64_t)p + s->seq_len > s->max_len) {
        return fail(SD_INVALID_ARGUMENT, err, err_cap,
                    "past_lens[%d] must be in 0..max_len - seq_len (%d), got %d", b,
                    s->max_len - s->seq_len, p);
      }
      if (p > past_max) {
        return fail(SD_INVALID_ARGUMENT, err, err_cap,
                    "past_lens[%d] (%d) exceeds the past buffers' length past_max_len (%d)", b, p,
                    past_max);
      }
      if (s->bias_len > 0 && (int64_t)p + s->seq_len > s->bias_len) {
        return fail(SD_INVALID_ARGUMENT, err, err_cap,
                    "bias_len (%d) must be >= past_lens[%d] + seq_len (%d)", s->bias_len, b,
                    p + s->seq_len);
      }
    }
  }
  return SD_OK;
}

int sd_ta_check_tensors(const sd_ta_shape *s, const int32_t *past_lens, const sd_ta_tensors *t,
                        char *err, size_t err_cap) {
  if (t == NULL) return fail(SD_INVALID_ARGUMENT, err, err_cap, "tensors is NULL");
  if (t->query == NULL) return fail(SD_INVALID_ARGUMENT, err, err_cap, "query is NULL");
  if (s->qkv_packed) {
    if (t->key != NULL || t->value != NULL) {
      return fail(SD_INVALID_ARGUMENT, err, err_cap, "key and value must be NULL with qkv_packed");
    }
  } else {
    if (t->key == NULL) return fail(SD_INVALID_ARGUMENT, err, err_cap, "key is NULL");
    if (t->value == NULL) return fail(SD_INVALID_ARGUMENT, err, err_cap, "value is NULL");
  }
  if (t->tree_mask != NULL && t->attention_bias != NULL) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap,
                "tree_mask and attention_bias are exclusive: pass one of them");
  }
  if (t->attention_bias != NULL && s->bias_len < 1) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap, "bias_len must be set with attention_bias");
  }
  const int32_t past_max = s->past_max_len > 0 ? s->past_max_len : s->max_len;
  if (past_max != s->max_len &&
      (t->past_key == t->present_key || t->past_value == t->present_value)) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap,
                "past and present buffers of different lengths (%d, %d) cannot be the same memory",
                past_max, s->max_len);
  }
  if (t->present_key == NULL) return fail(SD_INVALID_ARGUMENT, err, err_cap, "present_key is NULL");
  if (t->present_value == NULL) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap, "present_value is NULL");
  }
  if (t->output == NULL) return fail(SD_INVALID_ARGUMENT, err, err_cap, "output is NULL");
  int any_past = 0;
  for (int32_t b = 0; b < s->batch; b++) any_past |= past_lens[b] > 0;
  if (any_past && (t->past_key == NULL || t->past_value == NULL)) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap,
                "past_key and past_value must be set when a past length is > 0");
  }
  if (s->rotary_dim > 0 && (t->cos_cache == NULL || t->sin_cache == NULL)) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap, "cos_cache and sin_cache must be set with rotary");
  }
  return SD_OK;
}

/* ---- forward ----------------------------------------------------------------------------- */

/* Position of new token i of batch entry b (rotary). */
int64_t sd__ta_position(const sd_ta_tensors *t, const sd_ta_shape *s, int32_t b, int32_t i,
                           int32_t past_len) {
  if (t->position_ids == NULL) return (int64_t)past_len + i;
  return t->position_ids[(size_t)b * (size_t)s->seq_len + (size_t)i];
}

/* Rotate-half rotary on the first rotary_dim elements of x [D] f32 at position pos. */
void sd__ta_rotate(float *x, const sd_ta_shape *s, const sd_ta_tensors *t, int64_t pos) {
  const int32_t half = s->rotary_dim / 2;
  for (int32_t d = 0; d < half; d++) {
    const size_t c = (size_t)pos * (size_t)half + (size_t)d; /* [max_pos, half] */
    const float cs = sd__ta_load(t->cos_cache, c, s->dtype);
    const float sn = sd__ta_load(t->sin_cache, c, s->dtype);
    const float x1 = x[d];
    const float x2 = x[d + half];
    x[d] = x1 * cs - x2 * sn;
    x[d + half] = x2 * cs + x1 * sn;
  }
}

/* Entry (i, t) of attention_bias [B|1, 1, S, T] for batch entry b. */
static float bias_at(const sd_ta_shape *s, const sd_ta_tensors *t, int32_t b, int32_t i,
                     int32_t col) {
  const size_t index = (size_t)b * (size_t)s->bias_batch_stride +
                       (size_t)i * (size_t)s->bias_len + (size_t)col;
  return sd__ta_load(t->attention_bias, index, s->dtype);
}

/* Whether new token i of batch entry b (past length P) sees new token j. */
int sd__ta_sees(const sd_ta_shape *s, const sd_ta_tensors *t, int32_t b, int32_t i,
                       int32_t j, int32_t P) {
  if (t->tree_mask != NULL) {
    const size_t index = (size_t)b * (size_t)s->mask_batch_stride +
                         (size_t)i * (size_t)s->seq_len + (size_t)j; /* [B?, S, S] */
    return t->tree_mask[index] != 0;
  }
  if (t->attention_bias != NULL) return bias_at(s, t, b, i, P + j) > SD_TA_BIAS_MASKED;
  return j <= i;
}

/* attention_bias must be a mask: 0 on the prefix, 0 or <= SD_TA_BIAS_MASKED on new tokens. */
static int check_bias(const sd_ta_shape *s, const sd_ta_tensors *t, const int32_t *past_lens,
                      char *err, size_t err_cap) {
  for (int32_t b = 0; b < s->batch; b++) {
    for (int32_t i = 0; i < s->seq_len; i++) {
      for (int32_t col = 0; col < past_lens[b] + s->seq_len; col++) {
        const float x = bias_at(s, t, b, i, col);
        const int ok = col < past_lens[b] ? x == 0.0f : (x == 0.0f || x <= SD_TA_BIAS_MASKED);
        if (!ok) {
          return fail(SD_INVALID_ARGUMENT, err, err_cap,
                      "attention_bias[%d, 0, %d, %d] must be 0%s, got %g (TreeAttention reads the "
                      "bias as a mask)",
                      b, i, col, col < past_lens[b] ? " (every token sees the prefix)" : " or <= -1e4",
                      (double)x);
        }
      }
    }
  }
  return SD_OK;
}

int sd_ta_check_forward(const sd_ta_shape *shape, const int32_t *past_lens,
                        const sd_ta_tensors *tensors, char *err, size_t err_cap) {
  if (past_lens == NULL) return fail(SD_INVALID_ARGUMENT, err, err_cap, "past_lens is NULL");
  int status = sd_ta_check_shape(shape, past_lens, err, err_cap);
  if (status != SD_OK) return status;
  const sd_ta_shape *s = shape;
  const sd_ta_tensors *t = tensors;
  status = sd_ta_check_tensors(s, past_lens, t, err, err_cap);
  if (status != SD_OK) return status;
  if (s->rotary_dim > 0) {
    for (int32_t b = 0; b < s->batch; b++) {
      for (int32_t i = 0; i < s->seq_len; i++) {
        const int64_t pos = sd__ta_position(t, s, b, i, past_lens[b]);
        if (pos < 0 || pos >= s->max_pos) {
          return fail(SD_INVALID_ARGUMENT, err, err_cap,
                      "position_ids[%d, %d] must be in 0..%d (cos_cache rows - 1), got %lld", b, i,
                      s->max_pos - 1, (long long)pos);
        }
      }
    }
  }
  if (t->attention_bias != NULL) return check_bias(s, t, past_lens, err, err_cap);
  return SD_OK;
}

void sd__ta_write_present(const sd_ta_shape *s, const int32_t *past_lens,
                          const sd_ta_tensors *t) {
  const int32_t B = s->batch, S = s->seq_len, H = s->num_heads, Hkv = s->kv_num_heads;
  const int32_t D = s->head_dim, L = s->max_len;
  const int32_t past_L = s->past_max_len > 0 ? s->past_max_len : L;
  const int32_t dt = s->dtype;
  const size_t esize = (size_t)sd_ta_dtype_size(dt);
  /* elements between consecutive tokens, and where k and v start (packed: inside query) */
  const size_t q_tok = (size_t)(s->qkv_packed ? H + 2 * Hkv : H) * (size_t)D;
  const size_t kv_tok = s->qkv_packed ? q_tok : (size_t)Hkv * (size_t)D;
  const void *key = s->qkv_packed ? (const char *)t->query + (size_t)H * D * esize : t->key;
  const void *value =
      s->qkv_packed ? (const char *)t->query + (size_t)(H + Hkv) * D * esize : t->value;
  float row[SD_TA_MAX_HEAD_DIM]; /* [D] f32 */
  for (int32_t b = 0; b < B; b++) {
    const int32_t P = past_lens[b];
    /* 1. past -> present for slots [0, P) when the buffers differ. */
    for (int32_t g = 0; g < Hkv; g++) {
      const size_t bg = (size_t)b * (size_t)Hkv + (size_t)g;
      const size_t dst0 = bg * (size_t)L * (size_t)D * esize;      /* present [b, g, 0, 0] */
      const size_t src0 = bg * (size_t)past_L * (size_t)D * esize; /* past [b, g, 0, 0] */
      const size_t bytes = (size_t)P * (size_t)D * esize;
      if (P > 0 && t->past_key != t->present_key) {
        memmove((char *)t->present_key + dst0, (const char *)t->past_key + src0, bytes);
      }
      if (P > 0 && t->past_value != t->present_value) {
        memmove((char *)t->present_value + dst0, (const char *)t->past_value + src0, bytes);
      }
    }
    /* 2. new keys (rotated) and values at slots [P, P + S). */
    for (int32_t i = 0; i < S; i++) {
      const int64_t pos = sd__ta_position(t, s, b, i, P);
      for (int32_t g = 0; g < Hkv; g++) {
        const size_t src = ((size_t)b * (size_t)S + (size_t)i) * kv_tok +
                           (size_t)g * (size_t)D; /* key/value [B, S, Hkv, D] (token stride) */
        const size_t dst = (((size_t)b * (size_t)Hkv + (size_t)g) * (size_t)L + (size_t)(P + i)) *
                           (size_t)D; /* present [B, Hkv, L, D] */
        for (int32_t d = 0; d < D; d++) row[d] = sd__ta_load(key, src + (size_t)d, dt);
        if (s->rotary_dim > 0) sd__ta_rotate(row, s, t, pos);
        for (int32_t d = 0; d < D; d++) {
          sd__ta_store(t->present_key, dst + (size_t)d, dt, row[d]);
          sd__ta_store(t->present_value, dst + (size_t)d, dt, sd__ta_load(value, src + (size_t)d, dt));
        }
      }
    }
  }
}

int sd_ta_ref_forward(const sd_ta_shape *shape, const int32_t *past_lens,
                      const sd_ta_tensors *tensors, char *err, size_t err_cap) {
  int status = sd_ta_check_forward(shape, past_lens, tensors, err, err_cap);
  if (status != SD_OK) return status;
  const sd_ta_shape *s = shape;
  const sd_ta_tensors *t = tensors;

  const int32_t B = s->batch, S = s->seq_len, H = s->num_heads, Hkv = s->kv_num_heads;
  const int32_t D = s->head_dim, L = s->max_len, G = H / Hkv;
  const int32_t dt = s->dtype;
  /* elements between consecutive query tokens (packed: q, k and v of a token) */
  const size_t q_tok = (size_t)(s->qkv_packed ? H + 2 * Hkv : H) * (size_t)D;
  const float scale = s->scale > 0.0f ? s->scale : 1.0f / sqrtf((float)D);

  float *row = malloc(sizeof(float) * (size_t)D);           /* [D] f32 */
  float *scores = malloc(sizeof(float) * (size_t)L);        /* [P + S] f32 */
  float *acc = malloc(sizeof(float) * (size_t)D);           /* [D] f32 */
  float *kf = malloc(sizeof(float) * (size_t)L * (size_t)D); /* [P + S, D] f32 keys of one kv head */
  float *vf = malloc(sizeof(float) * (size_t)L * (size_t)D); /* [P + S, D] f32 values */
  if (row == NULL || scores == NULL || acc == NULL || kf == NULL || vf == NULL) {
    free(row);
    free(scores);
    free(acc);
    free(kf);
    free(vf);
    return fail(SD_OUT_OF_MEMORY, err, err_cap, "out of memory (tree attention scratch)");
  }

  sd__ta_write_present(s, past_lens, t);
  for (int32_t b = 0; b < B; b++) {
    const int32_t P = past_lens[b];
    /* 3. attention of every (query i, head h) over the visible slots; the KV rows of one kv
       head are read (converted to f32) once, then serve its G query heads and S queries. */
    for (int32_t g = 0; g < Hkv; g++) {
      const size_t kv0 = ((size_t)b * (size_t)Hkv + (size_t)g) * (size_t)L * (size_t)D;
      for (size_t x = 0; x < (size_t)(P + S) * (size_t)D; x++) {
        kf[x] = sd__ta_load(t->present_key, kv0 + x, dt);
        vf[x] = sd__ta_load(t->present_value, kv0 + x, dt);
      }
      for (int32_t i = 0; i < S; i++) {
        const int64_t pos = sd__ta_position(t, s, b, i, P);
        for (int32_t h = g * G; h < (g + 1) * G; h++) {
          const size_t q0 = ((size_t)b * (size_t)S + (size_t)i) * q_tok +
                            (size_t)h * (size_t)D; /* query [B, S, H, D] (token stride) */
          const size_t o0 = (((size_t)b * (size_t)S + (size_t)i) * (size_t)H + (size_t)h) *
                            (size_t)D; /* output [B, S, H, D] */
          for (int32_t d = 0; d < D; d++) row[d] = sd__ta_load(t->query, q0 + (size_t)d, dt);
          if (s->rotary_dim > 0) sd__ta_rotate(row, s, t, pos);
          float max_score = -INFINITY;
          for (int32_t slot = 0; slot < P + S; slot++) {
            if (slot >= P && !sd__ta_sees(s, t, b, i, slot - P, P)) {
              scores[slot] = -INFINITY;
              continue;
            }
            float dot = 0.0f;
            const float *k = kf + (size_t)slot * (size_t)D;
            for (int32_t d = 0; d < D; d++) dot += row[d] * k[d];
            scores[slot] = dot * scale;
            if (scores[slot] > max_score) max_score = scores[slot];
          }
          for (int32_t d = 0; d < D; d++) acc[d] = 0.0f;
          float sum = 0.0f;
          if (max_score != -INFINITY) {
            for (int32_t slot = 0; slot < P + S; slot++) {
              if (scores[slot] == -INFINITY) continue;
              const float p = expf(scores[slot] - max_score);
              sum += p;
              const float *v = vf + (size_t)slot * (size_t)D;
              for (int32_t d = 0; d < D; d++) acc[d] += p * v[d];
            }
          }
          const float inv = sum > 0.0f ? 1.0f / sum : 0.0f;
          for (int32_t d = 0; d < D; d++) sd__ta_store(t->output, o0 + (size_t)d, dt, acc[d] * inv);
        }
      }
    }
  }
  free(kf);
  free(vf);
  free(row);
  free(scores);
  free(acc);
  return SD_OK;
}

/* ---- compaction -------------------------------------------------------------------------- */

int sd_kv_check_compact(const sd_kv_layout *layout, int32_t base, const int32_t *slots, int32_t n,
                        char *err, size_t err_cap) {
  if (layout == NULL) return fail(SD_INVALID_ARGUMENT, err, err_cap, "layout is NULL");
  const sd_kv_layout *l = layout;
  if (l->batch < 1 || l->kv_num_heads < 1 || l->max_len < 1 || l->head_dim < 1) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap,
                "layout sizes must be >= 1 (batch %d, kv_num_heads %d, max_len %d, head_dim %d)",
                l->batch, l->kv_num_heads, l->max_len, l->head_dim);
  }
  if (l->elem_size != 2 && l->elem_size != 4) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap, "elem_size must be 2 or 4, got %d",
                l->elem_size);
  }
  if (slots == NULL) return fail(SD_INVALID_ARGUMENT, err, err_cap, "slots is NULL");
  if (n < 1 || n > SD_TA_MAX_SEQ) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap, "n must be in 1..%d, got %d", SD_TA_MAX_SEQ, n);
  }
  if (base < 0) return fail(SD_INVALID_ARGUMENT, err, err_cap, "base must be >= 0, got %d", base);
  for (int32_t j = 0; j < n; j++) {
    const int32_t lo = j == 0 ? base : slots[j - 1] + 1;
    if (slots[j] < lo || slots[j] >= l->max_len) {
      return fail(SD_INVALID_ARGUMENT, err, err_cap,
                  "slots must increase strictly from base (%d) and stay < max_len (%d): "
                  "slots[%d] = %d",
                  base, l->max_len, j, slots[j]);
    }
  }
  return SD_OK;
}

int sd_kv_ref_compact(void *const *buffers, int32_t n_buffers, const sd_kv_layout *layout,
                      int32_t base, const int32_t *slots, int32_t n, char *err, size_t err_cap) {
  int status = sd_kv_check_compact(layout, base, slots, n, err, err_cap);
  if (status != SD_OK) return status;
  if (n_buffers < 0 || (n_buffers > 0 && buffers == NULL)) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap, "buffers must hold n_buffers (%d) pointers",
                n_buffers);
  }
  for (int32_t k = 0; k < n_buffers; k++) {
    if (buffers[k] == NULL) return fail(SD_INVALID_ARGUMENT, err, err_cap, "buffers[%d] is NULL", k);
  }
  const sd_kv_layout *l = layout;
  const size_t row_bytes = (size_t)l->head_dim * (size_t)l->elem_size;
  for (int32_t k = 0; k < n_buffers; k++) {
    char *buffer = buffers[k]; /* [B, Hkv, max_len, D] */
    for (int32_t bh = 0; bh < l->batch * l->kv_num_heads; bh++) {
      char *rows = buffer + (size_t)bh * (size_t)l->max_len * row_bytes;
      for (int32_t j = 0; j < n; j++) {
        if (slots[j] == base + j) continue;
        memcpy(rows + (size_t)(base + j) * row_bytes, rows + (size_t)slots[j] * row_bytes,
               row_bytes);
      }
    }
  }
  return SD_OK;
}
