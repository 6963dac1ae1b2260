/* _shim.h: helpers shared by the shim's own source files. Not part of the public API. */
#ifndef SPECDEC_SHIM_H
#define SPECDEC_SHIM_H

#include <stddef.h>

/* printf-style message into err[0..cap), NUL-terminated, truncated; no-op when err is NULL. */
void sd__set_err(char *err, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#endif /* SPECDEC_SHIM_H */
