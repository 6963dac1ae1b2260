/*
 * tree_attention.cu: CUDA kernels of specdec's tree attention and KV compaction.
 *
 * Same operation as the CPU reference (native/src/tree_attention_ref.c); the index arithmetic
 * below uses the same names: b batch, i new token, h query head, g = h / G kv head, P past
 * length, slot t in [0, P + S), d element of a head.
 *
 * One forward is four steps on one stream:
 *   1. past -> present copy of slots [0, P) (only when the buffers differ): cudaMemcpy2DAsync;
 *   2. append_kv: new keys (rotated) and values written at slots [P, P + S);
 *   3. attention_split (flash-decoding): grid (split, b * Hkv + g, query tile). A block owns
 *      one KV head of one batch entry and a contiguous range of slots; it streams that range
 *      once in tiles of KT rows through shared memory and applies it to all its query rows:
 *      every (new token i, query head of group g) pair, R = S * G rows, so each KV row is read
 *      once per KV head (per query tile of QT rows when R > QT). Online softmax keeps a running
 *      max m and sum l per row; the block writes its unnormalized partial output and (m, l);
 *   4. attention_combine: per output row, merges the splits' partials (log-sum-exp rescale).
 * The number of splits is chosen so that B * Hkv * splits * tiles fills the GPU several times.
 */
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "specdec.h"
#include "tree_attention_cuda.h"

namespace {

constexpr int KT = 32;           /* KV rows per shared-memory tile */
constexpr int MAX_SPLITS = 1024; /* upper bound of split-K blocks per (b, g, q tile) */

int fail(int status, char *err, size_t err_cap, const char *fmt, ...) {
  if (err != nullptr && err_cap > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_cap, fmt, ap);
    va_end(ap);
  }
  return status;
}

int cuda_fail(cudaError_t e, const char *what, char *err, size_t err_cap) {
  const int status = (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver ||
                      e == cudaErrorInitializationError || e == cudaErrorSystemDriverMismatch ||
                      e == cudaErrorCompatNotSupportedOnDevice)
                         ? SD_UNAVAILABLE
                     : e == cudaErrorMemoryAllocation ? SD_OUT_OF_MEMORY
                                                      : SD_STATE;
  return fail(status, err, err_cap, "CUDA error in %s: %s (%s)", what, cudaGetErrorString(e),
              cudaGetErrorName(e));
}

/* ---- element access ---------------------------------------------------------------------- */

__device__ __forceinline__ float to_f(float x) { return x; }
__device__ __forceinline__ float to_f(__half x) { return __half2float(x); }
__device__ __forceinline__ void put(float *p, size_t i, float v) { p[i] = v; }
__device__ __forceinline__ void put(__half *p, size_t i, float v) { p[i] = __float2half_rn(v); }

/* ---- kernel parameters (by value) ------------------------------------------------------- */

struct TaParams {
  const void *query;         /* [B, S, H, D] */
  const void *key;           /* [B, S, Hkv, D] */
  const void *value;         /* [B, S, Hkv, D] */
  void *present_key;         /* [B, Hkv, L, D] */
  void *present_value;       /* [B, Hkv, L, D] */
  const void *cos_cache;     /* [max_pos, rot_half] */
  const void *sin_cache;     /* [max_pos, rot_half] */
  const int64_t *position_ids; /* [B, S] or null */
  const uint8_t *tree_mask;  /* [S, S] or [B, S, S] or null (causal) */
  void *output;              /* [B, S, H, D] */
  float *part_o;             /* [B * Hkv, splits, R_pad, D] f32 unnormalized partial outputs */
  float *part_ml;            /* [B * Hkv, splits, R_pad, 2] f32 running max and sum */
  long long mask_batch_stride;
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

/* Step 2: grid (S, B), block 128 threads; writes new K (rotated) and V at slot P + i. */
template <typename T>
__global__ void append_kv(TaParams p, int D) {
  const int i = blockIdx.x, b = blockIdx.y;
  const int P = p.past_lens[b];
  const int pos = p.rot_half > 0 ? position_of(p, b, i, P) : 0;
  for (int e = threadIdx.x; e < p.Hkv * D; e += blockDim.x) {
    const int g = e / D, d = e % D;
    const size_t src = (((size_t)b * p.S + i) * p.Hkv + g) * D;              /* [B, S, Hkv, D] */
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

  extern __shared__ float smem[];
  float *qs = smem;            /* [QT, DP] rotated queries, f32 */
  float *ks = qs + QT * DP;    /* [KT, DP] key tile, f32 */
  float *vs = ks + KT * DP;    /* [KT, DP] value tile, f32 */
  float *ps = vs + KT * DP;    /* [QT, PP] probabilities of the tile */
  __shared__ unsigned long long mask_bits[QT]; /* bit j: the row's token sees new token j */

  const int split = blockIdx.x;
  const int bg = blockIdx.y; /* b * Hkv + g */
  const int qtile = blockIdx.z;
  const int b = bg / p.Hkv, g = bg % p.Hkv;
  const int S = p.S, G = p.G;
  const int P = p.past_lens[b];
  const int total = P + S;
  const int row_begin = split * p.rows_per_split;
  const int row_end = min(total, row_begin + p.rows_per_split);
  const int tid = threadIdx.x;
  const int r_local = tid / TPR, lane = tid % TPR;
  const int r = qtile * QT + r_local; /* query row: token i = r / G, head h = g * G + r % G */
  const bool row_valid = r < p.R;

  /* Rotated query tile (rows past R are zero) and mask bits. */
  for (int e = tid; e < QT * D; e += NT) {
    const int rl = e / D, d = e % D;
    const int rr = qtile * QT + rl;
    float x = 0.0f;
    if (rr < p.R) {
      const int i = rr / G, h = g * G + rr % G;
      const T *qrow = static_cast<const T *>(p.query) + (((size_t)b * S + i) * p.H + h) * D;
      x = p.rot_half > 0 ? rotated(qrow, d, p, position_of(p, b, i, P)) : to_f(qrow[d]);
    }
    qs[rl * DP + d] = x;
  }
  for (int rl = tid; rl < QT; rl += NT) {
    const int rr = qtile * QT + rl;
    unsigned long long bits = 0ull;
    if (rr < p.R) {
      const int i = rr / G;
      if (p.tree_mask == nullptr) {
        bits = i == 63 ? ~0ull : ((1ull << (i + 1)) - 1ull); /* causal: j <= i */
      } else {
        const uint8_t *mrow = p.tree_mask + (size_t)b * p.mask_batch_stride + (size_t)i * S;
        for (int j = 0; j < S; j++) bits |= (mrow[j] != 0 ? 1ull : 0ull) << j;
      }
    }
    mask_bits[rl] = bits;
  }
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
    const int nrows = min(KT, row_end - t0);
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

    /* Scores of my row against my columns; invisible ones are -inf. */
    float s[SPT];
    float tile_max = -INFINITY;
#pragma unroll
    for (int k = 0; k < SPT; k++) {
      const int c = lane + TPR * k;
      const int t = t0 + c;
      const bool visible = row_valid && c < nrows && (t < P || ((bits >> (t - P)) & 1ull) != 0);
      float dot = 0.0f;
      if (visible) {
        const float *qr = qs + r_local * DP;
        const float *kr = ks + c * DP;
#pragma unroll 8
        for (int d = 0; d < D; d++) dot = fmaf(qr[d], kr[d], dot);
      }
      s[k] = visible ? dot * scale : -INFINITY;
      tile_max = fmaxf(tile_max, s[k]);
    }
#pragma unroll
    for (int off = TPR / 2; off > 0; off /= 2) {
      tile_max = fmaxf(tile_max, __shfl_xor_sync(0xffffffffu, tile_max, off));
    }
    const float m_new = fmaxf(m, tile_max);
    /* alpha rescales the running sums; both stay 0 while nothing was visible (m = -inf) */
    const float alpha = m == -INFINITY ? (m_new == -INFINITY ? 1.0f : 0.0f) : __expf(m - m_new);
    float tile_sum = 0.0f;
#pragma unroll
    for (int k = 0; k < SPT; k++) {
      const float pk = s[k] == -INFINITY ? 0.0f : __expf(s[k] - m_new);
      ps[r_local * PP + lane + TPR * k] = pk;
      tile_sum += pk;
    }
#pragma unroll
    for (int off = TPR / 2; off > 0; off /= 2) {
      tile_sum += __shfl_xor_sync(0xffffffffu, tile_sum, off);
    }
    l = l * alpha + tile_sum;
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

/* ---- host side --------------------------------------------------------------------------- */

struct Plan {
  int qt, tpr, qtiles, R, R_pad, splits, rows_per_split;
  size_t workspace_bytes;
  size_t smem_bytes;
};

int sm_count_of_current(int *out, char *err, size_t err_cap) {
  int dev = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(out, cudaDevAttrMultiProcessorCount, dev);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return cuda_fail(e, "cudaDeviceGetAttribute(MultiProcessorCount)", err, err_cap);
  }
  return SD_OK;
}

bool head_dim_supported(int d) {
  return d == 32 || d == 64 || d == 80 || d == 96 || d == 128 || d == 256;
}

int check_cuda_shape(const sd_ta_shape *s, const int32_t *past_lens, char *err, size_t err_cap) {
  if (past_lens == nullptr) return fail(SD_INVALID_ARGUMENT, err, err_cap, "past_lens is NULL");
  int status = sd_ta_check_shape(s, past_lens, err, err_cap);
  if (status != SD_OK) return status;
  if (s->batch > SD_CUDA_MAX_BATCH) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap, "batch must be <= %d on CUDA, got %d",
                SD_CUDA_MAX_BATCH, s->batch);
  }
  if (!head_dim_supported(s->head_dim)) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap,
                "head_dim must be 32, 64, 80, 96, 128 or 256 on CUDA, got %d", s->head_dim);
  }
  return SD_OK;
}

Plan make_plan(const sd_ta_shape *s, const int32_t *past_lens, int sm_count) {
  Plan plan{};
  const int G = s->num_heads / s->kv_num_heads;
  plan.R = s->seq_len * G;
  if (plan.R <= 16) {
    plan.qt = 16, plan.tpr = 8;
  } else if (plan.R <= 32) {
    plan.qt = 32, plan.tpr = 8;
  } else {
    plan.qt = 64, plan.tpr = 4;
  }
  plan.qtiles = (plan.R + plan.qt - 1) / plan.qt;
  plan.R_pad = plan.qtiles * plan.qt;
  int max_total = 0;
  for (int b = 0; b < s->batch; b++) max_total = std::max(max_total, past_lens[b] + s->seq_len);
  const int tiles = (max_total + KT - 1) / KT;
  const long long base_blocks = (long long)s->batch * s->kv_num_heads * plan.qtiles;
  const long long target_blocks = 4LL * (sm_count > 0 ? sm_count : 1) * (plan.qt == 16 ? 2 : 1);
  long long splits = (target_blocks + base_blocks - 1) / base_blocks;
  if (splits > tiles) splits = tiles;
  if (splits > MAX_SPLITS) splits = MAX_SPLITS;
  if (splits < 1) splits = 1;
  const int tiles_per_split = (int)((tiles + splits - 1) / splits);
  plan.rows_per_split = tiles_per_split * KT;
  plan.splits = (tiles + tiles_per_split - 1) / tiles_per_split;
  const size_t rows = (size_t)s->batch * s->kv_num_heads * plan.splits * plan.R_pad;
  plan.workspace_bytes = rows * (size_t)(s->head_dim + 2) * sizeof(float);
  plan.smem_bytes =
      ((size_t)(plan.qt + 2 * KT) * (s->head_dim + 1) + (size_t)plan.qt * (KT + 1)) * sizeof(float);
  return plan;
}

template <typename T, int D, int QT, int TPR>
cudaError_t launch_split(const TaParams &p, const Plan &plan, int batch, int kv_heads,
                         cudaStream_t stream) {
  auto kernel = attention_split<T, D, QT, TPR>;
  cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                       (int)plan.smem_bytes);
  if (e != cudaSuccess) return e;
  const dim3 grid((unsigned)plan.splits, (unsigned)(batch * kv_heads), (unsigned)plan.qtiles);
  kernel<<<grid, QT * TPR, plan.smem_bytes, stream>>>(p);
  return cudaGetLastError();
}

template <typename T, int D>
cudaError_t launch_split_d(const TaParams &p, const Plan &plan, int batch, int kv_heads,
                           cudaStream_t stream) {
  if (plan.qt == 16) return launch_split<T, D, 16, 8>(p, plan, batch, kv_heads, stream);
  if (plan.qt == 32) return launch_split<T, D, 32, 8>(p, plan, batch, kv_heads, stream);
  return launch_split<T, D, 64, 4>(p, plan, batch, kv_heads, stream);
}

template <typename T>
cudaError_t launch_all(const TaParams &p, const Plan &plan, const sd_ta_shape *s,
                       cudaStream_t stream) {
  const int D = s->head_dim;
  append_kv<T><<<dim3((unsigned)s->seq_len, (unsigned)s->batch), 128, 0, stream>>>(p, D);
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return e;
  switch (D) {
    case 32: e = launch_split_d<T, 32>(p, plan, s->batch, s->kv_num_heads, stream); break;
    case 64: e = launch_split_d<T, 64>(p, plan, s->batch, s->kv_num_heads, stream); break;
    case 80: e = launch_split_d<T, 80>(p, plan, s->batch, s->kv_num_heads, stream); break;
    case 96: e = launch_split_d<T, 96>(p, plan, s->batch, s->kv_num_heads, stream); break;
    case 128: e = launch_split_d<T, 128>(p, plan, s->batch, s->kv_num_heads, stream); break;
    default: e = launch_split_d<T, 256>(p, plan, s->batch, s->kv_num_heads, stream); break;
  }
  if (e != cudaSuccess) return e;
  const unsigned rows = (unsigned)(s->batch * s->seq_len * s->num_heads);
  attention_combine<T><<<rows, (unsigned)std::min(D, 256), 0, stream>>>(p, D);
  return cudaGetLastError();
}

bool aligned16(const void *ptr) { return ((uintptr_t)ptr & 15u) == 0; }

}  // namespace

extern "C" {

int sd_cuda_device_count(void) {
  int n = 0;
  const cudaError_t e = cudaGetDeviceCount(&n);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    return 0;
  }
  return n;
}

int sd_cuda_device_info_get(int device, sd_cuda_device_info *out, char *err, size_t err_cap) {
  if (out == nullptr) return fail(SD_INVALID_ARGUMENT, err, err_cap, "out is NULL");
  memset(out, 0, sizeof *out);
  const int n = sd_cuda_device_count();
  if (n == 0) return fail(SD_UNAVAILABLE, err, err_cap, "no CUDA device (or no CUDA driver)");
  if (device < 0 || device >= n) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap, "device must be in 0..%d, got %d", n - 1,
                device);
  }
  cudaDeviceProp prop;
  cudaError_t e = cudaGetDeviceProperties(&prop, device);
  if (e != cudaSuccess) return cuda_fail(e, "cudaGetDeviceProperties", err, err_cap);
  snprintf(out->name, sizeof out->name, "%s", prop.name);
  out->major = prop.major;
  out->minor = prop.minor;
  out->sm_count = prop.multiProcessorCount;
  out->total_memory = (double)prop.totalGlobalMem;
  /* CUDA 13 dropped cudaDeviceProp.memoryClockRate; the attribute remains (kHz). */
  int clock_khz = 0, bus_bits = 0;
  if (cudaDeviceGetAttribute(&clock_khz, cudaDevAttrMemoryClockRate, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&bus_bits, cudaDevAttrGlobalMemoryBusWidth, device) != cudaSuccess) {
    (void)cudaGetLastError();
    clock_khz = 0;
  }
  out->peak_bandwidth = 2.0 * (double)clock_khz * 1e3 * (double)bus_bits / 8.0; /* DDR: x2 */
  return SD_OK;
}

int sd_cuda_tree_attention_workspace(const sd_ta_shape *shape, const int32_t *past_lens,
                                     size_t *bytes, char *err, size_t err_cap) {
  if (bytes == nullptr) return fail(SD_INVALID_ARGUMENT, err, err_cap, "bytes is NULL");
  *bytes = 0;
  int status = check_cuda_shape(shape, past_lens, err, err_cap);
  if (status != SD_OK) return status;
  int sms = 0;
  status = sm_count_of_current(&sms, err, err_cap);
  if (status != SD_OK) return status;
  *bytes = make_plan(shape, past_lens, sms).workspace_bytes;
  return SD_OK;
}

int sd_cuda_tree_attention(const sd_ta_shape *shape, const int32_t *past_lens,
                           const sd_ta_tensors *tensors, void *workspace, size_t workspace_bytes,
                           void *stream, char *err, size_t err_cap) {
  int status = check_cuda_shape(shape, past_lens, err, err_cap);
  if (status != SD_OK) return status;
  const sd_ta_shape *s = shape;
  const sd_ta_tensors *t = tensors;
  if (t == nullptr) return fail(SD_INVALID_ARGUMENT, err, err_cap, "tensors is NULL");
  const struct {
    const void *ptr;
    const char *name;
    bool required;
  } ptrs[] = {{t->query, "query", true},
              {t->key, "key", true},
              {t->value, "value", true},
              {t->present_key, "present_key", true},
              {t->present_value, "present_value", true},
              {t->output, "output", true},
              {t->past_key, "past_key", false},
              {t->past_value, "past_value", false},
              {t->cos_cache, "cos_cache", s->rotary_dim > 0},
              {t->sin_cache, "sin_cache", s->rotary_dim > 0}};
  for (const auto &x : ptrs) {
    if (x.ptr == nullptr && x.required) {
      return fail(SD_INVALID_ARGUMENT, err, err_cap, "%s is NULL", x.name);
    }
    if (x.ptr != nullptr && !aligned16(x.ptr)) {
      return fail(SD_INVALID_ARGUMENT, err, err_cap, "%s must be 16-byte aligned", x.name);
    }
  }
  bool any_past = false;
  for (int b = 0; b < s->batch; b++) any_past = any_past || past_lens[b] > 0;
  if (any_past && (t->past_key == nullptr || t->past_value == nullptr)) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap,
                "past_key and past_value must be set when a past length is > 0");
  }
  int sms = 0;
  status = sm_count_of_current(&sms, err, err_cap);
  if (status != SD_OK) return status;
  const Plan plan = make_plan(s, past_lens, sms);
  const cudaStream_t st = static_cast<cudaStream_t>(stream);

  void *ws = workspace;
  bool own_ws = false;
  if (ws == nullptr) {
    cudaError_t e = cudaMallocAsync(&ws, plan.workspace_bytes, st);
    if (e != cudaSuccess) return cuda_fail(e, "cudaMallocAsync(workspace)", err, err_cap);
    own_ws = true;
  } else if (workspace_bytes < plan.workspace_bytes) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap, "workspace_bytes must be >= %zu, got %zu",
                plan.workspace_bytes, workspace_bytes);
  }

  const size_t esize = (size_t)sd_ta_dtype_size(s->dtype);
  const size_t row_bytes = (size_t)s->head_dim * esize;
  cudaError_t e = cudaSuccess;
  /* 1. past -> present for slots [0, P) when the buffers differ: one 2-D copy per batch. */
  for (int b = 0; b < s->batch && e == cudaSuccess; b++) {
    const size_t width = (size_t)past_lens[b] * row_bytes;
    const size_t pitch = (size_t)s->max_len * row_bytes;
    const size_t off = (size_t)b * s->kv_num_heads * pitch;
    if (width == 0) continue;
    if (t->past_key != t->present_key) {
      e = cudaMemcpy2DAsync(static_cast<char *>(t->present_key) + off, pitch,
                            static_cast<const char *>(t->past_key) + off, pitch, width,
                            (size_t)s->kv_num_heads, cudaMemcpyDeviceToDevice, st);
    }
    if (e == cudaSuccess && t->past_value != t->present_value) {
      e = cudaMemcpy2DAsync(static_cast<char *>(t->present_value) + off, pitch,
                            static_cast<const char *>(t->past_value) + off, pitch, width,
                            (size_t)s->kv_num_heads, cudaMemcpyDeviceToDevice, st);
    }
  }
  if (e == cudaSuccess) {
    TaParams p{};
    p.query = t->query;
    p.key = t->key;
    p.value = t->value;
    p.present_key = t->present_key;
    p.present_value = t->present_value;
    p.cos_cache = t->cos_cache;
    p.sin_cache = t->sin_cache;
    p.position_ids = t->position_ids;
    p.tree_mask = t->tree_mask;
    p.output = t->output;
    p.part_o = static_cast<float *>(ws);
    p.part_ml = p.part_o + (size_t)s->batch * s->kv_num_heads * plan.splits * plan.R_pad *
                               (size_t)s->head_dim;
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
    e = s->dtype == SD_TA_F16 ? launch_all<__half>(p, plan, s, st)
                              : launch_all<float>(p, plan, s, st);
  }
  if (own_ws) {
    const cudaError_t e2 = cudaFreeAsync(ws, st);
    if (e == cudaSuccess) e = e2;
  }
  if (e != cudaSuccess) return cuda_fail(e, "tree attention launch", err, err_cap);
  return SD_OK;
}

int sd_cuda_kv_compact(void *const *buffers, int32_t n_buffers, const sd_kv_layout *layout,
                       int32_t base, const int32_t *slots, int32_t n, void *stream, char *err,
                       size_t err_cap) {
  int status = sd_kv_check_compact(layout, base, slots, n, err, err_cap);
  if (status != SD_OK) return status;
  if (n_buffers < 0 || (n_buffers > 0 && buffers == nullptr)) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap, "buffers must hold n_buffers (%d) pointers",
                n_buffers);
  }
  const size_t row_bytes = (size_t)layout->head_dim * (size_t)layout->elem_size;
  const size_t unit = row_bytes % 16 == 0 ? 16 : row_bytes % 4 == 0 ? 4 : 2;
  for (int32_t k = 0; k < n_buffers; k++) {
    if (buffers[k] == nullptr) {
      return fail(SD_INVALID_ARGUMENT, err, err_cap, "buffers[%d] is NULL", k);
    }
    if (((uintptr_t)buffers[k] % unit) != 0) {
      return fail(SD_INVALID_ARGUMENT, err, err_cap, "buffers[%d] must be %zu-byte aligned", k,
                  unit);
    }
  }
  const cudaStream_t st = static_cast<cudaStream_t>(stream);
  for (int32_t first = 0; first < n_buffers; first += SD_CUDA_COMPACT_MAX_BUFFERS) {
    CompactParams p{};
    p.n_buffers = std::min(SD_CUDA_COMPACT_MAX_BUFFERS, n_buffers - first);
    for (int k = 0; k < p.n_buffers; k++) p.buffers[k] = buffers[first + k];
    for (int j = 0; j < n; j++) p.slots[j] = slots[j];
    p.n = n;
    p.base = base;
    p.bh = layout->batch * layout->kv_num_heads;
    p.L = layout->max_len;
    p.row_units = (int)(row_bytes / unit);
    const long long threads = (long long)p.n_buffers * p.bh * p.row_units;
    const unsigned blocks = (unsigned)std::min(4096LL, (threads + 255) / 256);
    if (unit == 16) {
      kv_compact<uint4><<<blocks, 256, 0, st>>>(p);
    } else if (unit == 4) {
      kv_compact<uint32_t><<<blocks, 256, 0, st>>>(p);
    } else {
      kv_compact<uint16_t><<<blocks, 256, 0, st>>>(p);
    }
    const cudaError_t e = cudaGetLastError();
    if (e != cudaSuccess) return cuda_fail(e, "kv compaction launch", err, err_cap);
  }
  return SD_OK;
}

}  // extern "C"

/* Hook of native/src/custom_ops.h (declared here to keep this file free of ONNX Runtime
 * headers): the strong definition replaces the weak default (0) when CUDA is built in. */
extern "C" int32_t sd__cuda_device_count(void) { return sd_cuda_device_count(); }
