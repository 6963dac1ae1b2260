/* custom_ops_default.c: weak defaults of the hooks in custom_ops.h (a build without them). */
#include <stdio.h>

#include "custom_ops.h"

__attribute__((weak)) sd_status sd__register_tree_attention(const OrtApi *api,
                                                            OrtSessionOptions *so, char *err,
                                                            size_t err_cap) {
  (void)api;
  (void)so;
  if (err != NULL && err_cap > 0) {
    snprintf(err, err_cap, "TreeAttention custom op is not built into this library");
  }
  return SD_UNAVAILABLE;
}

__attribute__((weak)) int32_t sd__cuda_device_count(void) { return 0; }

__attribute__((weak)) int32_t sd__cuda_built(void) { return 0; }
