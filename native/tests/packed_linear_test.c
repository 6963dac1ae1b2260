/*
 * packed_linear_test.c: the PackedLinear kernel (native/src/packed_linear.c) against a plain
 * double-precision reference, over widths that do and do not fill whole panels, one to many
 * rows (several row blocks), with and without bias, serial and through a parallel runner; and
 * its batch invariance: a row's output is bit for bit the same whatever the number of rows.
 * The same for PackedLinearQ (packed_linear_q.c) at 4 and 8 bits against the dequantized
 * weights, with inputs that do not fill whole blocks. Both also with glu = 1 (a gated MLP's gate
 * and up projections and silu(gate) * up in one pass) against silu(gate) * up in doubles.
 */
#define _POSIX_C_SOURCE 200112L /* setenv */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "packed_linear.h"
#include "specdec.h"

static int g_failures = 0;
static int g_checks = 0;

#define CHECK(cond, ...)                   \
  do {                                     \
    g_checks++;                            \
    if (!(cond)) {                         \
      g_failures++;                        \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__); \
      fprintf(stderr, __VA_ARGS__);        \
      fprintf(stderr, "\n");               \
    }                                      \
  } while (0)

static uint32_t g_seed = 12345;
static float frand(void) { /* uniform in [-1, 1) */
  g_seed = g_seed * 1664525u + 1013904223u;
  return (float)((g_seed >> 8) & 0xffffff) / 8388608.0f - 1.0f;
}

/* Runs items in reverse order: a runner that is not the serial loop. */
static void reverse_for(void *ctx, void (*fn)(void *usr, size_t i), size_t total, void *usr) {
  int *calls = ctx;
  (*calls)++;
  for (size_t i = total; i-- > 0;) fn(usr, i);
}

/* silu(g) * u in doubles: the glu reference. */
static double glu_ref(double g, double u) { return g / (1.0 + exp(-g)) * u; }

/* glu = 1: w holds the gate [n, k] then the up weights [n, k] (out, in), b [2n]. */
static void check_case(int64_t rows, int64_t k, int64_t n, int with_bias, int in_out, int glu) {
  const int64_t halves = glu ? 2 : 1;
  float *w = malloc(sizeof(float) * (size_t)(halves * n * k));
  float *wp = malloc(sizeof(float) * (size_t)(halves * sd_pl_panels(n) * k * SD_PL_PANEL));
  float *x = malloc(sizeof(float) * (size_t)(rows * k));
  float *b = malloc(sizeof(float) * (size_t)(halves * n));
  float *y = malloc(sizeof(float) * (size_t)(rows * n));
  float *y1 = malloc(sizeof(float) * (size_t)n);
  for (int64_t i = 0; i < halves * n * k; i++) w[i] = frand();
  for (int64_t i = 0; i < rows * k; i++) x[i] = frand();
  for (int64_t i = 0; i < halves * n; i++) b[i] = frand();
  if (glu) {
    sd_pl_pack_glu(w, w + n * k, n, k, wp);
    in_out = 0;
  } else {
    sd_pl_pack(w, n, k, in_out, wp);
  }
  int calls = 0;
  char err[128] = "";
  int st = sd_pl_forward(x, rows, k, wp, n, glu, with_bias ? b : NULL, y, reverse_for, &calls,
                         err, sizeof err);
  CHECK(st == SD_OK, "rows %lld k %lld n %lld: status %d (%s)", (long long)rows, (long long)k,
        (long long)n, st, err);
  double worst = 0.0;
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t c = 0; c < n; c++) {
      double sums[2];
      for (int64_t h = 0; h < halves; h++) {
        const float *wh = w + h * n * k;
        double ref = with_bias ? b[h * n + c] : 0.0;
        for (int64_t j = 0; j < k; j++) {
          ref += (double)x[r * k + j] * (double)(in_out ? wh[j * n + c] : wh[c * k + j]);
        }
        sums[h] = ref;
      }
      const double ref = glu ? glu_ref(sums[0], sums[1]) : sums[0];
      const double e = fabs(ref - y[r * n + c]) / (1.0 + fabs(ref));
      if (e > worst) worst = e;
    }
  }
  /* glu: the product of two sums carries both their rounding errors (tolerance 5x) */
  CHECK(worst < (glu ? 5e-5 : 1e-5), "rows %lld k %lld n %lld bias %d in_out %d glu %d: relative error %g",
        (long long)rows, (long long)k, (long long)n, with_bias, in_out, glu, worst);
  /* batch invariance: each row alone, serially, equals its row of the many-row forward */
  int same = 1;
  for (int64_t r = 0; r < rows; r++) {
    st = sd_pl_forward(x + r * k, 1, k, wp, n, glu, with_bias ? b : NULL, y1, NULL, NULL, err,
                       sizeof err);
    if (st != SD_OK || memcmp(y1, y + r * n, sizeof(float) * (size_t)n) != 0) same = 0;
  }
  CHECK(same, "rows %lld k %lld n %lld: a row alone differs from the same row among %lld",
        (long long)rows, (long long)k, (long long)n, (long long)rows);
  free(w);
  free(wp);
  free(x);
  free(b);
  free(y);
  free(y1);
}

/* Value of weight (column col of stored panel p, input j) in the packed quantized layout. */
static float q_value(const uint8_t *codes, const float *scales, int bits, int64_t k, int64_t p,
                     int64_t col, int64_t j) {
  const int64_t kb = sd_plq_blocks(k);
  const int64_t rb = sd_plq_row_bytes(bits);
  const uint8_t *row = codes + (p * kb * SD_PL_QBLOCK + j) * rb;
  int v;
  if (bits == 8) {
    v = (int8_t)row[col];
  } else {
    v = (col < 16 ? row[col] & 15 : row[col - 16] >> 4) - 8;
  }
  return (float)v * scales[(p * kb + j / SD_PL_QBLOCK) * SD_PL_PANEL + col];
}

/* The buffers of one quantized case: random codes (value 0 past k, as the packer writes them),
   scales, x [rows, k], b [halves * n], y [rows, n], y1 [n]. */
typedef struct q_case {
  int64_t halves, P, KB, RB;
  uint8_t *codes;
  float *scales, *x, *b, *y, *y1;
} q_case;

static q_case q_case_new(int64_t rows, int64_t k, int64_t n, int bits, int glu) {
  q_case c;
  c.halves = glu ? 2 : 1;
  c.P = c.halves * sd_pl_panels(n);
  c.KB = sd_plq_blocks(k);
  c.RB = sd_plq_row_bytes(bits);
  const size_t n_codes = (size_t)(c.P * c.KB * SD_PL_QBLOCK * c.RB);
  const size_t n_scales = (size_t)(c.P * c.KB * 32);
  c.codes = malloc(n_codes);
  c.scales = malloc(sizeof(float) * n_scales);
  c.x = malloc(sizeof(float) * (size_t)(rows * k));
  c.b = malloc(sizeof(float) * (size_t)(c.halves * n));
  c.y = malloc(sizeof(float) * (size_t)(rows * n));
  c.y1 = malloc(sizeof(float) * (size_t)n);
  for (size_t i = 0; i < n_codes; i++) c.codes[i] = (uint8_t)(frand() * 127.5f + 128.0f);
  for (size_t i = 0; i < n_scales; i++) c.scales[i] = 0.01f + 0.01f * (frand() + 1.0f);
  for (int64_t p = 0; p < c.P; p++) {
    for (int64_t j = k; j < c.KB * SD_PL_QBLOCK; j++) {
      memset(c.codes + (p * c.KB * SD_PL_QBLOCK + j) * c.RB, bits == 8 ? 0 : 0x88, (size_t)c.RB);
    }
  }
  for (int64_t i = 0; i < rows * k; i++) c.x[i] = frand();
  for (int64_t i = 0; i < c.halves * n; i++) c.b[i] = frand();
  return c;
}

static void q_case_free(q_case *c) {
  free(c->codes);
  free(c->scales);
  free(c->x);
  free(c->b);
  free(c->y);
  free(c->y1);
}

typedef int (*plq_forward_fn)(const float *, int64_t, int64_t, const uint8_t *, const float *, int,
                              int64_t, int, const float *, float *, sd_ta_parallel_for, void *,
                              char *, size_t);

/* Whether each row run alone (one thread) gives the bits it got among all rows (c->y). */
static int rows_alone_same(plq_forward_fn f, q_case *c, int64_t rows, int64_t k, int64_t n,
                           int bits, int glu, int with_bias) {
  char err[128] = "";
  int same = 1;
  for (int64_t r = 0; r < rows; r++) {
    const int st = f(c->x + r * k, 1, k, c->codes, c->scales, bits, n, glu,
                     with_bias ? c->b : NULL, c->y1, NULL, NULL, err, sizeof err);
    if (st != SD_OK || memcmp(c->y1, c->y + r * n, sizeof(float) * (size_t)n) != 0) same = 0;
  }
  return same;
}

/* glu = 1: stored panels alternate gate and up (2 sd_pl_panels(n)), b [2n]. */
static void check_case_q(int64_t rows, int64_t k, int64_t n, int bits, int with_bias, int glu) {
  q_case c = q_case_new(rows, k, n, bits, glu);
  const int64_t halves = c.halves;
  const uint8_t *codes = c.codes;
  const float *scales = c.scales, *x = c.x, *b = c.b, *y = c.y;
  char err[128] = "";
  int st = sd_plq_forward(x, rows, k, codes, scales, bits, n, glu, with_bias ? b : NULL, c.y,
                          reverse_for, &(int){0}, err, sizeof err);
  CHECK(st == SD_OK, "q%d rows %lld k %lld n %lld: status %d (%s)", bits, (long long)rows,
        (long long)k, (long long)n, st, err);
  double worst = 0.0;
  for (int64_t r = 0; r < rows; r++) {
    for (int64_t c = 0; c < n; c++) {
      double sums[2];
      for (int64_t h = 0; h < halves; h++) {
        const int64_t p = halves * (c / SD_PL_PANEL) + h, col = c % SD_PL_PANEL;
        double ref = with_bias ? b[h * n + c] : 0.0;
        for (int64_t j = 0; j < k; j++) {
          ref += (double)x[r * k + j] * q_value(codes, scales, bits, k, p, col, j);
        }
        sums[h] = ref;
      }
      const double ref = glu ? glu_ref(sums[0], sums[1]) : sums[0];
      const double e = fabs(ref - y[r * n + c]) / (1.0 + fabs(ref));
      if (e > worst) worst = e;
    }
  }
  CHECK(worst < (glu ? 5e-5 : 1e-5), "q%d rows %lld k %lld n %lld glu %d: relative error %g", bits,
        (long long)rows, (long long)k, (long long)n, glu, worst);
  CHECK(rows_alone_same(sd_plq_forward, &c, rows, k, n, bits, glu, with_bias),
        "q%d rows %lld k %lld n %lld: a row alone differs from the same row among %lld", bits,
        (long long)rows, (long long)k, (long long)n, (long long)rows);
  q_case_free(&c);
}

/*
 * int8 activations (sd_plq_forward_a8): the documented result bit for bit, computed here on its
 * own (row blocks quantized, exact integer sums, one fmaf per block), on every kernel variant;
 * with glu the gate and up sums so, and silu(gate) * up within the exp's error. Also near the
 * f32 product (the activations' rounding), and a row alone equal to the same row among others.
 */
static void check_case_a8(int64_t rows, int64_t k, int64_t n, int bits, int with_bias, int glu) {
  q_case c = q_case_new(rows, k, n, bits, glu);
  const int64_t halves = c.halves, KB = c.KB, RB = c.RB;
  const uint8_t *codes = c.codes;
  const float *scales = c.scales, *b = c.b, *y = c.y;
  float *x = c.x;
  int8_t *xq = malloc((size_t)(KB * SD_PL_QBLOCK));
  for (int64_t i = 0; i < rows * k; i += 7) x[i] *= 4.0f; /* blocks with outliers */
  if (rows * k > 40) x[40] = 0.0f;
  char err[128] = "";
  int st = sd_plq_forward_a8(x, rows, k, codes, scales, bits, n, glu, with_bias ? b : NULL, c.y,
                             reverse_for, &(int){0}, err, sizeof err);
  CHECK(st == SD_OK, "a8 q%d rows %lld k %lld n %lld: status %d (%s)", bits, (long long)rows,
        (long long)k, (long long)n, st, err);
  int exact = 1;
  double worst = 0.0;
  for (int64_t r = 0; r < rows; r++) {
    float sx[64];
    int32_t xs[64];
    for (int64_t bl = 0; bl < KB; bl++) {
      float amax = 0.0f;
      for (int64_t j = bl * 32; j < k && j < bl * 32 + 32; j++) {
        amax = fabsf(x[r * k + j]) > amax ? fabsf(x[r * k + j]) : amax;
      }
      const float inv = amax > 0.0f ? 127.0f / amax : 0.0f;
      xs[bl] = 0;
      for (int64_t j = bl * 32; j < bl * 32 + 32; j++) {
        const float t = j < k ? x[r * k + j] * inv : 0.0f;
        xq[j] = (int8_t)rintf(t < -127.0f ? -127.0f : t > 127.0f ? 127.0f : t);
        xs[bl] += xq[j];
      }
      sx[bl] = amax / 127.0f;
    }
    for (int64_t c = 0; c < n; c++) {
      float sums[2];
      double f32ref[2], mag = 0.0;
      for (int64_t h = 0; h < halves; h++) {
        const int64_t p = halves * (c / SD_PL_PANEL) + h, col = c % SD_PL_PANEL;
        float acc = 0.0f;
        double f = 0.0;
        for (int64_t bl = 0; bl < KB; bl++) {
          int32_t dot = 0;
          for (int64_t j = bl * 32; j < bl * 32 + 32; j++) {
            const uint8_t *row = codes + (p * KB * SD_PL_QBLOCK + j) * RB;
            const int32_t u = bits == 8 ? (int32_t)(row[col] ^ 0x80u)
                                        : (col < 16 ? row[col] & 15 : row[col - 16] >> 4);
            dot += u * xq[j];
          }
          const float sw = scales[(p * KB + bl) * SD_PL_PANEL + col];
          acc = fmaf((float)(dot - (bits == 8 ? 128 : 8) * xs[bl]), sw * sx[bl], acc);
        }
        for (int64_t j = 0; j < k; j++) {
          const double v = (double)x[r * k + j] * q_value(codes, scales, bits, k, p, col, j);
          f += v;
          mag += fabs(v);
        }
        sums[h] = with_bias ? acc + b[h * n + c] : acc;
        f32ref[h] = f + (with_bias ? b[h * n + c] : 0.0);
      }
      const float got = y[r * n + c];
      if (glu) {
        const double want = glu_ref(sums[0], sums[1]);
        if (!(fabs(want - got) <= 1e-5 * (1.0 + fabs(want)))) exact = 0;
      } else if (memcmp(&got, &sums[0], sizeof got) != 0) {
        exact = 0;
      }
      const double ref = glu ? glu_ref(f32ref[0], f32ref[1]) : f32ref[0];
      /* with glu an error in either sum is scaled by the other one's size */
      const double scale = glu ? 1.0 + fabs(f32ref[0]) + fabs(f32ref[1]) : 1.0;
      const double e = fabs(ref - got) / ((1.0 + mag) * scale);
      if (e > worst) worst = e;
    }
  }
  CHECK(exact, "a8 q%d rows %lld k %lld n %lld glu %d bias %d: not the documented result", bits,
        (long long)rows, (long long)k, (long long)n, glu, with_bias);
  CHECK(worst < 0.02, "a8 q%d rows %lld k %lld n %lld glu %d: error %g of the f32 product", bits,
        (long long)rows, (long long)k, (long long)n, glu, worst);
  CHECK(rows_alone_same(sd_plq_forward_a8, &c, rows, k, n, bits, glu, with_bias),
        "a8 q%d rows %lld k %lld n %lld: a row alone differs from the same row among %lld", bits,
        (long long)rows, (long long)k, (long long)n, (long long)rows);
  q_case_free(&c);
  free(xq);
}

/* Every kernel variant this CPU runs: AVX-512, AVX2, portable (SPECDEC_CPU_LEVEL caps it). */
static void check_all(void);

int main(void) {
  const char *levels[] = {"9", "3", "0"};
  for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
    setenv("SPECDEC_CPU_LEVEL", levels[l], 1);
    printf("packed_linear_test: kernel variant %d\n", sd_pl_refresh_cpu_level());
    check_all();
  }
  unsetenv("SPECDEC_CPU_LEVEL");
  printf("packed_linear_test: %d checks, %d failures\n", g_checks, g_failures);
  return g_failures == 0 ? 0 : 1;
}

static void check_all(void) {
  const int64_t row_counts[] = {1, 2, 3, 5, 7, 8, 9, 16, 17, 64, 65, 130};
  const int64_t widths[][2] = {{1, 1}, {7, 5}, {32, 16}, {33, 40}, {64, 96}, {100, 31}};
  for (size_t r = 0; r < sizeof row_counts / sizeof row_counts[0]; r++) {
    for (size_t s = 0; s < sizeof widths / sizeof widths[0]; s++) {
      check_case(row_counts[r], widths[s][0], widths[s][1], (int)((r + s) % 2), (int)(s % 2), 0);
      check_case(row_counts[r], widths[s][0], widths[s][1], (int)((r + s + 1) % 2), 0, 1);
    }
  }
  const int64_t q_rows[] = {1, 2, 3, 4, 5, 8, 9, 70};
  const int64_t q_widths[][2] = {{32, 32}, {40, 70}, {64, 150}, {96, 33}, {20, 200}};
  for (size_t r = 0; r < sizeof q_rows / sizeof q_rows[0]; r++) {
    for (size_t s = 0; s < sizeof q_widths / sizeof q_widths[0]; s++) {
      for (int bits = 4; bits <= 8; bits += 4) {
        check_case_q(q_rows[r], q_widths[s][0], q_widths[s][1], bits, (int)((r + s) % 2), 0);
        check_case_q(q_rows[r], q_widths[s][0], q_widths[s][1], bits, (int)((r + s + 1) % 2), 1);
      }
    }
  }
  const int64_t a8_rows[] = {1, 2, 3, 4, 5, 9, 70};
  const int64_t a8_widths[][2] = {{32, 32}, {40, 70}, {64, 150}, {192, 33}, {20, 200}};
  for (size_t r = 0; r < sizeof a8_rows / sizeof a8_rows[0]; r++) {
    for (size_t s = 0; s < sizeof a8_widths / sizeof a8_widths[0]; s++) {
      for (int bits = 4; bits <= 8; bits += 4) {
        check_case_a8(a8_rows[r], a8_widths[s][0], a8_widths[s][1], bits, (int)((r + s) % 2), 0);
        check_case_a8(a8_rows[r], a8_widths[s][0], a8_widths[s][1], bits, (int)((r + s + 1) % 2), 1);
      }
    }
  }
  /* glu far out in silu's tails (exp clamped, no inf or NaN): silu(a) ~ a or ~ -0 */
  {
    const float big[] = {200.0f, -200.0f, 90.0f, -90.0f, 0.0f, 1e-3f};
    float gate[6], up[6], wp[2 * SD_PL_PANEL], y[6], xin = 1.0f;
    for (int c = 0; c < 6; c++) {
      gate[c] = big[c];
      up[c] = 2.0f;
    }
    sd_pl_pack_glu(gate, up, 6, 1, wp);
    char e2[128] = "";
    CHECK(sd_pl_forward(&xin, 1, 1, wp, 6, 1, NULL, y, NULL, NULL, e2, sizeof e2) == SD_OK,
          "glu tails: %s", e2);
    for (int c = 0; c < 6; c++) {
      const double ref = glu_ref(big[c], 2.0);
      CHECK(fabs(ref - y[c]) <= 1e-6 * (1.0 + fabs(ref)), "glu tails: silu(%g) * 2 = %g, want %g",
            big[c], y[c], ref);
    }
  }
  /* bad arguments: a message, nothing written */
  char err[128] = "";
  float one = 1.0f, out = 42.0f;
  CHECK(sd_pl_forward(&one, 1, 0, &one, 1, 0, NULL, &out, NULL, NULL, err, sizeof err) ==
            SD_INVALID_ARGUMENT && err[0] != '\0' && out == 42.0f,
        "k = 0 must be refused");
  CHECK(sd_pl_forward(NULL, 1, 1, &one, 1, 0, NULL, &out, NULL, NULL, err, sizeof err) ==
            SD_INVALID_ARGUMENT,
        "x = NULL must be refused");
  CHECK(sd_pl_forward(&one, 0, 1, &one, 1, 0, NULL, &out, NULL, NULL, err, sizeof err) == SD_OK &&
            out == 42.0f,
        "zero rows: nothing to do");
  uint8_t code = 0;
  CHECK(sd_plq_forward(&one, 1, 1, &code, &one, 3, 1, 0, NULL, &out, NULL, NULL, err, sizeof err) ==
            SD_INVALID_ARGUMENT && out == 42.0f,
        "bits 3 must be refused");
  CHECK(sd_plq_forward_a8(&one, 1, 1, &code, &one, 3, 1, 0, NULL, &out, NULL, NULL, err,
                          sizeof err) == SD_INVALID_ARGUMENT && out == 42.0f,
        "a8: bits 3 must be refused");
  CHECK(sd_plq_forward_a8(NULL, 1, 1, &code, &one, 4, 1, 0, NULL, &out, NULL, NULL, err,
                          sizeof err) == SD_INVALID_ARGUMENT && out == 42.0f,
        "a8: x = NULL must be refused");
}
