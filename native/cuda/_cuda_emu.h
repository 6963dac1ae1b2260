/*
 * _cuda_emu.h: just enough of CUDA to execute the kernels of _tree_attention_kernels.cuh on the
 * host, for tree_attention_emu_test.cc. Each thread of a block is a host thread (pthreads), so
 * __syncthreads() is a real barrier and __shfl_xor_sync a real warp exchange; blocks run one
 * after another, so `__shared__` arrays can be function statics and dynamic shared memory one
 * buffer (filled with NaN bytes before each block, to expose reads of unwritten shared memory).
 *
 * This checks the kernels' index arithmetic, tiling, masking, online softmax, split-K combine
 * and synchronization structure on a machine without a GPU. It does not check what only a GPU
 * shows: timing, occupancy, shared-memory limits, real fp16 intrinsics (here they are the
 * reference's conversions) or __expf's precision. Test-only code, not part of any library.
 */
#ifndef SPECDEC_CUDA_EMU_H
#define SPECDEC_CUDA_EMU_H

#include <pthread.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <type_traits>
#include <limits>
#include <vector>

#include "tree_attention_ref.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define SD_DYNAMIC_SHARED(T, name) T *name = static_cast<T *>(sd_emu::dynamic_shared())
#define __align__(n)

struct dim3 {
  unsigned x, y, z;
  dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct sd_emu_uint3 {
  unsigned x, y, z;
};
struct uint4 {
  unsigned x, y, z, w;
};
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
struct __half {
  uint16_t bits;
};

inline float __half2float(__half h) { return sd_f16_to_f32(h.bits); }
inline __half __float2half_rn(float f) { return __half{sd_f32_to_f16(f)}; }
inline float __expf(float x) { return expf(x); }

extern thread_local sd_emu_uint3 threadIdx;
extern thread_local sd_emu_uint3 blockIdx;
extern sd_emu_uint3 blockDim;
extern sd_emu_uint3 gridDim;

namespace sd_emu {

void *dynamic_shared();
void sync_block();
void sync_warp();
float shfl_xor(float v, int lane_mask);

/* Runs fn() on every thread of every block of the grid; blocks one at a time. */
void launch(dim3 grid, dim3 block, size_t dynamic_smem, const std::function<void()> &fn);

}  // namespace sd_emu

inline void __syncthreads() { sd_emu::sync_block(); }
inline float __shfl_xor_sync(unsigned mask, float v, int lane_mask) {
  (void)mask;
  return sd_emu::shfl_xor(v, lane_mask);
}

/*
 * WMMA on the host: every lane of a warp holds the whole 16 x 16 tile (the real per-lane layout
 * is unspecified, and the kernels never touch fragment elements directly). Each collective call
 * is bracketed by warp barriers, as the hardware executes it warp-synchronously; stores are done
 * by lane 0 only.
 */
namespace nvcuda {
namespace wmma {

struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };

template <typename Use, int M, int N, int K, typename T, typename Layout = void>
struct fragment {
  float x[16][16]; /* logical [row][col] */
};

inline float emu_value(float v) { return v; }
inline float emu_value(__half v) { return __half2float(v); }

template <typename Use, typename T, typename Layout>
void load_matrix_sync(fragment<Use, 16, 16, 16, T, Layout> &f, const T *p, unsigned ldm) {
  sd_emu::sync_warp();
  const bool col = std::is_same<Layout, col_major>::value;
  for (int r = 0; r < 16; r++) {
    for (int c = 0; c < 16; c++) f.x[r][c] = emu_value(col ? p[c * ldm + r] : p[r * ldm + c]);
  }
  sd_emu::sync_warp();
}

inline void load_matrix_sync(fragment<accumulator, 16, 16, 16, float> &f, const float *p,
                             unsigned ldm, layout_t layout) {
  sd_emu::sync_warp();
  for (int r = 0; r < 16; r++) {
    for (int c = 0; c < 16; c++) {
      f.x[r][c] = layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r];
    }
  }
  sd_emu::sync_warp();
}

inline void store_matrix_sync(float *p, const fragment<accumulator, 16, 16, 16, float> &f,
                              unsigned ldm, layout_t layout) {
  sd_emu::sync_warp();
  if (threadIdx.x % 32 == 0) {
    for (int r = 0; r < 16; r++) {
      for (int c = 0; c < 16; c++) {
        (layout == mem_row_major ? p[r * ldm + c] : p[c * ldm + r]) = f.x[r][c];
      }
    }
  }
  sd_emu::sync_warp();
}

inline void fill_fragment(fragment<accumulator, 16, 16, 16, float> &f, float v) {
  for (int r = 0; r < 16; r++) {
    for (int c = 0; c < 16; c++) f.x[r][c] = v;
  }
}

template <typename A, typename B>
void mma_sync(fragment<accumulator, 16, 16, 16, float> &d, const A &a, const B &b,
              const fragment<accumulator, 16, 16, 16, float> &c) {
  sd_emu::sync_warp();
  float out[16][16];
  for (int r = 0; r < 16; r++) {
    for (int n = 0; n < 16; n++) {
      float acc = c.x[r][n];
      for (int k = 0; k < 16; k++) acc += a.x[r][k] * b.x[k][n]; /* fp16 products are exact */
      out[r][n] = acc;
    }
  }
  memcpy(d.x, out, sizeof out);
  sd_emu::sync_warp();
}

}  // namespace wmma
}  // namespace nvcuda

#endif /* SPECDEC_CUDA_EMU_H */
