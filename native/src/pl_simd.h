/*
 * pl_simd.h: 16-lane f32 helpers shared by the packed linear kernels (packed_linear.c,
 * packed_linear_q.c). Every function is always inlined, so each CPU variant of a kernel compiles
 * them for its own target (AVX-512, AVX2, portable). Internal to libspecdec.
 */
#ifndef SPECDEC_PL_SIMD_H
#define SPECDEC_PL_SIMD_H

#include <stdint.h>
#include <string.h>

/* 16 f32 / i32 lanes (GCC vector extensions; narrower registers where the target has them). */
typedef float sd_v16 __attribute__((vector_size(64)));
typedef int32_t sd_v16i __attribute__((vector_size(64)));

/* Lanes of a where m (an sd_v16i compare result) is all ones, else of b; a statement on
   lvalues, since vectors never cross a function boundary (-Wpsabi). */
#define SD_V16_SELECT(out, m, a, b)                  \
  do {                                               \
    sd_v16i ai_, bi_;                                \
    memcpy(&ai_, &(a), sizeof ai_);                  \
    memcpy(&bi_, &(b), sizeof bi_);                  \
    const sd_v16i r_ = (ai_ & (m)) | (bi_ & ~(m));   \
    memcpy(&(out), &r_, sizeof r_);                  \
  } while (0)

/*
 * e = exp(x) lane by lane for x clamped to [-87, 88] (no overflow or denormals): x = n ln2 + r
 * with n rounded to nearest, |r| <= ln2 / 2, e^r by the Cephes expf polynomial, 2^n through the
 * exponent bits. Relative error about 2e-7. x is clamped in place.
 */
#define SD_V16_EXP(e, x)                                                                        \
  do {                                                                                          \
    const sd_v16 lo_ = (sd_v16){0} - 87.0f, hi_ = (sd_v16){0} + 88.0f;                          \
    SD_V16_SELECT(x, (x) < lo_, lo_, x);                                                        \
    SD_V16_SELECT(x, (x) > hi_, hi_, x);                                                        \
    const float magic_ = 12582912.0f; /* 1.5 * 2^23: adding it rounds to an integer */          \
    const sd_v16 n_ = ((x) * 1.44269504088896341f + magic_) - magic_;                           \
    sd_v16 r_ = (x) - n_ * 0.693359375f;                                                        \
    r_ = r_ - n_ * -2.12194440e-4f;                                                             \
    sd_v16 p_ = r_ * 1.9875691500e-4f + 1.3981999507e-3f;                                       \
    p_ = p_ * r_ + 8.3334519073e-3f;                                                            \
    p_ = p_ * r_ + 4.1665795894e-2f;                                                            \
    p_ = p_ * r_ + 1.6666665459e-1f;                                                            \
    p_ = p_ * r_ + 5.0000001201e-1f;                                                            \
    const sd_v16i bits_ = (__builtin_convertvector(n_, sd_v16i) + 127) << 23; /* 2^n */        \
    sd_v16 scale_;                                                                              \
    memcpy(&scale_, &bits_, sizeof scale_);                                                     \
    (e) = (p_ * (r_ * r_) + r_ + 1.0f) * scale_;                                                \
  } while (0)

/*
 * One panel row of a gated MLP's activation (SwiGLU): dst[j] = silu(g[j] + bg) * (u[j] + bu) for
 * j < nc, silu(a) = a / (1 + exp(-a)) (SD_V16_EXP), where bg = bias[c0 + j] and bu = bias[n + c0 + j] when
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
    sd_v16 neg = (sd_v16){0} - a;
    SD_V16_EXP(e, neg);
    const sd_v16 y = a / (e + 1.0f) * b;
    memcpy(out + h, &y, sizeof y);
  }
  memcpy(dst, out, (size_t)nc * sizeof *dst);
}

#endif /* SPECDEC_PL_SIMD_H */
