/*
 * tree_attention.cu: CUDA kernels of specdec's tree attention and KV compaction (the C ABI of
 * tree_attention_cuda.h; the device code itself is in _tree_attention_kernels.cuh).
 *
 * Same operation as the CPU reference (native/src/tree_attention_ref.c); the index arithmetic
 * below uses the same names: b batch, i new token, h query head, g = h / G kv head, P past
 * length, slot t in [0, P + S), d element of a head.
 *
 * One forward is four steps on one stream:
 *   1. past -> present copy of slots [0, P) (only when the buffers differ): cudaMemcpy2DAsync;
 *   2. append_kv: new keys (rotated) and values written at slots [P, P + S);
 *   3. attention_split (flash-decoding): grid (query tile, split, b * Hkv + g). A block owns
 *      one KV head of one batch entry and a contiguous range of slots; it streams that range
 *      once in tiles of KT rows through shared memory and applies it to all its query rows:
 *      every (new token i, query head of group g) pair, R = S * G rows, so each KV row is read
 *      once per KV head (per query tile of QT rows when R > QT). Online softmax keeps a running
 *      max m and sum l per row; the block writes its unnormalized partial output and (m, l);
 *   4. attention_combine: per output row, merges the splits' partials (log-sum-exp rescale).
 * The number of splits is chosen so that B * Hkv * splits * tiles fills the GPU several times;
 * the query tile so that the kernel fits the device's shared memory per block.
 */
#include <cuda_runtime.h>

#include <algorithm>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specdec.h"
#include "_tree_attention_kernels.cuh"
#include "tree_attention_cuda.h"

namespace {

using namespace sd_kernels;

int fail(int status, char *err, size_t err_cap, const char *fmt, ...) {
  if (err != nullptr && err_cap > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_cap, fmt, ap);
    va_end(ap);
  }
  return status;
}

/* Maps a CUDA error to an sd_status and clears it from the runtime's last error, so that a
 * failed call (e.g. an allocation) does not surface again in the next call's cudaGetLastError(). */
int cuda_fail(cudaError_t e, const char *what, char *err, size_t err_cap) {
  (void)cudaGetLastError();
  const int status = (e == cudaErrorNoDevice || e == cudaErrorInsufficientDriver ||
                      e == cudaErrorInitializationError || e == cudaErrorSystemDriverMismatch ||
                      e == cudaErrorCompatNotSupportedOnDevice)
                         ? SD_UNAVAILABLE
                     : e == cudaErrorMemoryAllocation ? SD_OUT_OF_MEMORY
                                                      : SD_STATE;
  return fail(status, err, err_cap, "CUDA error in %s: %s (%s)", what, cudaGetErrorString(e),
              cudaGetErrorName(e));
}

/* SPECDEC_CUDA_NO_TENSOR_CORES set (to anything): fp16 uses the CUDA-core kernel too. */
bool tensor_cores_allowed() { return getenv("SPECDEC_CUDA_NO_TENSOR_CORES") == nullptr; }

/*
 * SPECDEC_CUDA_QUERY_TILE=16 or 32: the largest query tile (rows per block) the plan may use;
 * unset or anything else: 64. A tuning knob for the GPU check (the tensor-core kernel with 64-row
 * tiles fits one block per SM, with 16-row tiles three on H100/H200).
 */
int max_query_tile() {
  const char *v = getenv("SPECDEC_CUDA_QUERY_TILE");
  if (v != nullptr && strcmp(v, "16") == 0) return 16;
  if (v != nullptr && strcmp(v, "32") == 0) return 32;
  return 64;
}

/*
 * The launch plan on the current device: its SM count sizes the split, its opt-in shared memory
 * per block (static + dynamic) bounds the query tile (make_plan). The workspace query and the
 * call use this same function, so their plans agree.
 */
int plan_on_current_device(const sd_ta_shape *s, const int32_t *past_lens, Plan *plan, char *err,
                           size_t err_cap) {
  int dev = 0, sms = 0, smem = 0;
  cudaError_t e = cudaGetDevice(&dev);
  if (e == cudaSuccess) e = cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  if (e == cudaSuccess) {
    e = cudaDeviceGetAttribute(&smem, cudaDevAttrMaxSharedMemoryPerBlockOptin, dev);
  }
  if (e != cudaSuccess) return cuda_fail(e, "cudaDeviceGetAttribute", err, err_cap);
  if (smem <= 0) smem = 48 * 1024; /* the limit every device has without opting in */
  *plan = make_plan(s, past_lens, sms, tensor_cores_allowed(), (size_t)smem, max_query_tile());
  const size_t need = plan_smem_total(*plan, s->head_dim);
  if (need > (size_t)smem) {
    return fail(SD_UNAVAILABLE, err, err_cap,
                "head_dim %d needs %zu bytes of shared memory per block on CUDA; device %d "
                "allows %d",
                s->head_dim, need, dev, smem);
  }
  return SD_OK;
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
  /* gridDim.z of the split kernel is B * Hkv (gridDim.y and .z are at most 65535) */
  if ((long long)s->batch * s->kv_num_heads > 65535) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap,
                "batch * kv_num_heads must be <= 65535 on CUDA, got %lld",
                (long long)s->batch * s->kv_num_heads);
  }
  return SD_OK;
}

cudaError_t launch_all(const TaParams &p, const Plan &plan, const sd_ta_shape *s,
                       cudaStream_t stream) {
  const int D = s->head_dim;
  const bool f16 = s->dtype == SD_TA_F16;
  if (f16) {
    append_kv<__half><<<dim3((unsigned)s->seq_len, (unsigned)s->batch), 128, 0, stream>>>(p, D);
  } else {
    append_kv<float><<<dim3((unsigned)s->seq_len, (unsigned)s->batch), 128, 0, stream>>>(p, D);
  }
  cudaError_t e = cudaGetLastError();
  if (e != cudaSuccess) return e;
  int threads = 0;
  void (*split)(TaParams) = f16 ? pick_split_kernel<__half>(plan, D, &threads)
                                : pick_split_kernel<float>(plan, D, &threads);
  if (split == nullptr) return cudaErrorInvalidValue;
  e = cudaFuncSetAttribute(split, cudaFuncAttributeMaxDynamicSharedMemorySize,
                           (int)plan.smem_bytes);
  if (e != cudaSuccess) return e;
  /* (query tile, split, b * Hkv + g): splits <= MAX_SPLITS and B * Hkv <= 65535 (checked) */
  const dim3 grid((unsigned)plan.qtiles, (unsigned)plan.splits,
                  (unsigned)(s->batch * s->kv_num_heads));
  split<<<grid, (unsigned)threads, plan.smem_bytes, stream>>>(p);
  e = cudaGetLastError();
  if (e != cudaSuccess) return e;
  const unsigned rows = (unsigned)(s->batch * s->seq_len * s->num_heads);
  const unsigned combine_threads = (unsigned)std::min(D, 256);
  if (f16) {
    attention_combine<__half><<<rows, combine_threads, 0, stream>>>(p, D);
  } else {
    attention_combine<float><<<rows, combine_threads, 0, stream>>>(p, D);
  }
  return cudaGetLastError();
}

bool aligned(const void *ptr, size_t n) { return ((uintptr_t)ptr % n) == 0; }

/*
 * The caches are read with 16-byte vectors (rows are D * esize bytes, a multiple of 16 for every
 * supported head size); every other tensor is read element by element and needs its element's
 * alignment (a misaligned access is a sticky device error that ends the CUDA context).
 */
int check_alignment(const sd_ta_tensors *t, size_t esize, char *err, size_t err_cap) {
  if (!aligned(t->present_key, 16) || !aligned(t->present_value, 16)) {
    return fail(SD_INVALID_ARGUMENT, err, err_cap,
                "present_key and present_value must be 16-byte aligned");
  }
  const struct {
    const void *ptr;
    size_t align;
    const char *name;
  } tensors[] = {{t->query, esize, "query"},         {t->key, esize, "key"},
                 {t->value, esize, "value"},         {t->past_key, esize, "past_key"},
                 {t->past_value, esize, "past_value"}, {t->cos_cache, esize, "cos_cache"},
                 {t->sin_cache, esize, "sin_cache"}, {t->attention_bias, esize, "attention_bias"},
                 {t->output, esize, "output"},       {t->position_ids, 8, "position_ids"}};
  for (const auto &x : tensors) {
    if (x.ptr != nullptr && !aligned(x.ptr, x.align)) {
      return fail(SD_INVALID_ARGUMENT, err, err_cap, "%s must be %zu-byte aligned", x.name,
                  x.align);
    }
  }
  return SD_OK;
}

/*
 * A stream may come from another CUDA runtime instance (ONNX Runtime's CUDA provider links its
 * own, with its own notion of the current device): make this runtime's current device the
 * stream's, so the plan and the launches match it. NULL (the legacy stream) keeps the device.
 */
int use_stream_device(cudaStream_t st, char *err, size_t err_cap) {
  if (st == nullptr) return SD_OK;
  int dev = 0;
  cudaError_t e = cudaStreamGetDevice(st, &dev);
  if (e == cudaSuccess) e = cudaSetDevice(dev);
  if (e != cudaSuccess) return cuda_fail(e, "cudaStreamGetDevice/cudaSetDevice", err, err_cap);
  return SD_OK;
}

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
  Plan plan{};
  status = plan_on_current_device(shape, past_lens, &plan, err, err_cap);
  if (status != SD_OK) return status;
  *bytes = plan.workspace_bytes;
  return SD_OK;
}

int sd_cuda_tree_attention(const sd_ta_shape *shape, const int32_t *past_lens,
                           const sd_ta_tensors *tensors, void *workspace, size_t workspace_bytes,
                           void *stream, char *err, size_t err_cap) {
  int status = check_cuda_shape(shape, past_lens, err, err_cap);
  if (status != SD_OK) return status;
  const sd_ta_shape *s = shape;
  const sd_ta_tensors *t = tensors;
  status = sd_ta_check_tensors(s, past_lens, t, err, err_cap);
  if (status != SD_OK) return status;
  status = check_alignment(t, (size_t)sd_ta_dtype_size(s->dtype), err, err_cap);
  if (status != SD_OK) return status;
  const cudaStream_t st = static_cast<cudaStream_t>(stream);
  status = use_stream_device(st, err, err_cap);
  if (status != SD_OK) return status;
  Plan plan{};
  status = plan_on_current_device(s, past_lens, &plan, err, err_cap);
  if (status != SD_OK) return status;

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
  const size_t dst_pitch = (size_t)s->max_len * row_bytes;
  const size_t src_pitch = (size_t)(s->past_max_len > 0 ? s->past_max_len : s->max_len) * row_bytes;
  for (int b = 0; b < s->batch && e == cudaSuccess; b++) {
    const size_t width = (size_t)past_lens[b] * row_bytes; /* rows [0, P) of each (b, g) */
    const size_t dst_off = (size_t)b * s->kv_num_heads * dst_pitch;
    const size_t src_off = (size_t)b * s->kv_num_heads * src_pitch;
    if (width == 0) continue;
    if (t->past_key != t->present_key) {
      e = cudaMemcpy2DAsync(static_cast<char *>(t->present_key) + dst_off, dst_pitch,
                            static_cast<const char *>(t->past_key) + src_off, src_pitch, width,
                            (size_t)s->kv_num_heads, cudaMemcpyDeviceToDevice, st);
    }
    if (e == cudaSuccess && t->past_value != t->present_value) {
      e = cudaMemcpy2DAsync(static_cast<char *>(t->present_value) + dst_off, dst_pitch,
                            static_cast<const char *>(t->past_value) + src_off, src_pitch, width,
                            (size_t)s->kv_num_heads, cudaMemcpyDeviceToDevice, st);
    }
  }
  if (e == cudaSuccess) {
    const TaParams p = make_params(s, past_lens, t, plan, ws);
    e = launch_all(p, plan, s, st);
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
  status = use_stream_device(st, err, err_cap);
  if (status != SD_OK) return status;
  for (int32_t first = 0; first < n_buffers; first += SD_CUDA_COMPACT_MAX_BUFFERS) {
    size_t unit_of_params = 0;
    const CompactParams p = make_compact_params(
        buffers, first, std::min(SD_CUDA_COMPACT_MAX_BUFFERS, n_buffers - first), layout, base,
        slots, n, &unit_of_params);
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
extern "C" int32_t sd__cuda_built(void) { return 1; }
