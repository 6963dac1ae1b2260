/*
 * packed_linear_q.c: the CPU kernel of `specdec.PackedLinearQ` (see packed_linear.h): y = x W^T
 * over block-quantized weights (8-bit or 4-bit codes, symmetric, one f32 scale per 32 inputs of
 * an output column), stored in the 32-column panels of PackedLinear.
 *
 * Each weight row of a panel is decoded once into two 16-lane f32 vectors (code - zero point,
 * times its block's scale) and then serves every row of the chunk with a multiply-add, so
 * verifying 8 tokens decodes the weights once, not 8 times. Activations stay f32. The sum for
 * an output runs over k in increasing order, the same for every row count (batch invariance).
 */
#include <stdio.h>
#include <string.h>

#include "packed_linear.h"
#include "simd16.h"
#include "specdec.h"

typedef sd_v16 v16;
typedef sd_v16i v16i;
typedef uint8_t v16u8 __attribute__((vector_size(16)));
typedef int8_t v16s8 __attribute__((vector_size(16)));

#define ROW_BLOCK 64
#define PREFETCH_ROWS 48

typedef struct plq_job {
  const float *x, *scales, *bias;
  const uint8_t *codes;
  float *y;
  int64_t rows, k, n, panels, kblocks, row_bytes;
  int bits, chunk;
  int glu;      /* 1: stored panels alternate gate, up; y = silu(gate) * up (n = output width) */
  int64_t tile; /* stored panels per work item: 4 for 1-2 rows, 2 for 3-4, else 1 (FMA latency);
                   even with glu, so an item holds whole gate/up pairs */
} plq_job;

/* Most panels one work item interleaves. */
#define MAX_TILE 4

/* The 4-bit codes 0..15 as values code - 8. */
#define NIBBLE_VALUES \
  ((v16){-8.0f, -7.0f, -6.0f, -5.0f, -4.0f, -3.0f, -2.0f, -1.0f, 0.0f, 1.0f, 2.0f, 3.0f, 4.0f, 5.0f, 6.0f, 7.0f})

/* One kernel variant: its tile loop and work item, with its target and weight decoding. */
#define DEFINE_VARIANT(SUFFIX, TARGET, DECODE4, DECODE8)\
TARGET static inline __attribute__((always_inline)) void tile_q_##SUFFIX(                         \
    const plq_job *jb, const float *x, int64_t p0, float *out, int mc, int T) {                   \
  const int64_t k = jb->k, ldx = jb->k, rb = jb->row_bytes;                                       \
  const int64_t codes_per_panel = jb->kblocks * SD_PL_QBLOCK * rb;                                \
  const int64_t scales_per_panel = jb->kblocks * SD_PL_PANEL;                                     \
  const uint8_t *codes = jb->codes + p0 * codes_per_panel;                                        \
  const float *scales = jb->scales + p0 * scales_per_panel;                                       \
  v16 acc[MAX_TILE][SD_PL_CHUNK][2];                                                              \
  for (int t = 0; t < T; t++) {                                                                   \
    for (int i = 0; i < mc; i++) acc[t][i][0] = acc[t][i][1] = (v16){0};                          \
  }                                                                                               \
  for (int64_t kk = 0; kk < k; kk++) {                                                            \
    const int64_t blk = kk / SD_PL_QBLOCK;                                                        \
    for (int t = 0; t < T; t++) {                                                                 \
      const uint8_t *c = codes + t * codes_per_panel + kk * rb;                                   \
      const float *sc = scales + t * scales_per_panel + blk * SD_PL_PANEL;                        \
      __builtin_prefetch(c + PREFETCH_ROWS * rb, 0, 0);                                           \
      v16 w0, w1, s0, s1;                                                                         \
      if (jb->bits == 4) { /* byte j: column j in the low nibble, column j + 16 in the high */    \
        DECODE4(c, w0, w1);                                                                       \
      } else { /* signed bytes, columns 0-31 */                                                   \
        DECODE8(c, w0, w1);                                                                       \
      }                                                                                           \
      memcpy(&s0, sc, sizeof s0);                                                                 \
      memcpy(&s1, sc + 16, sizeof s1);                                                            \
      w0 *= s0; /* the weight, dequantized */                                                     \
      w1 *= s1;                                                                                   \
      for (int i = 0; i < mc; i++) {                                                              \
        const float xv = x[i * ldx + kk];                                                         \
        acc[t][i][0] += xv * w0; /* one multiply-add per k, in k order */                         \
        acc[t][i][1] += xv * w1;                                                                  \
      }                                                                                           \
    }                                                                                             \
  }                                                                                               \
  for (int t = 0; t < T; t++) {                                                                   \
    for (int i = 0; i < mc; i++) {                                                                \
      memcpy(out + (t * SD_PL_CHUNK + i) * SD_PL_PANEL, &acc[t][i][0], sizeof(v16));              \
      memcpy(out + (t * SD_PL_CHUNK + i) * SD_PL_PANEL + 16, &acc[t][i][1], sizeof(v16));         \
    }                                                                                             \
  }                                                                                               \
}                                                                                                 \
                                                                                                  \
TARGET static void item_q_##SUFFIX(void *usr, size_t item) {                                      \
  const plq_job *jb = usr;                                                                        \
  const int64_t tiles = (jb->panels + jb->tile - 1) / jb->tile;                                   \
  const int64_t tile = (int64_t)item % tiles, rblk = (int64_t)item / tiles;                       \
  const int64_t p0 = tile * jb->tile;                                                             \
  const int T = (int)(jb->panels - p0 < jb->tile ? jb->panels - p0 : jb->tile);                   \
  const int64_t r0 = rblk * ROW_BLOCK;                                                            \
  const int64_t r1 = r0 + ROW_BLOCK < jb->rows ? r0 + ROW_BLOCK : jb->rows;                       \
  float acc[MAX_TILE * SD_PL_CHUNK * SD_PL_PANEL]; /* [tile panels, chunk rows, 32] */            \
  for (int64_t r = r0; r < r1; r += jb->chunk) {                                                  \
    const int mc = (int)(r1 - r < jb->chunk ? r1 - r : jb->chunk);                                \
    const float *x = jb->x + r * jb->k;                                                           \
    /* Constant tile widths and row counts: the sums stay in registers. A full tile of 4          \
       panels comes with 1-2 rows, of 2 with up to 4 (jb->tile); a short last tile runs its       \
       panels one by one. */                                                                      \
    const int wide = jb->chunk == SD_PL_CHUNK; /* 32 registers: interleaved panels fit */       \
    if (wide && T == 4 && mc == 1) {                                                              \
      tile_q_##SUFFIX(jb, x, p0, acc, 1, 4);                                                      \
    } else if (wide && T == 4 && mc == 2) {                                                       \
      tile_q_##SUFFIX(jb, x, p0, acc, 2, 4);                                                      \
    } else if (wide && T == 2 && mc <= 4) {                                                       \
      switch (mc) {                                                                               \
        case 4: tile_q_##SUFFIX(jb, x, p0, acc, 4, 2); break;                                     \
        case 3: tile_q_##SUFFIX(jb, x, p0, acc, 3, 2); break;                                     \
        case 2: tile_q_##SUFFIX(jb, x, p0, acc, 2, 2); break;                                     \
        default: tile_q_##SUFFIX(jb, x, p0, acc, 1, 2); break;                                    \
      }                                                                                           \
    } else {                                                                                      \
      for (int t = 0; t < T; t++) {                                                               \
        float *o = acc + t * SD_PL_CHUNK * SD_PL_PANEL;                                           \
        switch (mc) {                                                                             \
          case 8: tile_q_##SUFFIX(jb, x, p0 + t, o, 8, 1); break;                                 \
          case 7: tile_q_##SUFFIX(jb, x, p0 + t, o, 7, 1); break;                                 \
          case 6: tile_q_##SUFFIX(jb, x, p0 + t, o, 6, 1); break;                                 \
          case 5: tile_q_##SUFFIX(jb, x, p0 + t, o, 5, 1); break;                                 \
          case 4: tile_q_##SUFFIX(jb, x, p0 + t, o, 4, 1); break;                                 \
          case 3: tile_q_##SUFFIX(jb, x, p0 + t, o, 3, 1); break;                                 \
          case 2: tile_q_##SUFFIX(jb, x, p0 + t, o, 2, 1); break;                                 \
          default: tile_q_##SUFFIX(jb, x, p0 + t, o, 1, 1); break;                                \
        }                                                                                         \
      }                                                                                           \
    }                                                                                             \
    for (int t = 0; t < T; t += 1 + jb->glu) { /* a gate/up pair per step with glu */           \
      const int64_t c0 = (p0 + t) / (1 + jb->glu) * SD_PL_PANEL;                                  \
      const int64_t nc = jb->n - c0 < SD_PL_PANEL ? jb->n - c0 : SD_PL_PANEL;                     \
      for (int i = 0; i < mc; i++) {                                                              \
        float *dst = jb->y + (r + i) * jb->n + c0;                                                \
        const float *src = acc + (t * SD_PL_CHUNK + i) * SD_PL_PANEL;                             \
        if (jb->glu) {                                                                            \
          sd_pl_glu_store(src, src + SD_PL_CHUNK * SD_PL_PANEL, jb->bias, jb->n, c0, nc, dst);    \
        } else if (jb->bias != NULL) {                                                            \
          for (int64_t j = 0; j < nc; j++) dst[j] = src[j] + jb->bias[c0 + j];                    \
        } else {                                                                                  \
          memcpy(dst, src, (size_t)nc * sizeof *dst);                                             \
        }                                                                                         \
      }                                                                                           \
    }                                                                                             \
  }                                                                                               \
}                                                                                                 \

/* Portable decoding (any CPU; GCC's vector extensions). */
#define DECODE4_GENERIC(c, w0, w1)                                                                \
  do {                                                                                            \
    v16u8 b_;                                                                                     \
    memcpy(&b_, (c), sizeof b_);                                                                  \
    const v16i v_ = __builtin_convertvector(b_, v16i);                                            \
    (w0) = __builtin_shuffle(NIBBLE_VALUES, v_ & 15);                                             \
    (w1) = __builtin_shuffle(NIBBLE_VALUES, v_ >> 4);                                             \
  } while (0)
#define DECODE8_GENERIC(c, w0, w1)                                                                \
  do {                                                                                            \
    v16s8 b0_, b1_;                                                                               \
    memcpy(&b0_, (c), sizeof b0_);                                                                \
    memcpy(&b1_, (c) + 16, sizeof b1_);                                                           \
    (w0) = __builtin_convertvector(__builtin_convertvector(b0_, v16i), v16);                     \
    (w1) = __builtin_convertvector(__builtin_convertvector(b1_, v16i), v16);                     \
  } while (0)

#if defined(__x86_64__)
#include <immintrin.h>
/* AVX-512: one widening load per 16 codes, a table permute for 4-bit values. */
#define DECODE4_AVX512(c, w0, w1)                                                                 \
  do {                                                                                            \
    const __m512i v_ = _mm512_cvtepu8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(c))); \
    const __m512 t_ = (__m512)NIBBLE_VALUES;                                                      \
    (w0) = (v16)_mm512_permutexvar_ps(_mm512_and_si512(v_, _mm512_set1_epi32(15)), t_);         \
    (w1) = (v16)_mm512_permutexvar_ps(_mm512_srli_epi32(v_, 4), t_);                            \
  } while (0)
#define DECODE8_AVX512(c, w0, w1)                                                                 \
  do {                                                                                            \
    (w0) = (v16)_mm512_cvtepi32_ps(                                                              \
        _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)(c))));               \
    (w1) = (v16)_mm512_cvtepi32_ps(                                                              \
        _mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)((c) + 16))));        \
  } while (0)
/* AVX2: two widening loads of 8 codes each; 4-bit values as float(code) - 8 (exact, as the
   table of the other variants). */
#define DECODE4_AVX2(c, w0, w1)                                                                   \
  do {                                                                                            \
    const __m128i b_ = _mm_loadu_si128((const __m128i *)(const void *)(c));                       \
    const __m256i lo_ = _mm256_cvtepu8_epi32(b_);                                                 \
    const __m256i hi_ = _mm256_cvtepu8_epi32(_mm_srli_si128(b_, 8));                              \
    v16i v_;                                                                                      \
    memcpy(&v_, &lo_, sizeof lo_);                                                                \
    memcpy((char *)&v_ + sizeof lo_, &hi_, sizeof hi_);                                           \
    (w0) = __builtin_convertvector(v_ & 15, v16) - 8.0f;                                          \
    (w1) = __builtin_convertvector(v_ >> 4, v16) - 8.0f;                                          \
  } while (0)
#define DECODE8_AVX2(c, w0, w1)                                                                   \
  do {                                                                                            \
    const __m128i b0_ = _mm_loadu_si128((const __m128i *)(const void *)(c));                      \
    const __m128i b1_ = _mm_loadu_si128((const __m128i *)(const void *)((c) + 16));               \
    const __m256 f0_ = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b0_));                             \
    const __m256 f1_ = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b0_, 8)));          \
    const __m256 f2_ = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(b1_));                             \
    const __m256 f3_ = _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_srli_si128(b1_, 8)));          \
    memcpy(&(w0), &f0_, sizeof f0_);                                                              \
    memcpy((char *)&(w0) + sizeof f0_, &f1_, sizeof f1_);                                         \
    memcpy(&(w1), &f2_, sizeof f2_);                                                              \
    memcpy((char *)&(w1) + sizeof f2_, &f3_, sizeof f3_);                                         \
  } while (0)
DEFINE_VARIANT(v4, __attribute__((target("arch=x86-64-v4"))), DECODE4_AVX512, DECODE8_AVX512)
DEFINE_VARIANT(v3, __attribute__((target("arch=x86-64-v3"))), DECODE4_AVX2, DECODE8_AVX2)
#endif
DEFINE_VARIANT(base, , DECODE4_GENERIC, DECODE8_GENERIC)


int sd__plq_check_args(const float *x, int64_t rows, int64_t k, const uint8_t *codes,
                       const float *scales, int bits, int64_t n, const float *y, char *err,
                       size_t err_cap, int *nothing) {
  *nothing = 0;
  if (rows < 0 || k < 1 || n < 1 || (bits != 4 && bits != 8)) {
    if (err != NULL && err_cap > 0) {
      snprintf(err, err_cap, "rows >= 0, k >= 1, n >= 1 and bits 4 or 8 needed");
    }
    return SD_INVALID_ARGUMENT;
  }
  if (rows == 0) {
    *nothing = 1;
    return SD_OK;
  }
  if (x == NULL || codes == NULL || scales == NULL || y == NULL) {
    if (err != NULL && err_cap > 0) snprintf(err, err_cap, "x, codes, scales and y must be given");
    return SD_INVALID_ARGUMENT;
  }
  return SD_OK;
}

int sd_plq_forward(const float *x, int64_t rows, int64_t k, const uint8_t *codes,
                   const float *scales, int bits, int64_t n, int glu, const float *bias, float *y,
                   sd_ta_parallel_for parallel_for, void *parallel_ctx, char *err,
                   size_t err_cap) {
  int none = 0;
  const int st = sd__plq_check_args(x, rows, k, codes, scales, bits, n, y, err, err_cap, &none);
  if (st != SD_OK || none) return st;
  plq_job jb;
  memset(&jb, 0, sizeof jb);
  jb.x = x;
  jb.codes = codes;
  jb.scales = scales;
  jb.bias = bias;
  jb.y = y;
  jb.rows = rows;
  jb.k = k;
  jb.n = n;
  jb.bits = bits;
  jb.glu = glu != 0;
  jb.panels = (1 + jb.glu) * sd_pl_panels(n); /* stored panels */
  jb.kblocks = sd_plq_blocks(k);
  jb.row_bytes = sd_plq_row_bytes(bits);
  void (*run_item)(void *, size_t) = item_q_base;
  jb.chunk = 3;
#if defined(__x86_64__)
  const int level = sd_pl_cpu_level();
  if (level >= 4) {
    run_item = item_q_v4;
    jb.chunk = SD_PL_CHUNK;
  } else if (level == 3) {
    run_item = item_q_v3;
  }
#endif
  jb.tile = rows <= 2 ? 4 : rows <= 4 ? 2 : 1;
  if (jb.chunk < SD_PL_CHUNK) jb.tile = 1; /* 16 registers: no room for interleaved panels */
  if (jb.glu && jb.tile == 1) jb.tile = 2;  /* whole pairs (run panel by panel: `wide` above) */
  const int64_t tiles = (jb.panels + jb.tile - 1) / jb.tile;
  const size_t total = (size_t)(tiles * ((rows + ROW_BLOCK - 1) / ROW_BLOCK));
  if (parallel_for != NULL && total > 1) {
    parallel_for(parallel_ctx, run_item, total, &jb);
  } else {
    for (size_t i = 0; i < total; i++) run_item(&jb, i);
  }
  return SD_OK;
}
