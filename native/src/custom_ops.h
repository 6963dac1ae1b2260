/*
 * custom_ops.h: internal hooks between the core shim (specdec.c) and optional parts built
 * elsewhere (native/src/tree_attention_op.c, native/cuda/). Not part of the public API.
 *
 * custom_ops_default.c defines each hook as a weak symbol with the behaviour of a build that
 * lacks the feature. A strong definition in another object file of libspecdec (any
 * native/src/ file, or an OBJECT library linked into specdec) replaces it at link time. Do not put
 * the strong definition in a STATIC library: the linker would keep the weak default and never
 * pull the archive member.
 */
#ifndef SPECDEC_CUSTOM_OPS_H
#define SPECDEC_CUSTOM_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "onnxruntime_c_api.h"
#include "specdec.h"

/*
 * Adds the custom op domain "specdec" (ops TreeAttention and PackedLinear) to `so`. The OrtCustomOp and
 * OrtCustomOpDomain objects must outlive every session created from `so` (keep them static).
 * Returns SD_OK, or a status with a message written to err[0..err_cap).
 * Default (weak): SD_UNAVAILABLE, "TreeAttention custom op is not built into this library".
 */
sd_status sd__register_tree_attention(const OrtApi *api, OrtSessionOptions *so, char *err,
                                      size_t err_cap);

/* An OrtStatus with a printf-style message (at most 511 bytes). */
OrtStatus *sd__ort_status(const OrtApi *api, OrtErrorCode code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The context of sd__ort_parallel_for: the kernel's ONNX Runtime API and context. */
typedef struct sd__ort_parallel {
  const OrtApi *api;
  OrtKernelContext *ctx;
} sd__ort_parallel;

/* Runs fn(usr, i) for i in [0, total) over ONNX Runtime's intra-op threads (ctx: an
   sd__ort_parallel); on this thread when the pool is unavailable. */
void sd__ort_parallel_for(void *ctx, void (*fn)(void *usr, size_t i), size_t total, void *usr);

/* Number of usable CUDA devices. Default (weak): 0. Must not fail or abort without a GPU. */
int32_t sd__cuda_device_count(void);

/* 1 when the CUDA objects (native/cuda/) are linked in. Default (weak): 0. */
int32_t sd__cuda_built(void);

#endif /* SPECDEC_CUSTOM_OPS_H */
