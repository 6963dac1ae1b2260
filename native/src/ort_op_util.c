/* ort_op_util.c: helpers the custom ops share (custom_ops.h): statuses and ParallelFor. */
#include <stdarg.h>
#include <stdio.h>

#include "custom_ops.h"

OrtStatus *sd__ort_status(const OrtApi *api, OrtErrorCode code, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return api->CreateStatus(code, msg);
}

void sd__ort_parallel_for(void *ctx, void (*fn)(void *usr, size_t i), size_t total, void *usr) {
  sd__ort_parallel *pc = ctx;
  OrtStatus *st = pc->api->KernelContext_ParallelFor(pc->ctx, fn, total, 0, usr);
  if (st == NULL) return;
  pc->api->ReleaseStatus(st); /* no pool: run here (the call runs nothing when it fails) */
  for (size_t i = 0; i < total; i++) fn(usr, i);
}
