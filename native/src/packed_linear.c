/*
 * packed_linear.c: the CPU kernel of `specdec.PackedLinear` (see packed_linear.h).
 *
 * A work item is one panel of SD_PL_PANEL output columns for a block of rows. It walks the
 * panel's contiguous [K, 32] stream once per chunk of up to SD_PL_CHUNK rows, keeping each
 * row's 32 sums in two 16-lane registers: a one-row forward streams the weights at memory
 * speed, and eight rows cost about as much memory traffic as one. ONNX Runtime's MatMul/Gemm
 * runs one row as a matrix-vector product and several rows as a packed GEMM; measured on the
 * bench target (2 cores, AVX-512), verification forwards of 4-8 rows cost far less here.
 */
#include "packed_linear.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "simd16.h"
#include "specdec.h"

/* 16 f32 lanes (AVX-512 in the x86-64-v4 clone; narrower registers elsewhere). Vectors never
   cross a function boundary: every helper is a macro or always inlined. */
typedef sd_v16 v16;

/* Rows per work item: a prefill of many rows splits into blocks, so threads share it. */
#define ROW_BLOCK 64
/* How far ahead in a panel's weight stream to prefetch, in rows of SD_PL_PANEL floats. */
#define PREFETCH_ROWS 48

typedef struct pl_job {
  const float *x, *wp, *bias;
  float *y;
  int64_t rows, k, n, panels, row_blocks; /* panels: output panels (a gate/up pair with glu) */
  int chunk; /* rows per pass: SD_PL_CHUNK with 32 vector registers, 3 with 16 */
  int glu;   /* 1: stored panels alternate gate, up; y = silu(gate) * up */
} pl_job;

/*
 * Sums of `mc` rows (a compile-time constant where inlined) over one panel:
 * acc[i][j] = sum_k x[i][k] * w[k][j], k in increasing order.
 */
static inline __attribute__((always_inline)) void panel_rows(const float *x, int64_t ldx,
                                                             int64_t k, const float *w,
                                                             float *out, int mc) {
  v16 a0[SD_PL_CHUNK], a1[SD_PL_CHUNK];
  for (int i = 0; i < mc; i++) {
    a0[i] = (v16){0};
    a1[i] = (v16){0};
  }
  for (int64_t kk = 0; kk < k; kk++) {
    /* The stream 48 rows (6 KiB) ahead, past the panel's end into the next one: measured
       12-22% faster than the hardware prefetcher alone (2 cores, 1-8 rows). A prefetch is a
       hint and never faults, wherever it points. */
    __builtin_prefetch(w + (kk + PREFETCH_ROWS) * SD_PL_PANEL, 0, 0);
    __builtin_prefetch(w + (kk + PREFETCH_ROWS) * SD_PL_PANEL + 16, 0, 0);
    v16 w0, w1;
    memcpy(&w0, w + kk * SD_PL_PANEL, sizeof w0);
    memcpy(&w1, w + kk * SD_PL_PANEL + 16, sizeof w1);
    for (int i = 0; i < mc; i++) {
      const float xv = x[i * ldx + kk];
      a0[i] += xv * w0; /* contracted to one FMA per lane (-ffp-contract=fast, see CMake) */
      a1[i] += xv * w1;
    }
  }
  for (int i = 0; i < mc; i++) {
    memcpy(out + i * SD_PL_PANEL, &a0[i], sizeof a0[i]);
    memcpy(out + i * SD_PL_PANEL + 16, &a1[i], sizeof a1[i]);
  }
}

/* The sums of mc rows over one panel, mc a run-time value dispatched to constant cases. */
static inline __attribute__((always_inline)) void panel_chunk(const float *x, int64_t k,
                                                              const float *w, float *out, int mc) {
  switch (mc) { /* constant row counts: the sums stay in registers */
    case 8: panel_rows(x, k, k, w, out, 8); break;
    case 7: panel_rows(x, k, k, w, out, 7); break;
    case 6: panel_rows(x, k, k, w, out, 6); break;
    case 5: panel_rows(x, k, k, w, out, 5); break;
    case 4: panel_rows(x, k, k, w, out, 4); break;
    case 3: panel_rows(x, k, k, w, out, 3); break;
    case 2: panel_rows(x, k, k, w, out, 2); break;
    default: panel_rows(x, k, k, w, out, 1); break;
  }
}

/* One work item; the body of every CPU variant below. */
static inline __attribute__((always_inline)) void item_body(void *usr, size_t item) {
  const pl_job *jb = usr;
  const int64_t p = (int64_t)item % jb->panels, rb = (int64_t)item / jb->panels;
  const int64_t r0 = rb * ROW_BLOCK;
  const int64_t r1 = r0 + ROW_BLOCK < jb->rows ? r0 + ROW_BLOCK : jb->rows;
  const int64_t c0 = p * SD_PL_PANEL;
  const int64_t nc = jb->n - c0 < SD_PL_PANEL ? jb->n - c0 : SD_PL_PANEL;
  const int64_t stream = jb->k * SD_PL_PANEL; /* floats per stored panel [K, 32] */
  const float *w = jb->wp + (jb->glu ? 2 * p : p) * stream; /* [K, 32] (the gate's with glu) */
  float acc[SD_PL_CHUNK * SD_PL_PANEL];                       /* [chunk rows, 32] */
  float up[SD_PL_CHUNK * SD_PL_PANEL];                        /* [chunk rows, 32], glu only */
  for (int64_t r = r0; r < r1; r += jb->chunk) {
    const int mc = (int)(r1 - r < jb->chunk ? r1 - r : jb->chunk);
    const float *x = jb->x + r * jb->k;
    panel_chunk(x, jb->k, w, acc, mc);
    if (jb->glu) panel_chunk(x, jb->k, w + stream, up, mc);
    for (int i = 0; i < mc; i++) {
      float *dst = jb->y + (r + i) * jb->n + c0;
      const float *src = acc + i * SD_PL_PANEL;
      if (jb->glu) {
        sd_pl_glu_store(src, up + i * SD_PL_PANEL, jb->bias, jb->n, c0, nc, dst);
      } else if (jb->bias != NULL) {
        for (int64_t j = 0; j < nc; j++) dst[j] = src[j] + jb->bias[c0 + j];
      } else {
        memcpy(dst, src, (size_t)nc * sizeof *dst);
      }
    }
  }
}

/*
 * The variants, chosen at run time in sd_pl_forward together with the rows per pass that fit
 * their register file (32 vector registers with AVX-512, 16 with AVX2 or SSE).
 */
#if defined(__x86_64__)
__attribute__((target("arch=x86-64-v4"))) static void item_v4(void *usr, size_t item) {
  item_body(usr, item);
}
__attribute__((target("arch=x86-64-v3"))) static void item_v3(void *usr, size_t item) {
  item_body(usr, item);
}
#endif
static void item_base(void *usr, size_t item) { item_body(usr, item); }

/* The level the kernels dispatch on: -1 until first read, then cached (a per-call getenv and CPU
   query would sit on the path of every projection). */
static _Atomic int g_level = -1;

int sd_pl_refresh_cpu_level(void) {
  int level = 0;
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("x86-64-v4")) {
    level = 4;
  } else if (__builtin_cpu_supports("x86-64-v3")) {
    level = 3;
  }
#endif
  /* SPECDEC_CPU_LEVEL caps it (tests run every variant the CPU has; 0: the portable one). */
  const char *cap = getenv("SPECDEC_CPU_LEVEL");
  if (cap != NULL && cap[0] >= '0' && cap[0] <= '9' && cap[0] - '0' < level) level = cap[0] - '0';
  atomic_store_explicit(&g_level, level, memory_order_relaxed);
  return level;
}

int sd_pl_cpu_level(void) {
  const int level = atomic_load_explicit(&g_level, memory_order_relaxed);
  return level >= 0 ? level : sd_pl_refresh_cpu_level();
}

static int fail(char *err, size_t cap, const char *msg) {
  if (err != NULL && cap > 0) snprintf(err, cap, "%s", msg);
  return SD_INVALID_ARGUMENT;
}

int sd_pl_forward(const float *x, int64_t rows, int64_t k, const float *wp, int64_t n, int glu,
                  const float *bias, float *y, sd_ta_parallel_for parallel_for, void *parallel_ctx,
                  char *err, size_t err_cap) {
  if (rows < 0 || k < 1 || n < 1) return fail(err, err_cap, "rows >= 0, k >= 1 and n >= 1 needed");
  if (rows == 0) return SD_OK;
  if (x == NULL || wp == NULL || y == NULL) return fail(err, err_cap, "x, wp and y must be given");
  pl_job jb;
  memset(&jb, 0, sizeof jb);
  jb.x = x;
  jb.wp = wp;
  jb.bias = bias;
  jb.y = y;
  jb.rows = rows;
  jb.k = k;
  jb.n = n;
  jb.glu = glu != 0;
  jb.panels = sd_pl_panels(n);
  jb.row_blocks = (rows + ROW_BLOCK - 1) / ROW_BLOCK;
  void (*run_item)(void *, size_t) = item_base;
  jb.chunk = 3; /* 16 vector registers: 3 rows x 2 + 2 weight vectors */
#if defined(__x86_64__)
  const int level = sd_pl_cpu_level();
  if (level >= 4) {
    run_item = item_v4;
    jb.chunk = SD_PL_CHUNK; /* 32 registers: 8 rows x 2 + 2 */
  } else if (level == 3) {
    run_item = item_v3;
  }
#endif
  const size_t total = (size_t)(jb.panels * jb.row_blocks);
  if (parallel_for != NULL && total > 1) {
    parallel_for(parallel_ctx, run_item, total, &jb);
  } else {
    for (size_t i = 0; i < total; i++) run_item(&jb, i);
  }
  return SD_OK;
}

void sd_pl_pack(const float *w, int64_t n, int64_t k, int w_in_out, float *wp) {
  const int64_t panels = sd_pl_panels(n);
  for (int64_t p = 0; p < panels; p++) {
    for (int64_t kk = 0; kk < k; kk++) {
      float *dst = wp + (p * k + kk) * SD_PL_PANEL;
      for (int64_t j = 0; j < SD_PL_PANEL; j++) {
        const int64_t c = p * SD_PL_PANEL + j;
        dst[j] = c >= n ? 0.0f : w_in_out ? w[kk * n + c] : w[c * k + kk];
      }
    }
  }
}

void sd_pl_pack_glu(const float *gate, const float *up, int64_t n, int64_t k, float *wp) {
  const int64_t panels = sd_pl_panels(n);
  for (int64_t p = 0; p < 2 * panels; p++) { /* stored panel p: gate (even) or up (odd) p / 2 */
    const float *w = p % 2 == 0 ? gate : up;
    for (int64_t kk = 0; kk < k; kk++) {
      float *dst = wp + (p * k + kk) * SD_PL_PANEL;
      for (int64_t j = 0; j < SD_PL_PANEL; j++) {
        const int64_t c = p / 2 * SD_PL_PANEL + j;
        dst[j] = c >= n ? 0.0f : w[c * k + kk];
      }
    }
  }
}
