/*
 * _tree_attention_kernels.cuh: the device code of tree_attention.cu and the pure host helpers
 * that plan a launch (no CUDA runtime calls here). Private to native/cuda/.
 *
 * Included by tree_attention.cu (nvcc), and by tree_attention_emu_test.cc (a C++ compiler) after
 * _cuda_emu.h, which runs each thread block on host threads, so the very same kernels are
 * executed and checked on a machine without a GPU.
 */
#ifndef SPECDEC_TREE_ATTENTION_KERNELS_CUH
#define SPECDEC_TREE_ATTENTION_KERNELS_CUH

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __CUDACC__
#include <cuda_fp16.h>
#include <mma.h>
#define SD_DYNAMIC_SHARED(T, name) extern __shared__ __align__(128) T name[]
#endif

#include "tree_attention_cuda.h"
#include "tree_attention_ref.h"

namespace sd_kernels {

__host__ __device__ __forceinline__ int sd_min(int a, int b) { return a < b ? a : b; }
__host__ __device__ __forceinline__ int sd_max(int a, int b) { return a > b ? a : b; }

constexpr int KT = 32;           /* KV rows per shared-memory tile */
constexpr int MAX_SPLITS = 1024; /* upper bound of split-K blocks per (b, g, q tile) */

/* ---- element access ---------------------------------------------------------------------- */

__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(__half x) { return __half2float(x); }
__device__ __forceinline__ void put(float *p, size_t i, float v) { p[i] = v; }
__device__ __forceinline__ void put(__half *p, size_t i, float v) { p[i] = __float2half_rn(v); }

/* ---- kernel parameters (by value) ------------------------------------------------------- */

struct TaParams {
  const void *query;         /* [B, S, H, D] with token stride q_tok */
  const void *key;           /* [B, S, Hkv, D] with token stride kv_tok (inside query if packed) */
  const void *value;         /* [B, S, Hkv, D] with token stride kv_tok */
  void *present_key;         /* [B, Hkv, L, D] */
  void *present_value;       /* [B, Hkv, L, D] */
  const void *cos_cache;     /* [max_pos, rot_half] */
  const void *sin_cache;     /* [max_pos, rot_half] */
  const int64_t *position_ids; /* [B, S] or null */
  const uint8_t *tree_mask;  /* [S, S] or [B, S, S], or null */
  const void *attention_bias; /* [B|1, 1, S, bias_len] storage type, or null (both null: causal) */
  void *output;              /* [B, S, H, D] */
  float *part_o;             /* [B * Hkv, splits, R_pad, D] f32 unnormalized partial outputs */
  float *part_ml;            /* [B * Hkv, splits, R_pad, 2] f32 running max and sum */
  long long mask_batch_stride;
  long long bias_batch_stride;
  int bias_len;
  int q_tok, kv_tok; /* elements between consecutive tokens of query and of key/value */
  float scale;
  int S, H, Hkv, G, L, rot_half, max_pos;
  int R;              /* S * G query rows per KV head */
  int R_pad;          /* q tiles * QT */
  int splits;         /* split-K blocks per (b, g, q tile) */
  int rows_per_split; /* slots per split, a multiple of KT */
  int past_lens[SD_CUDA_MAX_BATCH];
};

__device__ __forceinline__ int position_of(const TaParams &p, int b, int i, int P) {
  long long pos = p.position_ids != nullptr ? p.position_ids[(size_t)b * p.S + i] : (long long)P + i;
  if (pos < 0) pos = 0;
  if (pos >= p.max_pos) pos = p.max_pos - 1;
  return (int)pos;
}

/*
 * Element d of head row x [D] (storage T) after rotate-half rotary at `pos` (reference: rotate()).
 * Elements at or past 2 * rot_half are returned unchanged.
 */
template <typename T>
__device__ __forceinline__ float rotated(const T *x, int d, const TaParams &p, int pos) {
  const float xd = to_f(x[d]);
  const int half = p.rot_half;
  if (d >= 2 * half) return xd;
  const int dd = d < half ? d : d - half;
  const float cs = to_f(static_cast<const T *>(p.cos_cache)[(size_t)pos * half + dd]);
  const float sn = to_f(static_cast<const T *>(p.sin_cache)[(size_t)pos * half + dd]);
  if (d < half) return xd * cs - to_f(x[d + half]) * sn; /* x1 * cos - x2 * sin */
  return xd * cs + to_f(x[d - half]) * sn;               /* x2 * cos + x1 * sin */
}

/*
 * Element d of query row rr (token i = rr / G, head h = g * G + rr % G) of batch entry b, rotated;
 * 0 for padding rows rr >= R.
 */
template <typename T>
__device__ __forceinline__ float query_element(const TaParams &p, int b, int g, int rr, int d,
                                               int D, int P) {
  if (rr >= p.R) return 0.0f;
  const int i = rr / p.G, h = g * p.G + rr % p.G;
  const T *qrow = static_cast<const T *>(p.query) + ((size_t)b * p.S + i) * p.q_tok + (size_t)h * D;
  return p.rot_half > 0 ? rotated(qrow, d, p, position_of(p, b, i, P)) : to_f(qrow[d]);
}

/* Which new tokens query row rr sees: bit j for new token j (tree mask, bias mask or causal). */
template <typename T>
__device__ __forceinline__ unsigned long long visible_bits(const TaParams &p, int b, int rr,
                                                           int P) {
  if (rr >= p.R) return 0ull;
  const int i = rr / p.G, S = p.S;
  unsigned long long bits = 0ull;
  if (p.tree_mask != nullptr) {
    const uint8_t *mrow = p.tree_mask + (size_t)b * p.mask_batch_stride + (size_t)i * S;
    for (int j = 0; j < S; j++) bits |= (mrow[j] != 0 ? 1ull : 0ull) << j;
  } else if (p.attention_bias != nullptr) { /* new-token columns P + j of row i */
    const T *brow = static_cast<const T *>(p.attention_bias) + (size_t)b * p.bias_batch_stride +
                    (size_t)i * p.bias_len + P;
    for (int j = 0; j < S; j++) bits |= (to_f(brow[j]) > SD_TA_BIAS_MASKED ? 1ull : 0ull) << j;
  } else {
    bits = i == 63 ? ~0ull : ((1ull << (i + 1)) - 1ull); /* causal: j <= i */
  }
  return bits;
}

/* Sum (or max) of v over the TPR consecutive lanes that share a query row. */
template <int TPR>
__device__ __forceinline__ float row_sum(float v) {
#pragma unroll
  for (int off = TPR / 2; off > 0; off /= 2) v += __shfl_xor_sync(0xffffffffu, v, off);
  return v;
}
template <int TPR>
__device__ __forceinline__ float row_max(float v) {
#pragma unroll
  for (int off = TPR / 2; off > 0; off /= 2) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, off));
  return v;
}

/* Online softmax: the factor that rescales running sums when the row max goes from m to m_new. */
__device__ __forceinline__ float rescale_factor(float m, float m_new) {
  /* both sums stay 0 while nothing was visible (m = -inf) */
  return m == -INFINITY ? (m_new == -INFINITY ? 1.0f : 0.0f) : __expf(m - m_new);
}

/* Step 2: grid (S, B), block 128 threads; writes new K (rotated) and V at slot P + i. */
template <typename T>
__global__ void append_kv(TaParams p, int D) {
  const int i = blockIdx.x, b = blockIdx.y;
  const int P = p.past_lens[b];
  const int pos = p.rot_half > 0 ? position_of(p, b, i, P) : 0;
  for (int e = threadIdx.x; e < p.Hkv * D; e += blockDim.x) {
    const int g = e / D, d = e % D;
    const size_t src = ((size_t)b * p.S + i) * p.kv_tok + (size_t)g * D;     /* [B, S, Hkv, D] */
    const size_t dst = (((size_t)b * p.Hkv + g) * p.L + (size_t)(P + i)) * D; /* [B, Hkv, L, D] */
    const T *krow = static_cast<const T *>(p.key) + src;
    const float k = p.rot_half > 0 ? rotated(krow, d, p, pos) : to_f(krow[d]);
    put(static_cast<T *>(p.present_key), dst + d, k);
    put(static_cast<T *>(p.present_value), dst + d, to_f(static_cast<const T *>(p.value)[src + d]));
  }
}

/*
 * Step 3. Template: storage T, head size D, query rows per block QT, threads per query row TPR.
 * Thread tid owns query row r_local = tid / TPR of the tile, and within it the score columns
 * c = lane + TPR * k (k < KT / TPR) and the output columns d = lane + TPR * j (j < D / TPR):
 * the lanes of one row are consecutive, so row reductions are xor-shuffles over TPR lanes.
 * Shared rows are padded to D + 1 floats so that column reads hit distinct banks.
 */
template <typename T, int D, int QT, int TPR>
__global__ void __launch_bounds__(QT *TPR) attention_split(TaParams p) {
  constexpr int NT = QT * TPR;
  constexpr int DP = D + 1;        /* padded row stride of qs, ks, vs */
  constexpr int PP = KT + 1;       /* padded row stride of ps */
  constexpr int CPT = D / TPR;     /* output columns per thread */
  constexpr int SPT = KT / TPR;    /* score columns per thread */
  constexpr int VEC = 16 / sizeof(T); /* elements per 16-byte load */
  static_assert(D % TPR == 0 && KT % TPR == 0 && D % VEC == 0, "tile shape");
  static_assert(32 % TPR == 0, "a row's lanes must stay inside one warp");

  SD_DYNAMIC_SHARED(float, smem);
  float *qs = smem;            /* [QT, DP] rotated queries, f32 */
  float *ks = qs + QT * DP;    /* [KT, DP] key tile, f32 */
  float *vs = ks + KT * DP;    /* [KT, DP] value tile, f32 */
  float *ps = vs + KT * DP;    /* [QT, PP] probabilities of the tile */
  __shared__ unsigned long long mask_bits[QT]; /* bit j: the row's token sees new token j */

  /* grid (query tile, split, b * Hkv + g): the query tiles of one KV range are neighbours in
     launch order, so a range read by several tiles is mostly served from L2 */
  const int qtile = blockIdx.x;
  const int split = blockIdx.y;
  const int bg = blockIdx.z; /* b * Hkv + g */
  const int b = bg / p.Hkv, g = bg % p.Hkv;
  const int S = p.S;
  const int P = p.past_lens[b];
  const int total = P + S;
  const int row_begin = split * p.rows_per_split;
  const int row_end = sd_min(total, row_begin + p.rows_per_split);
  const int tid = threadIdx.x;
  const int r_local = tid / TPR, lane = tid % TPR;
  const int r = qtile * QT + r_local; /* query row: token i = r / G, head h = g * G + r % G */
  const bool row_valid = r < p.R;

  /* Rotated query tile (rows past R are zero) and mask bits. */
  for (int e = tid; e < QT * D; e += NT) {
    const int rl = e / D, d = e % D;
    qs[rl * DP + d] = query_element<T>(p, b, g, qtile * QT + rl, d, D, P);
  }
  for (int rl = tid; rl < QT; rl += NT) mask_bits[rl] = visible_bits<T>(p, b, qtile * QT + rl, P);
  __syncthreads();

  const unsigned long long bits = mask_bits[r_local];
  const float scale = p.scale;
  float m = -INFINITY, l = 0.0f;
  float acc[CPT];
#pragma unroll
  for (int j = 0; j < CPT; j++) acc[j] = 0.0f;

  const T *kcache = static_cast<const T *>(p.present_key) + (size_t)bg * p.L * D;
  const T *vcache = static_cast<const T *>(p.present_value) + (size_t)bg * p.L * D;
  for (int t0 = row_begin; t0 < row_end; t0 += KT) {
    const int nrows = sd_min(KT, row_end - t0);
    /* K and V tiles: KT rows are contiguous in [L, D]; 16-byte loads; rows >= nrows are 0. */
    const uint4 *ksrc = reinterpret_cast<const uint4 *>(kcache + (size_t)t0 * D);
    const uint4 *vsrc = reinterpret_cast<const uint4 *>(vcache + (size_t)t0 * D);
    for (int e = tid; e < KT * D / VEC; e += NT) {
      const int rr = (e * VEC) / D, d0 = (e * VEC) % D;
      float *kd = ks + rr * DP + d0;
      float *vd = vs + rr * DP + d0;
      if (rr < nrows) {
        const uint4 ku = ksrc[e];
        const uint4 vu = vsrc[e];
        const T *kx = reinterpret_cast<const T *>(&ku);
        const T *vx = reinterpret_cast<const T *>(&vu);
#pragma unroll
        for (int v = 0; v < VEC; v++) {
          kd[v] = to_f(kx[v]);
          vd[v] = to_f(vx[v]);
        }
      } else {
#pragma unroll
        for (int v = 0; v < VEC; v++) {
          kd[v] = 0.0f;
          vd[v] = 0.0f;
        }
      }
    }
    __syncthreads();

    /* Scores of my row against my columns (d outermost: one query read serves SPT keys);
       invisible ones become -inf. Rows >= nrows are zero, so every dot is finite. */
    float dot[SPT];
#pragma unroll
    for (int k = 0; k < SPT; k++) dot[k] = 0.0f;
    const float *qr = qs + r_local * DP;
#pragma unroll 4
    for (int d = 0; d < D; d++) {
      const float qd = qr[d];
#pragma unroll
      for (int k = 0; k < SPT; k++) dot[k] = fmaf(qd, ks[(lane + TPR * k) * DP + d], dot[k]);
    }
    float s[SPT];
    float tile_max = -INFINITY;
#pragma unroll
    for (int k = 0; k < SPT; k++) {
      const int c = lane + TPR * k;
      const int t = t0 + c;
      const bool visible = row_valid && c < nrows && (t < P || ((bits >> (t - P)) & 1ull) != 0);
      s[k] = visible ? dot[k] * scale : -INFINITY;
      tile_max = fmaxf(tile_max, s[k]);
    }
    const float m_new = fmaxf(m, row_max<TPR>(tile_max));
    const float alpha = rescale_factor(m, m_new);
    float tile_sum = 0.0f;
#pragma unroll
    for (int k = 0; k < SPT; k++) {
      const float pk = s[k] == -INFINITY ? 0.0f : __expf(s[k] - m_new);
      ps[r_local * PP + lane + TPR * k] = pk;
      tile_sum += pk;
    }
    l = l * alpha + row_sum<TPR>(tile_sum);
    m = m_new;
#pragma unroll
    for (int j = 0; j < CPT; j++) acc[j] *= alpha;
    __syncthreads(); /* ps complete */

    const float *pr = ps + r_local * PP;
    for (int c = 0; c < nrows; c++) {
      const float pc = pr[c];
      const float *vr = vs + c * DP + lane;
#pragma unroll
      for (int j = 0; j < CPT; j++) acc[j] = fmaf(pc, vr[TPR * j], acc[j]);
    }
    __syncthreads(); /* before the next tile overwrites ks, vs, ps */
  }

  if (row_valid) {
    const size_t prow = ((size_t)bg * p.splits + split) * p.R_pad + r; /* [B*Hkv, splits, R_pad] */
#pragma unroll
    for (int j = 0; j < CPT; j++) p.part_o[prow * D + lane + TPR * j] = acc[j];
    if (lane == 0) {
      p.part_ml[prow * 2] = m;
      p.part_ml[prow * 2 + 1] = l;
    }
  }
}

/*
 * Step 3 with tensor cores (fp16 storage, head size 64 or 128): same blocks, same online
 * softmax and same partial outputs as attention_split, with both products on WMMA 16x16x16
 * tiles (fp16 inputs, fp32 accumulation):
 *   scores [QT, TC_KT] = Q K^T, where the rotated query is split into fp16 hi + lo parts so that
 *     the scores keep about 22 bits of the fp32 query (two MMAs per step);
 *   O [QT, D] += P V, with P rounded to fp16 (the row sums l add the same rounded values).
 * 8 warps: warp w computes score tiles w, w + 8, ... then output tiles w, w + 8, ...; softmax runs
 * on TPR = 256 / QT threads per query row. O lives in shared memory (fp32) between tiles, so
 * rows are rescaled by alpha there. KV tiles are copied raw (16-byte vectors) into shared memory.
 */
constexpr int TC_KT = 64; /* KV rows per tensor-core tile */

template <int D, int QT>
struct TcLayout {
  static constexpr int DH = D + 8;      /* half row stride of q_hi, q_lo, ks, vs */
  static constexpr int PH = TC_KT + 8;  /* half row stride of ps */
  static constexpr int SP = TC_KT + 4;  /* float row stride of sc */
  static constexpr int OP = D + 4;      /* float row stride of os */
  static constexpr size_t bytes = (size_t)2 * QT * DH * 2 + (size_t)2 * TC_KT * DH * 2 +
                                  (size_t)QT * PH * 2 + (size_t)QT * SP * 4 + (size_t)QT * OP * 4;
};

template <int D, int QT>
__global__ void __launch_bounds__(256) attention_split_tc(TaParams p) {
  using namespace nvcuda;
  using Lay = TcLayout<D, QT>;
  constexpr int NT = 256, NW = NT / 32;
  constexpr int TPR = NT / QT;       /* softmax threads per query row: 16 or 4 */
  constexpr int CPR = TC_KT / TPR;   /* score columns per softmax thread */
  constexpr int DH = Lay::DH, PH = Lay::PH, SP = Lay::SP, OP = Lay::OP;
  constexpr int NV = TC_KT * D / 8 / NT; /* 16-byte vectors per thread of a K (or V) tile */
  static_assert(QT % 16 == 0 && D % 16 == 0 && 32 % TPR == 0 && D % TPR == 0, "tile shape");
  static_assert(NV * NT * 8 == TC_KT * D, "a KV tile is a whole number of vectors per thread");

  SD_DYNAMIC_SHARED(float, smem);
  __half *q_hi = reinterpret_cast<__half *>(smem); /* [QT, DH] rotated query, fp16 high part */
  __half *q_lo = q_hi + QT * DH;                    /* [QT, DH] fp16 of (query - high part) */
  __half *ks = q_lo + QT * DH;                      /* [TC_KT, DH] key tile */
  __half *vs = ks + TC_KT * DH;                     /* [TC_KT, DH] value tile */
  __half *ps = vs + TC_KT * DH;                     /* [QT, PH] probabilities, fp16 */
  float *sc = reinterpret_cast<float *>(ps + QT * PH); /* [QT, SP] scores */
  float *os = sc + QT * SP;                            /* [QT, OP] running output */
  __shared__ unsigned long long mask_bits[QT];

  const int qtile = blockIdx.x, split = blockIdx.y, bg = blockIdx.z; /* as attention_split */
  const int b = bg / p.Hkv, g = bg % p.Hkv;
  const int S = p.S;
  const int P = p.past_lens[b];
  const int total = P + S;
  const int row_begin = split * p.rows_per_split;
  const int row_end = sd_min(total, row_begin + p.rows_per_split);
  const int tid = threadIdx.x, warp = tid / 32;
  const int r_local = tid / TPR, lane = tid % TPR;
  const int r = qtile * QT + r_local;
  const bool row_valid = r < p.R;

  for (int e = tid; e < QT * D; e += NT) {
    const int rl = e / D, d = e % D;
    const float x = query_element<__half>(p, b, g, qtile * QT + rl, d, D, P);
    const __half hi = __float2half_rn(x);
    q_hi[rl * DH + d] = hi;
    q_lo[rl * DH + d] = __float2half_rn(x - __half2float(hi));
  }
  for (int rl = tid; rl < QT; rl += NT) mask_bits[rl] = visible_bits<__half>(p, b, qtile * QT + rl, P);
  for (int e = tid; e < QT * OP; e += NT) os[e] = 0.0f;
  __syncthreads();

  const unsigned long long bits = mask_bits[r_local];
  const float scale = p.scale;
  float m = -INFINITY, l = 0.0f;
  const __half *kcache = static_cast<const __half *>(p.present_key) + (size_t)bg * p.L * D;
  const __half *vcache = static_cast<const __half *>(p.present_value) + (size_t)bg * p.L * D;
  for (int t0 = row_begin; t0 < row_end; t0 += TC_KT) {
    const int nrows = sd_min(TC_KT, row_end - t0);
    const uint4 *ksrc = reinterpret_cast<const uint4 *>(kcache + (size_t)t0 * D);
    const uint4 *vsrc = reinterpret_cast<const uint4 *>(vcache + (size_t)t0 * D);
    /* Every 16-byte load of the tile is issued before the first shared store (NV K and NV V
       vectors per thread in registers), so a thread has 2 * NV loads in flight, not one pair. */
    uint4 kv[NV], vv[NV];
#pragma unroll
    for (int k = 0; k < NV; k++) {
      const int e = tid + k * NT; /* 8 halves per 16-byte vector */
      const bool in = e / (D / 8) < nrows;
      kv[k] = in ? ksrc[e] : make_uint4(0u, 0u, 0u, 0u);
      vv[k] = in ? vsrc[e] : make_uint4(0u, 0u, 0u, 0u);
    }
#pragma unroll
    for (int k = 0; k < NV; k++) {
      const int e = tid + k * NT;
      const int rr = e / (D / 8), c8 = e % (D / 8);
      *reinterpret_cast<uint4 *>(ks + rr * DH + c8 * 8) = kv[k];
      *reinterpret_cast<uint4 *>(vs + rr * DH + c8 * 8) = vv[k];
    }
    __syncthreads();

    for (int tile = warp; tile < (QT / 16) * (TC_KT / 16); tile += NW) {
      const int ti = tile / (TC_KT / 16), tj = tile % (TC_KT / 16);
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::fill_fragment(acc, 0.0f);
      for (int kk = 0; kk < D / 16; kk++) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> a_hi, a_lo;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::col_major> kt; /* K^T */
        wmma::load_matrix_sync(a_hi, q_hi + ti * 16 * DH + kk * 16, DH);
        wmma::load_matrix_sync(a_lo, q_lo + ti * 16 * DH + kk * 16, DH);
        wmma::load_matrix_sync(kt, ks + tj * 16 * DH + kk * 16, DH);
        wmma::mma_sync(acc, a_hi, kt, acc);
        wmma::mma_sync(acc, a_lo, kt, acc);
      }
      wmma::store_matrix_sync(sc + ti * 16 * SP + tj * 16, acc, SP, wmma::mem_row_major);
    }
    __syncthreads();

    float s[CPR];
    float tile_max = -INFINITY;
#pragma unroll
    for (int k = 0; k < CPR; k++) {
      const int c = lane + TPR * k;
      const int t = t0 + c;
      const bool visible = row_valid && c < nrows && (t < P || ((bits >> (t - P)) & 1ull) != 0);
      s[k] = visible ? sc[r_local * SP + c] * scale : -INFINITY;
      tile_max = fmaxf(tile_max, s[k]);
    }
    const float m_new = fmaxf(m, row_max<TPR>(tile_max));
    const float alpha = rescale_factor(m, m_new);
    float tile_sum = 0.0f;
#pragma unroll
    for (int k = 0; k < CPR; k++) {
      const __half ph = __float2half_rn(s[k] == -INFINITY ? 0.0f : __expf(s[k] - m_new));
      ps[r_local * PH + lane + TPR * k] = ph;
      tile_sum += __half2float(ph);
    }
    l = l * alpha + row_sum<TPR>(tile_sum);
    m = m_new;
    for (int d = lane; d < D; d += TPR) os[r_local * OP + d] *= alpha;
    __syncthreads();

    for (int tile = warp; tile < (QT / 16) * (D / 16); tile += NW) {
      const int ti = tile / (D / 16), tn = tile % (D / 16);
      wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc;
      wmma::load_matrix_sync(acc, os + ti * 16 * OP + tn * 16, OP, wmma::mem_row_major);
      for (int kk = 0; kk < TC_KT / 16; kk++) {
        wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> pa;
        wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> vb;
        wmma::load_matrix_sync(pa, ps + ti * 16 * PH + kk * 16, PH);
        wmma::load_matrix_sync(vb, vs + kk * 16 * DH + tn * 16, DH);
        wmma::mma_sync(acc, pa, vb, acc);
      }
      wmma::store_matrix_sync(os + ti * 16 * OP + tn * 16, acc, OP, wmma::mem_row_major);
    }
    __syncthreads();
  }

  for (int e = tid; e < QT * D; e += NT) {
    const int rl = e / D, d = e % D;
    const int rr = qtile * QT + rl;
    if (rr < p.R) {
      const size_t prow = ((size_t)bg * p.splits + split) * p.R_pad + rr;
      p.part_o[prow * D + d] = os[rl * OP + d];
    }
  }
  if (row_valid && lane == 0) {
    const size_t prow = ((size_t)bg * p.splits + split) * p.R_pad + r;
    p.part_ml[prow * 2] = m;
    p.part_ml[prow * 2 + 1] = l;
  }
}

/* Step 4: grid (B * S * H), block min(D, 256) threads; merges the splits of one output row. */
template <typename T>
__global__ void attention_combine(TaParams p, int D) {
  const int row = blockIdx.x; /* (b * S + i) * H + h, the output row [B, S, H] */
  const int h = row % p.H, i = (row / p.H) % p.S, b = row / (p.H * p.S);
  const int g = h / p.G;
  const int r = i * p.G + (h - g * p.G);
  const size_t bg = (size_t)b * p.Hkv + g;
  float big_m = -INFINITY;
  for (int sp = 0; sp < p.splits; sp++) {
    big_m = fmaxf(big_m, p.part_ml[((bg * p.splits + sp) * p.R_pad + r) * 2]);
  }
  float big_l = 0.0f;
  for (int sp = 0; sp < p.splits; sp++) {
    const size_t prow = (bg * p.splits + sp) * p.R_pad + r;
    const float ms = p.part_ml[prow * 2];
    if (ms != -INFINITY) big_l += p.part_ml[prow * 2 + 1] * __expf(ms - big_m);
  }
  const float inv = big_l > 0.0f ? 1.0f / big_l : 0.0f;
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float o = 0.0f;
    for (int sp = 0; sp < p.splits; sp++) {
      const size_t prow = (bg * p.splits + sp) * p.R_pad + r;
      const float ms = p.part_ml[prow * 2];
      if (ms != -INFINITY) o += p.part_o[prow * D + d] * __expf(ms - big_m);
    }
    put(static_cast<T *>(p.output), (size_t)row * D + d, o * inv);
  }
}

/* ---- compaction -------------------------------------------------------------------------- */

struct CompactParams {
  void *buffers[SD_CUDA_COMPACT_MAX_BUFFERS]; /* each [B, Hkv, L, D] */
  int slots[SD_TA_MAX_SEQ];
  int n, base, n_buffers, bh, L;
  int row_units; /* units of type U per row */
};

/*
 * One thread per (buffer, b * Hkv + g, unit column): walks j = 0..n-1 in ascending order,
 * exactly the reference's loop for one column, so in-place moves never read a row already
 * overwritten (slots[j] >= base + j, increasing). Columns are independent.
 */
template <typename U>
__global__ void kv_compact(CompactParams p) {
  const long long total = (long long)p.n_buffers * p.bh * p.row_units;
  for (long long x = blockIdx.x * (long long)blockDim.x + threadIdx.x; x < total;
       x += (long long)gridDim.x * blockDim.x) {
    const int col = (int)(x % p.row_units);
    const long long rest = x / p.row_units;
    const int bh = (int)(rest % p.bh);
    const int k = (int)(rest / p.bh);
    U *rows = static_cast<U *>(p.buffers[k]) + (size_t)bh * p.L * p.row_units;
    for (int j = 0; j < p.n; j++) {
      const int src = p.slots[j];
      if (src == p.base + j) continue;
      rows[(size_t)(p.base + j) * p.row_units + col] = rows[(size_t)src * p.row_units + col];
    }
  }
}
/* ---- launch planning (host, pure) -------------------------------------------------------- */

struct Plan {
  bool tc;    /* tensor-core kernel (fp16, head size 64 or 128) */
  int kt;     /* KV rows per tile */
  int qt, tpr, qtiles, R, R_pad, splits, rows_per_split;
  size_t workspace_bytes;
  size_t smem_bytes; /* dynamic shared memory of the split kernel (the launch's argument) */
};

bool head_dim_supported(int d) {
  return d == 32 || d == 64 || d == 80 || d == 96 || d == 128 || d == 256;
}

/* Dynamic shared memory of a split kernel instantiation (tensor cores or not, head size, QT). */
inline size_t split_smem_bytes(bool tc, int D, int qt) {
  if (tc) {
    return D == 64 ? (qt == 16 ? TcLayout<64, 16>::bytes : TcLayout<64, 64>::bytes)
                   : (qt == 16 ? TcLayout<128, 16>::bytes : TcLayout<128, 64>::bytes);
  }
  return ((size_t)(qt + 2 * KT) * (D + 1) + (size_t)qt * (KT + 1)) * sizeof(float);
}

/* The preferred query tile of a kernel kind for R query rows per KV head. */
inline void pick_tile(Plan *plan, bool tc, int R) {
  plan->tc = tc;
  if (tc) {
    plan->kt = TC_KT;
    plan->qt = R <= 16 ? 16 : 64;
    plan->tpr = 256 / plan->qt;
  } else {
    plan->kt = KT;
    if (R <= 16) {
      plan->qt = 16, plan->tpr = 8;
    } else if (R <= 32) {
      plan->qt = 32, plan->tpr = 8;
    } else {
      plan->qt = 64, plan->tpr = 4;
    }
  }
}

/* The next smaller query tile of the same kernel kind (less shared memory); false at 16 rows. */
inline bool shrink_tile(Plan *plan) {
  if (plan->qt <= 16) return false;
  if (plan->tc) {
    plan->qt = 16, plan->tpr = 16;
  } else if (plan->qt == 64) {
    plan->qt = 32, plan->tpr = 8;
  } else {
    plan->qt = 16, plan->tpr = 8;
  }
  return true;
}

/* Static (mask bits, QT x 8 bytes) plus dynamic shared memory of the plan's split kernel. */
inline size_t plan_smem_total(const Plan &plan, int D) {
  return split_smem_bytes(plan.tc, D, plan.qt) + (size_t)plan.qt * sizeof(unsigned long long);
}

/*
 * Launch plan. allow_tc: use the tensor-core kernel where it applies (fp16, head size 64/128);
 * false keeps the CUDA-core kernel (tests run both). max_smem: the device's shared memory per
 * block (cudaDevAttrMaxSharedMemoryPerBlockOptin, static + dynamic; 0: no limit): the query tile
 * shrinks (64 -> 32 -> 16 rows), then the tensor-core kernel gives way to the CUDA-core one,
 * until the kernel fits. When even that does not fit, plan_smem_total() > max_smem and the caller
 * refuses the call. max_qt: the largest query tile allowed (16, 32 or 64; a tuning knob, see
 * SPECDEC_CUDA_QUERY_TILE in tree_attention.cu).
 */
Plan make_plan(const sd_ta_shape *s, const int32_t *past_lens, int sm_count, bool allow_tc = true,
               size_t max_smem = 0, int max_qt = 64) {
  Plan plan{};
  const int G = s->num_heads / s->kv_num_heads;
  const int D = s->head_dim;
  plan.R = s->seq_len * G;
  pick_tile(&plan, allow_tc && s->dtype == SD_TA_F16 && (D == 64 || D == 128), plan.R);
  while (plan.qt > max_qt && shrink_tile(&plan)) {
  }
  if (max_smem > 0) {
    while (plan_smem_total(plan, D) > max_smem && shrink_tile(&plan)) {
    }
    if (plan_smem_total(plan, D) > max_smem && plan.tc) {
      pick_tile(&plan, false, plan.R);
      while (plan_smem_total(plan, D) > max_smem && shrink_tile(&plan)) {
      }
    }
  }
  plan.qtiles = (plan.R + plan.qt - 1) / plan.qt;
  plan.R_pad = plan.qtiles * plan.qt;
  int max_total = 0;
  for (int b = 0; b < s->batch; b++) max_total = sd_max(max_total, past_lens[b] + s->seq_len);
  const int tiles = (max_total + plan.kt - 1) / plan.kt;
  const long long base_blocks = (long long)s->batch * s->kv_num_heads * plan.qtiles;
  const long long target_blocks = 4LL * (sm_count > 0 ? sm_count : 1) * (plan.qt == 16 ? 2 : 1);
  long long splits = (target_blocks + base_blocks - 1) / base_blocks;
  if (splits > tiles) splits = tiles;
  if (splits > MAX_SPLITS) splits = MAX_SPLITS;
  if (splits < 1) splits = 1;
  const int tiles_per_split = (int)((tiles + splits - 1) / splits);
  plan.rows_per_split = tiles_per_split * plan.kt;
  plan.splits = (tiles + tiles_per_split - 1) / tiles_per_split;
  const size_t rows = (size_t)s->batch * s->kv_num_heads * plan.splits * plan.R_pad;
  plan.workspace_bytes = rows * (size_t)(D + 2) * sizeof(float);
  plan.smem_bytes = split_smem_bytes(plan.tc, D, plan.qt);
  return plan;
}

/* The split kernel instantiation of a plan (head_dim must be supported); *threads per block. */
template <typename T>
void (*pick_split_kernel(const Plan &plan, int head_dim, int *threads))(TaParams) {
  if (plan.tc) {
    *threads = 256;
    if (head_dim == 64) return plan.qt == 16 ? attention_split_tc<64, 16> : attention_split_tc<64, 64>;
    if (head_dim == 128) {
      return plan.qt == 16 ? attention_split_tc<128, 16> : attention_split_tc<128, 64>;
    }
    return nullptr;
  }
  const int qt = plan.qt;
  *threads = qt == 64 ? 64 * 4 : qt * 8;
#define SD_PICK(DIM)                                            \
  if (head_dim == DIM) {                                        \
    if (qt == 16) return attention_split<T, DIM, 16, 8>;        \
    if (qt == 32) return attention_split<T, DIM, 32, 8>;        \
    return attention_split<T, DIM, 64, 4>;                      \
  }
  SD_PICK(32)
  SD_PICK(64)
  SD_PICK(80)
  SD_PICK(96)
  SD_PICK(128)
  SD_PICK(256)
#undef SD_PICK
  return nullptr;
}

/* Kernel parameters of one call; `workspace` holds plan.workspace_bytes. */
inline TaParams make_params(const sd_ta_shape *s, const int32_t *past_lens,
                            const sd_ta_tensors *t, const Plan &plan, void *workspace) {
  TaParams p{};
  const size_t esize = (size_t)sd_ta_dtype_size(s->dtype);
  const size_t HD = (size_t)s->num_heads * s->head_dim, KD = (size_t)s->kv_num_heads * s->head_dim;
  p.query = t->query;
  p.key = s->qkv_packed ? static_cast<const char *>(t->query) + HD * esize : t->key;
  p.value = s->qkv_packed ? static_cast<const char *>(t->query) + (HD + KD) * esize : t->value;
  p.q_tok = (int)(s->qkv_packed ? HD + 2 * KD : HD);
  p.kv_tok = (int)(s->qkv_packed ? HD + 2 * KD : KD);
  p.attention_bias = t->attention_bias;
  p.bias_batch_stride = (long long)s->bias_batch_stride;
  p.bias_len = s->bias_len;
  p.present_key = t->present_key;
  p.present_value = t->present_value;
  p.cos_cache = t->cos_cache;
  p.sin_cache = t->sin_cache;
  p.position_ids = t->position_ids;
  p.tree_mask = t->tree_mask;
  p.output = t->output;
  p.part_o = static_cast<float *>(workspace);
  p.part_ml = p.part_o +
              (size_t)s->batch * s->kv_num_heads * plan.splits * plan.R_pad * (size_t)s->head_dim;
  p.mask_batch_stride = (long long)s->mask_batch_stride;
  p.scale = s->scale > 0.0f ? s->scale : 1.0f / sqrtf((float)s->head_dim);
  p.S = s->seq_len;
  p.H = s->num_heads;
  p.Hkv = s->kv_num_heads;
  p.G = s->num_heads / s->kv_num_heads;
  p.L = s->max_len;
  p.rot_half = s->rotary_dim / 2;
  p.max_pos = s->max_pos > 0 ? s->max_pos : 1;
  p.R = plan.R;
  p.R_pad = plan.R_pad;
  p.splits = plan.splits;
  p.rows_per_split = plan.rows_per_split;
  for (int b = 0; b < s->batch; b++) p.past_lens[b] = past_lens[b];
  return p;
}

/* Compaction parameters for buffers [first, first + count); *unit = bytes moved per thread step. */
inline CompactParams make_compact_params(void *const *buffers, int first, int count,
                                         const sd_kv_layout *layout, int32_t base,
                                         const int32_t *slots, int32_t n, size_t *unit) {
  const size_t row_bytes = (size_t)layout->head_dim * (size_t)layout->elem_size;
  *unit = row_bytes % 16 == 0 ? 16 : row_bytes % 4 == 0 ? 4 : 2;
  CompactParams p{};
  p.n_buffers = count;
  for (int k = 0; k < count; k++) p.buffers[k] = buffers[first + k];
  for (int j = 0; j < n; j++) p.slots[j] = slots[j];
  p.n = n;
  p.base = base;
  p.bh = layout->batch * layout->kv_num_heads;
  p.L = layout->max_len;
  p.row_units = (int)(row_bytes / *unit);
  return p;
}

}  // namespace sd_kernels

#endif /* SPECDEC_TREE_ATTENTION_KERNELS_CUH */
