/*
 * tree_attention_ref.h: the CPU reference of specdec's tree attention and KV compaction.
 *
 * One operation, two implementations: this C11 reference (the oracle of the tests and the CPU
 * kernel of the `specdec.TreeAttention` custom op) and the CUDA kernels in native/cuda/, which
 * take the same shape and tensor descriptions (tree_attention_cuda.h).
 *
 * The operation (one layer, layouts as ONNX Runtime's GroupQueryAttention):
 *   For each batch entry b with P = past_lens[b] cached tokens and S new tokens:
 *   1. present[b, g, 0:P] = past[b, g, 0:P] (skipped when past and present are the same buffer);
 *   2. the new keys (rotated when rotary is on) and values are written in place at slots
 *      present[b, g, P:P+S];
 *   3. query i of head h (rotated) attends, in KV head g = h / (H / Hkv), every cached slot
 *      t < P and the new slot P + j iff new token i sees new token j, with softmax(scale * q . k)
 *      and fp32 accumulation; a query that sees nothing gets a zero output row.
 *   Who sees whom among the new tokens: tree_mask[i, j] != 0 (u8); or, as GroupQueryAttention's
 *   additive attention_bias [B|1, 1, S, T], bias[i, P + j] == 0 (visible) or <= -1e4 (masked;
 *   exp underflows to 0, so this equals the additive bias), every prefix entry 0 (the CPU
 *   reference rejects any other value; the CUDA kernel reads only the new-token entries and
 *   treats > -1e4 as visible); or, with neither, causal (j <= i).
 *   Query, key and value are separate tensors, or one packed tensor [B, S, (H + 2 Hkv) * D]
 *   (GroupQueryAttention's packed QKV: key and value NULL).
 *   Rotary: rotate-half (GroupQueryAttention do_rotary=1, rotary_interleaved=0) on the first
 *   rotary_dim elements of each head: for d < R = rotary_dim / 2,
 *     x'[d]     = x[d] * cos[pos, d] - x[d + R] * sin[pos, d]
 *     x'[d + R] = x[d + R] * cos[pos, d] + x[d] * sin[pos, d]
 *   with pos = position_ids[b, i] (or P + i when position_ids is NULL).
 *
 * Storage is fp32 or fp16 (every tensor of one call the same, except the int64 position ids and
 * the u8 mask); arithmetic is fp32. The rotated query stays in fp32; the rotated key is rounded to
 * the storage type when it is written to the cache, and attention reads it back from the cache.
 *
 * Status codes are those of sd_status (specdec.h): SD_OK, SD_INVALID_ARGUMENT (message names the
 * parameter), SD_OUT_OF_MEMORY. Messages go to a caller-owned buffer `err` of `err_cap` bytes
 * (NUL-terminated, truncated to fit; may be NULL when err_cap is 0). Thread safety: the functions
 * keep no state; calls on disjoint output buffers may run at once.
 */
#ifndef SPECDEC_TREE_ATTENTION_REF_H
#define SPECDEC_TREE_ATTENTION_REF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Largest number of new tokens (tree nodes) of one call. */
#define SD_TA_MAX_SEQ 64
/* Largest head size. */
#define SD_TA_MAX_HEAD_DIM 256

/* Storage type of the float tensors of one call. */
typedef enum sd_ta_dtype { SD_TA_F32 = 0, SD_TA_F16 = 1 } sd_ta_dtype;

/* Sizes and attributes of one tree-attention call. */
typedef struct sd_ta_shape {
  int32_t batch;             /* B >= 1 */
  int32_t seq_len;           /* S, new tokens, 1..SD_TA_MAX_SEQ */
  int32_t num_heads;         /* H, query heads, a multiple of kv_num_heads */
  int32_t kv_num_heads;      /* Hkv >= 1 */
  int32_t head_dim;          /* D, even, 2..SD_TA_MAX_HEAD_DIM */
  int32_t max_len;           /* slots per (batch, kv head) in the past and present buffers */
  int32_t rotary_dim;        /* 0: no rotary; else even, <= D; caches are [max_pos, rotary_dim/2] */
  int32_t max_pos;           /* rows of the cos/sin caches (ignored without rotary) */
  int32_t dtype;             /* sd_ta_dtype of query, key, value, caches, cos/sin, output */
  float scale;               /* softmax scale; 0 means 1 / sqrt(D) */
  int64_t mask_batch_stride; /* 0: one [S, S] mask for every batch entry; S * S: a [B, S, S] mask */
  int32_t qkv_packed;        /* 1: query is [B, S, (H + 2 Hkv) * D] holding q, k, v (key, value NULL) */
  int32_t past_max_len;      /* slots per (batch, kv head) of the past buffers; 0: same as max_len */
  int32_t bias_len;          /* T, the last dimension of attention_bias (>= P + S) */
  int64_t bias_batch_stride; /* 0: one [S, T] bias for every batch entry; S * T: [B, 1, S, T] */
} sd_ta_shape;

/* attention_bias entries at or below this are masked; entries must be 0 or at most this. */
#define SD_TA_BIAS_MASKED (-1.0e4f)

/* The tensors of one call (host memory for the reference, device memory for CUDA). */
typedef struct sd_ta_tensors {
  const void *query;           /* [B, S, H * D], or [B, S, (H + 2 Hkv) * D] when qkv_packed */
  const void *key;             /* [B, S, Hkv * D] keys of the new tokens; NULL when qkv_packed */
  const void *value;           /* [B, S, Hkv * D] values of the new tokens; NULL when qkv_packed */
  const void *past_key;        /* [B, Hkv, past_max_len, D]; may equal present_key; NULL if all P = 0 */
  const void *past_value;      /* [B, Hkv, past_max_len, D]; may equal present_value */
  void *present_key;           /* [B, Hkv, max_len, D] out: past keys + new keys at [P, P + S) */
  void *present_value;         /* [B, Hkv, max_len, D] out */
  const void *cos_cache;       /* [max_pos, rotary_dim / 2]; NULL without rotary */
  const void *sin_cache;       /* [max_pos, rotary_dim / 2]; NULL without rotary */
  const int64_t *position_ids; /* [B, S]; NULL: positions P + i */
  const uint8_t *tree_mask;    /* [S, S] or [B, S, S]: mask[i * S + j] != 0 when i sees j */
  const void *attention_bias;  /* [B|1, 1, S, bias_len], storage dtype; NULL (both NULL: causal) */
  void *output;                /* [B, S, H * D] out */
} sd_ta_tensors;

/* Layout of the KV buffers that a compaction moves (every buffer [B, Hkv, max_len, D]). */
typedef struct sd_kv_layout {
  int32_t batch;        /* B */
  int32_t kv_num_heads; /* Hkv */
  int32_t max_len;      /* slots per (batch, kv head) */
  int32_t head_dim;     /* D */
  int32_t elem_size;    /* bytes per element: 2 or 4 */
} sd_kv_layout;

/* Element size in bytes of an sd_ta_dtype (4 or 2), 0 when unknown. */
int32_t sd_ta_dtype_size(int32_t dtype);

/* IEEE 754 binary16 <-> binary32 (round to nearest even; NaN stays NaN, overflow gives inf). */
uint16_t sd_f32_to_f16(float value);
float sd_f16_to_f32(uint16_t bits);

/*
 * Checks a shape and the per-batch past lengths (`past_lens` [B], host memory, may be NULL to
 * check the shape alone): sizes in range, H a multiple of Hkv, P + S <= max_len, P <= past
 * buffer length, P + S <= bias_len when bias_len is set.
 */
int sd_ta_check_shape(const sd_ta_shape *shape, const int32_t *past_lens, char *err,
                      size_t err_cap);

/*
 * Checks the tensor pointers of a call against its (already checked) shape without reading any
 * tensor: required ones set, key/value NULL exactly when qkv_packed, tree_mask and
 * attention_bias not both set, past and present the same memory only when of the same length.
 */
int sd_ta_check_tensors(const sd_ta_shape *shape, const int32_t *past_lens,
                        const sd_ta_tensors *tensors, char *err, size_t err_cap);

/*
 * Everything a CPU forward checks before writing anything: the shape, the tensor pointers,
 * every position id (0 <= pos < max_pos) and the attention bias (a mask). `past_lens` [B].
 */
int sd_ta_check_forward(const sd_ta_shape *shape, const int32_t *past_lens,
                        const sd_ta_tensors *tensors, char *err, size_t err_cap);

/*
 * Runs tree attention on the CPU, plainly (the oracle of the other kernels). `past_lens` [B]
 * host memory. Checks as sd_ta_check_forward before writing anything.
 */
int sd_ta_ref_forward(const sd_ta_shape *shape, const int32_t *past_lens,
                      const sd_ta_tensors *tensors, char *err, size_t err_cap);

/* Internal, shared by the reference and the fast kernel (not part of the shim's API). */
float sd__ta_load(const void *base, size_t index, int32_t dtype);             /* element as f32 */
void sd__ta_store(void *base, size_t index, int32_t dtype, float value);      /* f32 stored */
int64_t sd__ta_position(const sd_ta_tensors *t, const sd_ta_shape *s, int32_t b, int32_t i,
                        int32_t past_len);                                     /* rotary position */
void sd__ta_rotate(float *x, const sd_ta_shape *s, const sd_ta_tensors *t, int64_t pos);
int sd__ta_sees(const sd_ta_shape *s, const sd_ta_tensors *t, int32_t b, int32_t i, int32_t j,
                int32_t past_len); /* whether new token i of entry b attends new token j */
/* Copies past -> present for slots [0, P) when the buffers differ, and writes the new tokens'
   keys (rotated) and values at slots [P, P + S), for every batch entry. */
void sd__ta_write_present(const sd_ta_shape *s, const int32_t *past_lens,
                          const sd_ta_tensors *t);

/* Runs fn(usr, i) for i in [0, total), possibly on several threads; ctx is the runner's. */
typedef void (*sd_ta_parallel_for)(void *ctx, void (*fn)(void *usr, size_t i), size_t total,
                                   void *usr);

/*
 * Runs tree attention on the CPU, fast: vectorized dot products and work items (batch entry,
 * query head, new token) spread by `parallel_for` (NULL: one thread). The result of a query
 * depends only on the keys and values it sees, in slot order, never on where masked slots lie:
 * a tree node gives bit for bit what the same token gives in a chain, whatever its siblings
 * (the softmax sum and the value sum run over visible slots in increasing order; each dot
 * product has one fixed summation order). Agrees with sd_ta_ref_forward to rounding. Checks
 * as sd_ta_check_forward before writing anything.
 */
int sd_ta_cpu_forward(const sd_ta_shape *shape, const int32_t *past_lens,
                      const sd_ta_tensors *tensors, sd_ta_parallel_for parallel_for,
                      void *parallel_ctx, char *err, size_t err_cap);

/*
 * Checks a compaction: n in 1..SD_TA_MAX_SEQ, slots strictly increasing, slots[0] >= base,
 * slots[j] >= base + j (implied), slots[n - 1] < max_len.
 */
int sd_kv_check_compact(const sd_kv_layout *layout, int32_t base, const int32_t *slots, int32_t n,
                        char *err, size_t err_cap);

/*
 * KV compaction on the CPU: in each of the n_buffers buffers, for every (batch, kv head), moves
 * slot slots[j] to slot base + j for j = 0..n-1 in ascending order (in place, safe because
 * slots[j] >= base + j and slots are increasing). Slots outside the moved ones are untouched.
 */
int sd_kv_ref_compact(void *const *buffers, int32_t n_buffers, const sd_kv_layout *layout,
                      int32_t base, const int32_t *slots, int32_t n, char *err, size_t err_cap);

#ifdef __cplusplus
}
#endif

#endif /* SPECDEC_TREE_ATTENTION_REF_H */
