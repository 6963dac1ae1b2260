/*
 * simd16.h: 16-lane f32 helpers shared by the CPU kernels (packed_linear.c, packed_linear_q.c,
 * tree_attention_cpu.c). Macros and always-inlined functions on pointers: no vector crosses a
 * function boundary (-Wpsabi), and each CPU variant of a kernel compiles them for its own target
 * (AVX-512, AVX2, portable). Internal to libspecdec.
 */
#ifndef SPECDEC_SIMD16_H
#define SPECDEC_SIMD16_H

#include <stdint.h>
#include <string.h>

/* 16 f32 / i32 lanes (GCC vector extensions; narrower registers where the target has them). */
typedef float sd_v16 __attribute__((vector_size(64)));
typedef int32_t sd_v16i __attribute__((vector_size(64)));

/*
 * out = exp(x0) lane by lane, each lane on its own: x clamped to [-87.3, 88] (below, about
 * 1e-38; no overflow), x = n ln 2 + r with n rounded to nearest, e^r by Cephes' expf
 * polynomial, 2^n through the exponent bits. Relative error about 2e-7. The same operations in
 * the same order for every caller and variant (TreeAttention's exactness rests on it).
 */
#define SD_EXP16(out, x0)                                                                       \
  do {                                                                                          \
    sd_v16 x_ = (x0);                                                                           \
    const sd_v16 lo_ = (sd_v16){0} - 87.3f, hi_ = (sd_v16){0} + 88.0f;                          \
    const sd_v16i below_ = x_ < lo_, above_ = x_ > hi_; /* lanes: -1 where out of range */      \
    x_ = (sd_v16)(((sd_v16i)x_ & ~below_) | ((sd_v16i)lo_ & below_));                           \
    x_ = (sd_v16)(((sd_v16i)x_ & ~above_) | ((sd_v16i)hi_ & above_));                           \
    sd_v16 n_ = (x_ * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round(x / ln 2) */  \
    sd_v16 r_ = x_ - n_ * 0.693359375f;                                                         \
    r_ = r_ - n_ * -2.12194440e-4f;                                                             \
    sd_v16 p_ = r_ * 1.9875691500e-4f + 1.3981999507e-3f;                                       \
    p_ = p_ * r_ + 8.3334519073e-3f;                                                            \
    p_ = p_ * r_ + 4.1665795894e-2f;                                                            \
    p_ = p_ * r_ + 1.6666665459e-1f;                                                            \
    p_ = p_ * r_ + 5.0000001201e-1f;                                                            \
    p_ = p_ * (r_ * r_) + r_ + 1.0f;                                                            \
    sd_v16i e_ = (__builtin_convertvector(n_, sd_v16i) + 127) << 23; /* 2^n */                  \
    sd_v16 two_;                                                                                \
    memcpy(&two_, &e_, sizeof two_);                                                            \
    (out) = p_ * two_;                                                                          \
  } while (0)

/*
 * One panel row of a gated MLP's activation (SwiGLU): dst[j] = silu(g[j] + bg) * (u[j] + bu) for
 * j < nc, silu(a) = a / (1 + exp(-a)) (SD_EXP16), where bg = bias[c0 + j] and bu = bias[n + c0 + j] when
 * bias ([2n]: the gate's biases, then the up projection's) is given. g and u hold 32 sums each.
 */
static inline __attribute__((always_inline)) void sd_pl_glu_store(const float *g, const float *u,
                                                                  const float *bias, int64_t n,
                                                                  int64_t c0, int64_t nc,
                                                                  float *dst) {
  float gb[32], ub[32], out[32];
  for (int j = 0; j < 32; j++) {
    const int on = bias != NULL && j < nc;
    gb[j] = g[j] + (on ? bias[c0 + j] : 0.0f);
    ub[j] = u[j] + (on ? bias[n + c0 + j] : 0.0f);
  }
  for (int h = 0; h < 32; h += 16) {
    sd_v16 a, b, e;
    memcpy(&a, gb + h, sizeof a);
    memcpy(&b, ub + h, sizeof b);
    SD_EXP16(e, (sd_v16){0} - a);
    const sd_v16 y = a / (e + 1.0f) * b;
    memcpy(out + h, &y, sizeof y);
  }
  memcpy(dst, out, (size_t)nc * sizeof *dst);
}

#endif /* SPECDEC_SIMD16_H */
