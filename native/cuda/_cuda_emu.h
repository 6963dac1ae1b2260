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
#include <limits>
#include <vector>

#include "tree_attention_ref.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __shared__ static
#define SD_DYNAMIC_SHARED(T, name) T *name = static_cast<T *>(sd_emu::dynamic_shared())

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
float shfl_xor(float v, int lane_mask);

/* Runs fn() on every thread of every block of the grid; blocks one at a time. */
void launch(dim3 grid, dim3 block, size_t dynamic_smem, const std::function<void()> &fn);

}  // namespace sd_emu

inline void __syncthreads() { sd_emu::sync_block(); }
inline float __shfl_xor_sync(unsigned mask, float v, int lane_mask) {
  (void)mask;
  return sd_emu::shfl_xor(v, lane_mask);
}

#endif /* SPECDEC_CUDA_EMU_H */
