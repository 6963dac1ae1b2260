/*
 * packed_linear.h: y = x W^T + b over f32 weights packed in column panels, the kernel of the
 * custom op `specdec.PackedLinear` (packed_linear_op.c). Internal to libspecdec (and its tests).
 *
 * Packing: W [N, K] (out, in) is stored as panels of SD_PL_PANEL output columns,
 *   wp[p][k][j] = W[p * SD_PL_PANEL + j][k]      wp: [ceil(N / SD_PL_PANEL), K, SD_PL_PANEL] f32
 * with zeros past column N. A panel is one contiguous stream, read once for up to
 * SD_PL_CHUNK rows, so a forward of a few rows (verification of a draft, a tree) costs little
 * more memory traffic than one row.
 *
 * Exactness: every output element is the sum over k = 0..K-1 in increasing order (one fused
 * multiply-add per k where the CPU has FMA), then + b. That order does not depend on the number
 * of rows, on the row's position or on the threads, so a row of a g-row forward equals the same
 * row of a one-row forward bit for bit (batch invariance).
 */
#ifndef SPECDEC_PACKED_LINEAR_H
#define SPECDEC_PACKED_LINEAR_H

#include <stddef.h>
#include <stdint.h>

#include "onnxruntime_c_api.h"
#include "tree_attention_ref.h" /* sd_ta_parallel_for */

/* Output columns per panel (two 16-lane vectors). */
#define SD_PL_PANEL 32
/* At most this many rows share one pass over a panel. */
#define SD_PL_CHUNK 8

/*
 * The kernels' CPU variant: 4 (x86-64-v4, AVX-512), 3 (x86-64-v3, AVX2 and FMA), else 0 (portable),
 * at most the digit in SPECDEC_CPU_LEVEL when that is set (for tests of every variant). Read once
 * and cached; sd_pl_refresh_cpu_level reads the CPU and SPECDEC_CPU_LEVEL again (thread-safe).
 */
int sd_pl_cpu_level(void);
int sd_pl_refresh_cpu_level(void);

/* Number of panels of N output columns. */
static inline int64_t sd_pl_panels(int64_t n) { return (n + SD_PL_PANEL - 1) / SD_PL_PANEL; }

/*
 * y[r, c] = sum_k x[r, k] * W[c, k] (+ bias[c]) for r < rows, c < n.
 * x: [rows, k] f32 row-major; wp: packed as above, sd_pl_panels(n) * k * SD_PL_PANEL floats;
 * bias: [n] or NULL; y: [rows, n]. Work items (panel, block of rows) are spread by
 * `parallel_for` (NULL: this thread). Returns SD_OK, or SD_INVALID_ARGUMENT with a message in
 * err (rows < 0, k < 1, n < 1, a NULL pointer where data is needed).
 *
 * glu = 1 (a gated MLP's gate and up projections in one pass, SwiGLU): wp holds
 * 2 * sd_pl_panels(n) panels alternating gate panel p, up panel p (sd_pl_pack_glu); bias is
 * [2n] (the gate's, then the up projection's) or NULL; y[r, c] = silu(gate[r, c]) * up[r, c],
 * silu(a) = a / (1 + exp(-a)) (exp to about 2e-7 relative, simd16.h). Each sum is the one
 * above, so the batch invariance holds.
 */
int sd_pl_forward(const float *x, int64_t rows, int64_t k, const float *wp, int64_t n, int glu,
                  const float *bias, float *y, sd_ta_parallel_for parallel_for, void *parallel_ctx,
                  char *err, size_t err_cap);

/*
 * Packs W into wp (sd_pl_panels(n) * k * SD_PL_PANEL floats). `w_in_out` = 0: W is [n, k]
 * (out, in); 1: W is stored [k, n] (in, out). For tests and tools; the library packs in
 * TypeScript when it builds the graph.
 */
void sd_pl_pack(const float *w, int64_t n, int64_t k, int w_in_out, float *wp);

/*
 * Packs a gated MLP's gate and up weights, both [n, k] (out, in), for glu = 1: 2 *
 * sd_pl_panels(n) * k * SD_PL_PANEL floats, gate panel p then up panel p. For tests and tools.
 */
void sd_pl_pack_glu(const float *gate, const float *up, int64_t n, int64_t k, float *wp);

/*
 * Block-quantized weights (`specdec.PackedLinearQ`): symmetric blocks of SD_PL_QBLOCK inputs
 * per output column, value = (code - zero point) * scale, in the same column panels:
 *   codes  [panels, kblocks * SD_PL_QBLOCK, row_bytes] u8, row_bytes = 32 * bits / 8:
 *          8-bit: byte j = column j as a signed int8 (zero point 0, i.e. the unsigned code - 128);
 *          4-bit: byte j = column j in the low nibble, column j + 16 in the high one (value
 *          nibble - 8); inputs past k hold value 0
 *   scales [panels, kblocks, 32] f32 (0 past column n)
 */
#define SD_PL_QBLOCK 32

/* Blocks of SD_PL_QBLOCK inputs covering k. */
static inline int64_t sd_plq_blocks(int64_t k) { return (k + SD_PL_QBLOCK - 1) / SD_PL_QBLOCK; }

/* Code bytes per input row of a panel. */
static inline int64_t sd_plq_row_bytes(int bits) { return SD_PL_PANEL * bits / 8; }

/*
 * y[r, c] = sum_k x[r, k] * (value[c, k] * scale[c, k / 32]) (+ bias[c]), k in increasing order
 * (each weight dequantized to f32 first, then one multiply-add per k), the same for every row
 * count. Shapes as above; bits 4 or 8. Returns SD_OK or SD_INVALID_ARGUMENT (message in err).
 * glu = 1: as sd_pl_forward's, codes and scales hold 2 * sd_plq panels alternating gate, up.
 */
int sd_plq_forward(const float *x, int64_t rows, int64_t k, const uint8_t *codes,
                   const float *scales, int bits, int64_t n, int glu, const float *bias, float *y,
                   sd_ta_parallel_for parallel_for, void *parallel_ctx, char *err, size_t err_cap);

/*
 * The argument checks of sd_plq_forward and sd_plq_forward_a8: SD_INVALID_ARGUMENT with a message
 * in err, or SD_OK, with *nothing = 1 when there are no rows to compute.
 */
int sd__plq_check_args(const float *x, int64_t rows, int64_t k, const uint8_t *codes,
                       const float *scales, int bits, int64_t n, const float *y, char *err,
                       size_t err_cap, int *nothing);

/*
 * As sd_plq_forward, with each row of x quantized to int8 per block of SD_PL_QBLOCK inputs
 * (scale max|x| / 127, nearest even) and the products summed exactly in int32 per block:
 * y[r, c] = sum_b fma((float)(sum_k u[c, k] xq[r, k] - zero * sum_k xq[r, k]), scale_w[c, b] *
 * scale_x[r, b], .) in increasing b, u the unsigned code (4-bit: nibble, zero 8; 8-bit: byte + 128,
 * zero 128). AVX-512 VNNI where the CPU has it (and SPECDEC_CPU_LEVEL allows 4), else portable C:
 * the same bits either way, the same for every row count. packed_linear_a8.c.
 */
int sd_plq_forward_a8(const float *x, int64_t rows, int64_t k, const uint8_t *codes,
                      const float *scales, int bits, int64_t n, int glu, const float *bias,
                      float *y, sd_ta_parallel_for parallel_for, void *parallel_ctx, char *err,
                      size_t err_cap);

/* The op `PackedLinear` for the CPU execution provider (static storage, never NULL). */
const OrtCustomOp *sd__packed_linear_op(void);

/* The op `PackedLinearQ` for the CPU execution provider (static storage, never NULL). */
const OrtCustomOp *sd__packed_linear_q_op(void);

#endif /* SPECDEC_PACKED_LINEAR_H */
