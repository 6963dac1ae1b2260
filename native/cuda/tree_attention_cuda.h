/*
 * tree_attention_cuda.h: plain C ABI of specdec's CUDA kernels (tree attention, KV compaction).
 *
 * The operation is the one of the CPU reference (native/src/tree_attention_ref.h): same shape
 * struct, same tensor struct, same results within floating-point rounding. Here every tensor
 * pointer in sd_ta_tensors is device memory; `past_lens` and `slots` are host memory (small
 * scalars stay on the host: ONNX Runtime hands them to the custom op on the CPU).
 *
 * Every function returns an sd_status (specdec.h): SD_OK; SD_INVALID_ARGUMENT (message names the
 * parameter); SD_UNAVAILABLE (no CUDA driver or device); SD_OUT_OF_MEMORY; SD_STATE (any other
 * CUDA error, with cudaGetErrorString's text). Messages go to `err` (err_cap bytes, caller-owned,
 * NUL-terminated, may be NULL when err_cap is 0). No function aborts or exits, with or without a
 * GPU. Launches are asynchronous on `stream` (a cudaStream_t; NULL is the legacy default stream);
 * errors of the kernels themselves surface at the next synchronization.
 *
 * Thread safety: no global state besides CUDA's own; calls on different streams may run at once.
 */
#ifndef SPECDEC_TREE_ATTENTION_CUDA_H
#define SPECDEC_TREE_ATTENTION_CUDA_H

#include <stddef.h>
#include <stdint.h>

#include "tree_attention_ref.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest batch of one tree-attention launch (past lengths travel in the kernel parameters). */
#define SD_CUDA_MAX_BATCH 64
/* Largest number of KV buffers one compaction launch moves (2 per layer: K and V). */
#define SD_CUDA_COMPACT_MAX_BUFFERS 256

/* What the harness and the library need to know about a device. */
typedef struct sd_cuda_device_info {
  char name[256];          /* e.g. "NVIDIA H200" */
  int32_t major, minor;    /* compute capability */
  int32_t sm_count;        /* multiprocessors */
  double peak_bandwidth;   /* bytes/s: 2 x memory clock x bus width / 8; 0 when unknown */
  double total_memory;     /* bytes */
} sd_cuda_device_info;

/* Number of CUDA devices; 0 when there is no driver, no device, or an error. Never fails. */
int sd_cuda_device_count(void);

/* Fills *out for device `device` (0-based). SD_UNAVAILABLE without a driver or device. */
int sd_cuda_device_info_get(int device, sd_cuda_device_info *out, char *err, size_t err_cap);

/*
 * Bytes of device workspace that sd_cuda_tree_attention needs for this shape and these past
 * lengths on the current device (split-K partial results; the plan depends on the device's SM
 * count and shared memory, and on SPECDEC_CUDA_NO_TENSOR_CORES / SPECDEC_CUDA_QUERY_TILE, read
 * at each call). 0 is never returned for a valid call.
 */
int sd_cuda_tree_attention_workspace(const sd_ta_shape *shape, const int32_t *past_lens,
                                     size_t *bytes, char *err, size_t err_cap);

/*
 * Tree attention on the current device, on `stream`. Checks the shape, past_lens (host, [B],
 * B <= SD_CUDA_MAX_BATCH, B * kv_num_heads <= 65535), the pointers, 16-byte alignment of
 * present_key and present_value and element alignment of every other tensor before launching.
 * head_dim must be one of 32, 64, 80, 96, 128, 256. SD_UNAVAILABLE when the device's shared
 * memory per block cannot hold even the smallest tile (head size 256 needs about 84 KB; every
 * sm_80 or newer GPU has at least 99 KB). `workspace` (device, workspace_bytes) must
 * hold at least what sd_cuda_tree_attention_workspace says; when it is NULL, the call allocates
 * and frees it in stream order (cudaMallocAsync / cudaFreeAsync).
 * Position ids outside [0, max_pos) are clamped on the device (they are device data and are not
 * checked); the CPU reference rejects them.
 */
int sd_cuda_tree_attention(const sd_ta_shape *shape, const int32_t *past_lens,
                           const sd_ta_tensors *tensors, void *workspace, size_t workspace_bytes,
                           void *stream, char *err, size_t err_cap);

/*
 * KV compaction of n_buffers device buffers (host array of device pointers, each
 * [B, Hkv, max_len, D]) in one launch per SD_CUDA_COMPACT_MAX_BUFFERS buffers: slot slots[j] moves
 * to base + j, as sd_kv_ref_compact. `slots` is host memory [n].
 */
int sd_cuda_kv_compact(void *const *buffers, int32_t n_buffers, const sd_kv_layout *layout,
                       int32_t base, const int32_t *slots, int32_t n, void *stream, char *err,
                       size_t err_cap);

#ifdef __cplusplus
}
#endif

#endif /* SPECDEC_TREE_ATTENTION_CUDA_H */
