/* kv_keep.c: sd_kv_keep, in-place compaction of accepted KV cache slots (see specdec.h). */
#include <stdint.h>
#include <string.h>

#include "_shim.h"
#include "specdec.h"

sd_status sd_kv_keep(const uint64_t *buffers, size_t n_buffers, int64_t rows, int64_t max_len,
                     int64_t row_elems, int32_t elem_size, const int32_t *slots, size_t n_slots,
                     int64_t base, char *err, size_t err_cap) {
  if (rows < 0 || max_len < 0 || row_elems < 0 || elem_size <= 0 || base < 0) {
    sd__set_err(err, err_cap,
                "rows, max_len, row_elems, base must be >= 0 and elem_size > 0, got rows %lld, "
                "max_len %lld, row_elems %lld, elem_size %d, base %lld",
                (long long)rows, (long long)max_len, (long long)row_elems, elem_size,
                (long long)base);
    return SD_INVALID_ARGUMENT;
  }
  if ((n_buffers > 0 && buffers == NULL) || (n_slots > 0 && slots == NULL)) {
    sd__set_err(err, err_cap, "buffers and slots must not be NULL when their counts are > 0");
    return SD_INVALID_ARGUMENT;
  }
  /* bytes of one slot of one row, and of a whole buffer, without overflow */
  uint64_t slot_bytes = (uint64_t)row_elems * (uint64_t)elem_size;
  if (row_elems != 0 && slot_bytes / (uint64_t)row_elems != (uint64_t)elem_size) {
    sd__set_err(err, err_cap, "row_elems * elem_size overflows");
    return SD_INVALID_ARGUMENT;
  }
  uint64_t row_bytes = slot_bytes * (uint64_t)max_len;
  uint64_t total = row_bytes * (uint64_t)rows;
  if ((max_len != 0 && row_bytes / (uint64_t)max_len != slot_bytes) ||
      (rows != 0 && total / (uint64_t)rows != row_bytes)) {
    sd__set_err(err, err_cap, "rows * max_len * row_elems * elem_size overflows");
    return SD_INVALID_ARGUMENT;
  }
  for (size_t j = 0; j < n_slots; j++) {
    int64_t slot = slots[j];
    if (slot < base + (int64_t)j) {
      sd__set_err(err, err_cap, "slots[%zu] = %lld must be >= base + %zu = %lld", j,
                  (long long)slot, j, (long long)(base + (int64_t)j));
      return SD_INVALID_ARGUMENT;
    }
    if (j > 0 && slot <= slots[j - 1]) {
      sd__set_err(err, err_cap, "slots must be strictly increasing: slots[%zu] = %lld after %d", j,
                  (long long)slot, slots[j - 1]);
      return SD_INVALID_ARGUMENT;
    }
    if (slot >= max_len) {
      sd__set_err(err, err_cap, "slots[%zu] = %lld must be < max_len %lld", j, (long long)slot,
                  (long long)max_len);
      return SD_INVALID_ARGUMENT;
    }
  }
  for (size_t b = 0; b < n_buffers; b++) {
    uint64_t ptr = buffers[2 * b];
    uint64_t len = buffers[2 * b + 1];
    if (len != total) {
      sd__set_err(err, err_cap, "buffer %zu: byte length expected %llu, got %llu", b,
                  (unsigned long long)total, (unsigned long long)len);
      return SD_INVALID_ARGUMENT;
    }
    if (ptr == 0 && total != 0) {
      sd__set_err(err, err_cap, "buffer %zu: pointer is NULL", b);
      return SD_INVALID_ARGUMENT;
    }
  }
  for (size_t b = 0; b < n_buffers; b++) {
    unsigned char *data = (unsigned char *)(uintptr_t)buffers[2 * b];
    for (int64_t r = 0; r < rows; r++) {
      unsigned char *row = data + (uint64_t)r * row_bytes;
      for (size_t j = 0; j < n_slots; j++) {
        uint64_t src = (uint64_t)slots[j];
        uint64_t dst = (uint64_t)base + j;
        if (src != dst) memmove(row + dst * slot_bytes, row + src * slot_bytes, slot_bytes);
      }
    }
  }
  return SD_OK;
}
