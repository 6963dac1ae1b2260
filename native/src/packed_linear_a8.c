/*
 * packed_linear_a8.c: `specdec.PackedLinearQ` with int8 activations (attribute act_bits = 8):
 * y = x W^T over the block-quantized weights of packed_linear_q.c, each row of x quantized too.
 *
 * For each row and each block of SD_PL_QBLOCK inputs: scale_x = max|x| / 127, xq = x * (127 /
 * max|x|) rounded to nearest even (int8, 0 past k), xsum = sum of xq. The weights' unsigned
 * codes u (4-bit: the nibble, zero point 8; 8-bit: the signed byte + 128, zero point 128) meet
 * xq in exact int32 dot products, and
 *
 *   y[r, c] = fma((float)(sum_k u[c, k] xq[r, k] - zero * xsum[r, b]), scale_w[c, b] * scale_x[r, b], .)
 *
 * over the blocks b in increasing order (+ bias). With AVX-512 VNNI and VBMI (vpdpbusd; vpermb
 * turns 4 input rows of a panel into the 4-byte lanes vpdpbusd sums) one instruction does 64
 * multiply-adds; elsewhere portable C computes the same integers and the same float operations,
 * so every CPU path and every row count gives the same bits (each row is computed on its own).
 * Measured on Zen 5 (one row, the bench draft's projections): about 4x fewer cycles than the f32
 * activations of packed_linear_q.c, for llama.cpp-like (Q8_0 activations) rounding. For drafters,
 * whose numerics never change a speculative decoder's output.
 */
#include <math.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "packed_linear.h"
#include "simd16.h"
#include "specdec.h"

#define A8_ROW_BLOCK 64 /* rows per work item */
#define A8_CHUNK 4      /* rows sharing each decoded group of weights */

typedef struct a8_job {
  const int8_t *xq;    /* [rows, kp] */
  const float *sx;     /* [rows, kb] */
  const int32_t *xsum; /* [rows, kb] */
  const uint8_t *codes;
  const float *scales, *bias;
  float *y;
  int64_t rows, kb, kp, n, panels, row_bytes;
  int bits, glu;
} a8_job;

/*
 * Quantizes one row's block of `len` <= SD_PL_QBLOCK inputs: q [32] i8 (0 past len), its scale
 * and the sum of its codes. t = x * inv is clamped to [-127, 127] as `t > -127 ? t : -127`, then
 * `t < 127 ? t : 127` (NaN becomes -127), as vmaxps / vminps do, so the vector path agrees.
 */
static void quantize_block(const float *x, int64_t len, int8_t *q, float *sx, int32_t *xsum) {
  float amax = 0.0f;
  for (int64_t i = 0; i < len; i++) {
    const float a = fabsf(x[i]);
    amax = a > amax ? a : amax;
  }
  const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  int32_t s = 0;
  for (int64_t i = 0; i < SD_PL_QBLOCK; i++) {
    float t = i < len ? x[i] * inv : 0.0f;
    t = t > -127.0f ? t : -127.0f;
    t = t < 127.0f ? t : 127.0f;
    const int32_t v = (int32_t)rintf(t); /* nearest, ties to even */
    q[i] = (int8_t)v;
    s += v;
  }
  *sx = amax / 127.0f;
  *xsum = s;
}

/* The unsigned code of weight (k, column j) of a panel whose input row k starts at c. */
static inline int32_t code_at(const uint8_t *c, int bits, int j) {
  if (bits == 4) return j < 16 ? c[j] & 15 : c[j - 16] >> 4;
  return (int32_t)(c[j] ^ 0x80u);
}

/* One panel (32 outputs) for rows [0, mc) of the job's rows starting at r: out [mc][32]. */
static void panel_base(const a8_job *jb, int64_t p, int64_t r, int mc, float *out) {
  const int64_t zero = jb->bits == 4 ? 8 : 128;
  const uint8_t *codes = jb->codes + p * jb->kb * SD_PL_QBLOCK * jb->row_bytes;
  const float *sw = jb->scales + p * jb->kb * SD_PL_PANEL;
  for (int i = 0; i < mc; i++) {
    const int8_t *xq = jb->xq + (r + i) * jb->kp;
    float acc[SD_PL_PANEL] = {0};
    for (int64_t b = 0; b < jb->kb; b++) {
      const float sx = jb->sx[(r + i) * jb->kb + b];
      const int32_t corr = (int32_t)zero * jb->xsum[(r + i) * jb->kb + b];
      for (int j = 0; j < SD_PL_PANEL; j++) {
        int32_t dot = 0;
        for (int64_t kk = 0; kk < SD_PL_QBLOCK; kk++) {
          const uint8_t *c = codes + (b * SD_PL_QBLOCK + kk) * jb->row_bytes;
          dot += code_at(c, jb->bits, j) * xq[b * SD_PL_QBLOCK + kk];
        }
        const float t = sw[b * SD_PL_PANEL + j] * sx;
        acc[j] = fmaf((float)(dot - corr), t, acc[j]);
      }
    }
    memcpy(out + i * SD_PL_PANEL, acc, sizeof acc);
  }
}

#if defined(__x86_64__)
#include <immintrin.h>
#define A8_TARGET __attribute__((target("avx512f,avx512bw,avx512vnni,avx512vbmi")))

/* Byte 4j + t of a lane group: input row t of the group, column j (4-bit rows are 16 bytes). */
static const int8_t TRANSPOSE4[64] = {
    0, 16, 32, 48, 1, 17, 33, 49, 2,  18, 34, 50, 3,  19, 35, 51, 4,  20, 36, 52, 5,  21,
    37, 53, 6, 22, 38, 54, 7, 23, 39, 55, 8,  24, 40, 56, 9,  25, 41, 57, 10, 26, 42, 58,
    11, 27, 43, 59, 12, 28, 44, 60, 13, 29, 45, 61, 14, 30, 46, 62, 15, 31, 47, 63};

/* 8-bit rows are 32 bytes: rows 0-1 in table a (bytes 0-63), rows 2-3 in table b (64-127). */
static const int8_t TRANSPOSE8_LO[64] = {
    0,  32, 64, 96,  1,  33, 65, 97,  2,  34, 66, 98,  3,  35, 67, 99,
    4,  36, 68, 100, 5,  37, 69, 101, 6,  38, 70, 102, 7,  39, 71, 103,
    8,  40, 72, 104, 9,  41, 73, 105, 10, 42, 74, 106, 11, 43, 75, 107,
    12, 44, 76, 108, 13, 45, 77, 109, 14, 46, 78, 110, 15, 47, 79, 111};

A8_TARGET static inline __attribute__((always_inline)) void panel_vnni(const a8_job *jb,
                                                                       int64_t p, int64_t r,
                                                                       const int mc, float *out) {
  const int64_t kb = jb->kb, kp = jb->kp, rb = jb->row_bytes;
  const uint8_t *codes = jb->codes + p * kb * SD_PL_QBLOCK * rb;
  const float *sw = jb->scales + p * kb * SD_PL_PANEL;
  const __m512i m4 = _mm512_set1_epi8(15), flip = _mm512_set1_epi8((char)0x80);
  const __m512i t4 = _mm512_loadu_si512(TRANSPOSE4);
  const __m512i t8lo = _mm512_loadu_si512(TRANSPOSE8_LO);
  const __m512i t8hi = _mm512_add_epi8(t8lo, _mm512_set1_epi8(16));
  const int32_t zero = jb->bits == 4 ? 8 : 128;
  __m512 acc[A8_CHUNK][2];
  for (int i = 0; i < mc; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t b = 0; b < kb; b++) {
    __m512i dot[A8_CHUNK][2];
    for (int i = 0; i < mc; i++) dot[i][0] = dot[i][1] = _mm512_setzero_si512();
    const uint8_t *c = codes + b * SD_PL_QBLOCK * rb;
    for (int g = 0; g < SD_PL_QBLOCK / 4; g++) { /* input rows 4g..4g+3 of the block */
      __m512i w0, w1; /* [16 columns, 4 rows] u8: columns 0-15, 16-31 */
      if (jb->bits == 4) {
        const __m512i v = _mm512_permutexvar_epi8(t4, _mm512_loadu_si512(c + g * 64));
        w0 = _mm512_and_si512(v, m4);
        w1 = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
      } else {
        const __m512i a = _mm512_loadu_si512(c + g * 128), bb = _mm512_loadu_si512(c + g * 128 + 64);
        w0 = _mm512_xor_si512(_mm512_permutex2var_epi8(a, t8lo, bb), flip);
        w1 = _mm512_xor_si512(_mm512_permutex2var_epi8(a, t8hi, bb), flip);
      }
      for (int i = 0; i < mc; i++) {
        int32_t x4;
        memcpy(&x4, jb->xq + (r + i) * kp + b * SD_PL_QBLOCK + g * 4, sizeof x4);
        const __m512i xb = _mm512_set1_epi32(x4);
        dot[i][0] = _mm512_dpbusd_epi32(dot[i][0], w0, xb);
        dot[i][1] = _mm512_dpbusd_epi32(dot[i][1], w1, xb);
      }
    }
    const __m512 s0 = _mm512_loadu_ps(sw + b * SD_PL_PANEL);
    const __m512 s1 = _mm512_loadu_ps(sw + b * SD_PL_PANEL + 16);
    for (int i = 0; i < mc; i++) {
      const __m512i corr = _mm512_set1_epi32(zero * jb->xsum[(r + i) * kb + b]);
      const __m512 sx = _mm512_set1_ps(jb->sx[(r + i) * kb + b]);
      acc[i][0] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(dot[i][0], corr)),
                                  _mm512_mul_ps(s0, sx), acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(_mm512_sub_epi32(dot[i][1], corr)),
                                  _mm512_mul_ps(s1, sx), acc[i][1]);
    }
  }
  for (int i = 0; i < mc; i++) {
    _mm512_storeu_ps(out + i * SD_PL_PANEL, acc[i][0]);
    _mm512_storeu_ps(out + i * SD_PL_PANEL + 16, acc[i][1]);
  }
}

/* quantize_block with AVX-512: the same operations lane by lane (vcvtps2dq rounds to nearest
   even, as rintf in the default rounding mode). */
A8_TARGET static void quantize_block_vnni(const float *x, int64_t len, int8_t *q, float *sx,
                                          int32_t *xsum) {
  const __mmask16 m0 = len >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << len) - 1u);
  const __mmask16 m1 = len >= 32   ? (__mmask16)0xFFFF
                       : len <= 16 ? (__mmask16)0
                                   : (__mmask16)((1u << (len - 16)) - 1u);
  const __m512 x0 = _mm512_maskz_loadu_ps(m0, x), x1 = _mm512_maskz_loadu_ps(m1, x + 16);
  const float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(x0), _mm512_abs_ps(x1)));
  const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
  const __m512 vi = _mm512_set1_ps(inv), lo = _mm512_set1_ps(-127.0f), hi = _mm512_set1_ps(127.0f);
  const __m512 t0 = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(x0, vi), lo), hi);
  const __m512 t1 = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(x1, vi), lo), hi);
  const __m512i q0 = _mm512_cvtps_epi32(t0), q1 = _mm512_cvtps_epi32(t1);
  _mm_storeu_si128((__m128i *)(void *)q, _mm512_cvtepi32_epi8(q0));
  _mm_storeu_si128((__m128i *)(void *)(q + 16), _mm512_cvtepi32_epi8(q1));
  *xsum = _mm512_reduce_add_epi32(_mm512_add_epi32(q0, q1));
  *sx = amax / 127.0f;
}

/* Rows as constants: the accumulators stay in registers. */
A8_TARGET static void panel_vnni_rows(const a8_job *jb, int64_t p, int64_t r, int mc, float *out) {
  switch (mc) {
    case 1: panel_vnni(jb, p, r, 1, out); break;
    case 2: panel_vnni(jb, p, r, 2, out); break;
    case 3: panel_vnni(jb, p, r, 3, out); break;
    default: panel_vnni(jb, p, r, 4, out); break;
  }
}

/* Whether the CPU has VNNI and VBMI (read once; SPECDEC_CPU_LEVEL below 4 turns them off). */
static _Atomic int g_vnni = -1;

static int use_vnni(void) {
  int v = atomic_load_explicit(&g_vnni, memory_order_relaxed);
  if (v < 0) {
    __builtin_cpu_init();
    v = __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vbmi") &&
        __builtin_cpu_supports("avx512bw");
    atomic_store_explicit(&g_vnni, v, memory_order_relaxed);
  }
  return v && sd_pl_cpu_level() >= 4;
}
#endif

/* The kernel of one panel: VNNI where the CPU has it and SPECDEC_CPU_LEVEL allows level 4. */
typedef void (*panel_fn)(const a8_job *, int64_t, int64_t, int, float *);

typedef struct a8_item_args {
  const a8_job *jb;
  panel_fn panel;
} a8_item_args;

/* Work item: one output panel (a gate/up pair with glu) for a block of rows. */
static void a8_item(void *usr, size_t item) {
  const a8_item_args *a = usr;
  const a8_job *jb = a->jb;
  const int64_t groups = jb->panels / (1 + jb->glu);
  const int64_t grp = (int64_t)item % groups, rblk = (int64_t)item / groups;
  const int64_t r0 = rblk * A8_ROW_BLOCK;
  const int64_t r1 = r0 + A8_ROW_BLOCK < jb->rows ? r0 + A8_ROW_BLOCK : jb->rows;
  const int64_t c0 = grp * SD_PL_PANEL, nc = jb->n - c0 < SD_PL_PANEL ? jb->n - c0 : SD_PL_PANEL;
  float g[A8_CHUNK * SD_PL_PANEL], u[A8_CHUNK * SD_PL_PANEL]; /* [rows, 32] each */
  for (int64_t r = r0; r < r1; r += A8_CHUNK) {
    const int mc = (int)(r1 - r < A8_CHUNK ? r1 - r : A8_CHUNK);
    if (jb->glu) {
      a->panel(jb, 2 * grp, r, mc, g);
      a->panel(jb, 2 * grp + 1, r, mc, u);
    } else {
      a->panel(jb, grp, r, mc, g);
    }
    for (int i = 0; i < mc; i++) {
      float *dst = jb->y + (r + i) * jb->n + c0;
      const float *src = g + i * SD_PL_PANEL;
      if (jb->glu) {
        sd_pl_glu_store(src, u + i * SD_PL_PANEL, jb->bias, jb->n, c0, nc, dst);
      } else if (jb->bias != NULL) {
        for (int64_t j = 0; j < nc; j++) dst[j] = src[j] + jb->bias[c0 + j];
      } else {
        memcpy(dst, src, (size_t)nc * sizeof *dst);
      }
    }
  }
}

int sd_plq_forward_a8(const float *x, int64_t rows, int64_t k, const uint8_t *codes,
                      const float *scales, int bits, int64_t n, int glu, const float *bias,
                      float *y, sd_ta_parallel_for parallel_for, void *parallel_ctx, char *err,
                      size_t err_cap) {
  int none = 0;
  const int st = sd__plq_check_args(x, rows, k, codes, scales, bits, n, y, err, err_cap, &none);
  if (st != SD_OK || none) return st;
  const int64_t kb = sd_plq_blocks(k), kp = kb * SD_PL_QBLOCK;
  /* xq [rows, kp] i8, then sx [rows, kb] f32 and xsum [rows, kb] i32 (4-byte aligned) */
  const size_t qbytes = (size_t)(rows * kp + 3) / 4 * 4;
  uint8_t stack[8192];
  const size_t need = qbytes + (size_t)(rows * kb) * (sizeof(float) + sizeof(int32_t));
  uint8_t *buf = need <= sizeof stack ? stack : malloc(need);
  if (buf == NULL) {
    if (err != NULL && err_cap > 0) snprintf(err, err_cap, "out of memory (%zu bytes)", need);
    return SD_INVALID_ARGUMENT;
  }
  int8_t *xq = (int8_t *)buf;
  float *sx = (float *)(void *)(buf + qbytes);
  int32_t *xsum = (int32_t *)(void *)(sx + rows * kb);
  a8_job jb = {
      .xq = xq,
      .sx = sx,
      .xsum = xsum,
      .codes = codes,
      .scales = scales,
      .bias = bias,
      .y = y,
      .rows = rows,
      .kb = kb,
      .kp = kp,
      .n = n,
      .panels = (1 + (glu != 0)) * sd_pl_panels(n),
      .row_bytes = sd_plq_row_bytes(bits),
      .bits = bits,
      .glu = glu != 0,
  };
  a8_item_args args = {&jb, panel_base};
  void (*quantize)(const float *, int64_t, int8_t *, float *, int32_t *) = quantize_block;
#if defined(__x86_64__)
  if (use_vnni()) {
    args.panel = panel_vnni_rows;
    quantize = quantize_block_vnni;
  }
#endif
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t b = 0; b < kb; b++) {
      const int64_t k0 = b * SD_PL_QBLOCK;
      const int64_t len = k - k0 < SD_PL_QBLOCK ? k - k0 : SD_PL_QBLOCK;
      quantize(x + r * k + k0, len, xq + r * kp + k0, sx + r * kb + b, xsum + r * kb + b);
    }
  }
  const size_t total =
      (size_t)(jb.panels / (1 + jb.glu) * ((rows + A8_ROW_BLOCK - 1) / A8_ROW_BLOCK));
  if (parallel_for != NULL && total > 1) {
    parallel_for(parallel_ctx, a8_item, total, &args);
  } else {
    for (size_t i = 0; i < total; i++) a8_item(&args, i);
  }
  if (buf != stack) free(buf);
  return SD_OK;
}
