/*
 * tree_attention_harness_mock.c: a host stand-in for the CUDA runtime calls and the sd_cuda_*
 * functions that tree_attention_harness.c uses, so that the harness's own logic (buffers, the
 * GroupQueryAttention form, in place vs copy, the environment switches of each pass, the
 * comparisons, the CUDA-graph timing path, the report) runs on a machine without a GPU.
 * Device memory is host memory; tree attention and compaction are the CPU reference, so every
 * case must compare exactly. The kernels themselves are tested by tree_attention_emu_test.
 * With MOCK_NOOP set, tree attention only checks its arguments (for a dry run of --bench).
 * Test-only code, not part of any library.
 */
#define _POSIX_C_SOURCE 200112L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cuda_runtime_api.h>

#include "specdec.h"
#include "tree_attention_cuda.h"
#include "tree_attention_ref.h"

static double now_ms(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int g_capturing = 0;

cudaError_t cudaMalloc(void **p, size_t n) {
  *p = NULL;
  return posix_memalign(p, 256, n > 0 ? n : 1) == 0 ? cudaSuccess : cudaErrorMemoryAllocation;
}
cudaError_t cudaFree(void *p) {
  free(p);
  return cudaSuccess;
}
cudaError_t cudaMemcpy(void *d, const void *s, size_t n, enum cudaMemcpyKind k) {
  (void)k;
  memcpy(d, s, n);
  return cudaSuccess;
}
cudaError_t cudaMemset(void *d, int v, size_t n) {
  memset(d, v, n);
  return cudaSuccess;
}
cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
const char *cudaGetErrorString(cudaError_t e) {
  (void)e;
  return "mock CUDA error";
}
cudaError_t cudaGetDeviceCount(int *n) {
  *n = 1;
  return cudaSuccess;
}
cudaError_t cudaGetLastError(void) { return cudaSuccess; }
cudaError_t cudaStreamCreate(cudaStream_t *s) {
  *s = (cudaStream_t)malloc(16);
  return cudaSuccess;
}
cudaError_t cudaStreamDestroy(cudaStream_t s) {
  free(s);
  return cudaSuccess;
}
cudaError_t cudaEventCreate(cudaEvent_t *e) {
  *e = (cudaEvent_t)malloc(sizeof(double));
  return cudaSuccess;
}
cudaError_t cudaEventDestroy(cudaEvent_t e) {
  free(e);
  return cudaSuccess;
}
cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s) {
  (void)s;
  *(double *)(void *)e = now_ms();
  return cudaSuccess;
}
cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  (void)e;
  return cudaSuccess;
}
cudaError_t cudaEventElapsedTime(float *ms, cudaEvent_t a, cudaEvent_t b) {
  *ms = (float)(*(double *)(void *)b - *(double *)(void *)a);
  return cudaSuccess;
}
cudaError_t cudaStreamBeginCapture(cudaStream_t s, enum cudaStreamCaptureMode m) {
  (void)s;
  (void)m;
  g_capturing = 1;
  return cudaSuccess;
}
cudaError_t cudaStreamEndCapture(cudaStream_t s, cudaGraph_t *g) {
  (void)s;
  g_capturing = 0;
  *g = (cudaGraph_t)malloc(16);
  return cudaSuccess;
}
cudaError_t cudaGraphInstantiate(cudaGraphExec_t *x, cudaGraph_t g, unsigned long long flags) {
  (void)g;
  (void)flags;
  *x = (cudaGraphExec_t)malloc(16);
  return cudaSuccess;
}
cudaError_t cudaGraphLaunch(cudaGraphExec_t x, cudaStream_t s) {
  (void)x;
  (void)s;
  return g_capturing ? cudaErrorStreamCaptureUnsupported : cudaSuccess;
}
cudaError_t cudaGraphExecDestroy(cudaGraphExec_t x) {
  free(x);
  return cudaSuccess;
}
cudaError_t cudaGraphDestroy(cudaGraph_t g) {
  free(g);
  return cudaSuccess;
}

int sd_cuda_device_count(void) { return 1; }

int sd_cuda_device_info_get(int device, sd_cuda_device_info *out, char *err, size_t err_cap) {
  (void)device;
  (void)err;
  (void)err_cap;
  memset(out, 0, sizeof *out);
  snprintf(out->name, sizeof out->name, "host mock");
  out->major = 9;
  out->sm_count = 132;
  out->peak_bandwidth = 4.8e12;
  out->total_memory = 141e9;
  return SD_OK;
}

/* The CUDA-only checks of tree_attention.cu (check_cuda_shape), which the harness tests. */
static int mock_check(const sd_ta_shape *s, const int32_t *past, char *err, size_t cap) {
  const int status = sd_ta_check_shape(s, past, err, cap);
  if (status != SD_OK) return status;
  if (s->batch > SD_CUDA_MAX_BATCH) {
    snprintf(err, cap, "batch must be <= %d on CUDA, got %d", SD_CUDA_MAX_BATCH, s->batch);
    return SD_INVALID_ARGUMENT;
  }
  const int d = s->head_dim;
  if (!(d == 32 || d == 64 || d == 80 || d == 96 || d == 128 || d == 256)) {
    snprintf(err, cap, "head_dim must be 32, 64, 80, 96, 128 or 256 on CUDA, got %d", d);
    return SD_INVALID_ARGUMENT;
  }
  return SD_OK;
}

int sd_cuda_tree_attention_workspace(const sd_ta_shape *s, const int32_t *past, size_t *bytes,
                                     char *err, size_t cap) {
  *bytes = 16;
  return mock_check(s, past, err, cap);
}

int sd_cuda_tree_attention(const sd_ta_shape *s, const int32_t *past, const sd_ta_tensors *t,
                           void *ws, size_t ws_bytes, void *stream, char *err, size_t cap) {
  (void)ws;
  (void)ws_bytes;
  (void)stream;
  int status = mock_check(s, past, err, cap);
  if (status != SD_OK) return status;
  if (getenv("MOCK_NOOP") != NULL) return sd_ta_check_tensors(s, past, t, err, cap);
  return sd_ta_ref_forward(s, past, t, err, cap);
}

int sd_cuda_kv_compact(void *const *buffers, int32_t n_buffers, const sd_kv_layout *layout,
                       int32_t base, const int32_t *slots, int32_t n, void *stream, char *err,
                       size_t cap) {
  (void)stream;
  return sd_kv_ref_compact(buffers, n_buffers, layout, base, slots, n, err, cap);
}
