/*
 * test_shim.c: unit tests of the specdec C shim over the fixtures in tests/fixtures/onnx
 * (made by tests/fixtures/onnx/make_fixtures.py). Run by CTest under valgrind memcheck.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "specdec.h"

static int g_failures = 0;

#define CHECK(cond)                                                       \
  do {                                                                    \
    if (!(cond)) {                                                        \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
      g_failures++;                                                       \
    }                                                                     \
  } while (0)

#define CHECK_CONTAINS(text, part)                                                        \
  do {                                                                                    \
    if (strstr((text), (part)) == NULL) {                                                 \
      fprintf(stderr, "%s:%d: '%s' does not contain '%s'\n", __FILE__, __LINE__, (text), (part)); \
      g_failures++;                                                                       \
    }                                                                                     \
  } while (0)

static sd_tensor_desc desc(int32_t index, int32_t dtype, const void *data, size_t bytes,
                           int32_t rank, const int64_t *dims) {
  sd_tensor_desc d;
  memset(&d, 0, sizeof d);
  d.index = index;
  d.dtype = dtype;
  d.rank = rank;
  d.data = (uint64_t)(uintptr_t)data;
  d.byte_length = bytes;
  for (int32_t i = 0; i < rank; i++) d.dims[i] = dims[i];
  return d;
}

static int32_t find(const sd_session *s, int32_t kind, const char *name) {
  for (int32_t i = 0; i < sd_session_io_count(s, kind); i++) {
    if (strcmp(sd_session_io_name(s, kind, i), name) == 0) return i;
  }
  return -1;
}

static sd_session *open_fixture(sd_env *env, const char *file) {
  char path[1024];
  char err[512] = "";
  snprintf(path, sizeof path, "%s/%s", SPECDEC_FIXTURES_DIR, file);
  sd_session_options *opts = NULL;
  CHECK(sd_session_options_create(&opts) == SD_OK);
  CHECK(sd_session_options_set_intra_op_threads(opts, 1) == SD_OK);
  sd_session *s = NULL;
  sd_status st = sd_session_create_from_file(env, opts, path, err, sizeof err, &s);
  if (st != SD_OK) fprintf(stderr, "cannot open %s: %s\n", path, err);
  CHECK(st == SD_OK);
  sd_session_options_destroy(opts);
  return s;
}

static void test_library(void) {
  CHECK(strcmp(sd_version(), "0.1.0") == 0);
  CHECK(strncmp(sd_ort_version(), "1.29", 4) == 0);
  CHECK(sd_cuda_available() == 0 || sd_cuda_available() == 1);
  CHECK(sd_dtype_size(SD_DTYPE_FLOAT32) == 4);
  CHECK(sd_dtype_size(SD_DTYPE_INT64) == 8);
  CHECK(sd_dtype_size(8) == 0); /* strings are not supported */
  CHECK(sd_dtype_size(99) == 0);
  /* destroy functions accept NULL */
  sd_env_destroy(NULL);
  sd_session_destroy(NULL);
  sd_session_options_destroy(NULL);
  CHECK(strcmp(sd_session_last_error(NULL), "") == 0);
  CHECK(sd_session_io_count(NULL, SD_INPUT) == -1);
}

static void test_env_errors(void) {
  char err[256] = "";
  sd_env *env = NULL;
  CHECK(sd_env_create(9, -1, 0, 0, err, sizeof err, &env) == SD_INVALID_ARGUMENT);
  CHECK_CONTAINS(err, "log_level");
  CHECK(env == NULL);
  CHECK(sd_env_create(3, -1, 0, 0, err, sizeof err, NULL) == SD_INVALID_ARGUMENT);
  CHECK(sd_env_create(3, -1, 0, 2, NULL, 0, &env) == SD_INVALID_ARGUMENT);
}

static void test_metadata_and_run(sd_env *env) {
  sd_session *s = open_fixture(env, "basic.onnx");
  if (s == NULL) return;
  CHECK(sd_session_io_count(s, SD_INPUT) == 3);
  CHECK(sd_session_io_count(s, SD_OUTPUT) == 3);
  CHECK(sd_session_io_count(s, 7) == -1);
  int32_t x = find(s, SD_INPUT, "x"), bias = find(s, SD_INPUT, "bias"), ids = find(s, SD_INPUT, "ids");
  int32_t sum = find(s, SD_OUTPUT, "sum"), proj = find(s, SD_OUTPUT, "proj"), emb = find(s, SD_OUTPUT, "emb");
  CHECK(x >= 0 && bias >= 0 && ids >= 0 && sum >= 0 && proj >= 0 && emb >= 0);
  CHECK(sd_session_io_dtype(s, SD_INPUT, ids) == SD_DTYPE_INT64);
  CHECK(sd_session_io_rank(s, SD_INPUT, x) == 2);
  int64_t dims[4] = {0};
  CHECK(sd_session_io_dims(s, SD_INPUT, x, dims, 4) == SD_OK);
  CHECK(dims[0] == -1 && dims[1] == 4);
  CHECK(sd_session_io_dims(s, SD_INPUT, x, dims, 1) == SD_INVALID_ARGUMENT);
  CHECK(sd_session_io_dims(s, SD_INPUT, 17, dims, 4) == SD_INVALID_ARGUMENT);
  CHECK_CONTAINS(sd_session_last_error(s), "out of range");
  CHECK(sd_session_io_name(s, SD_INPUT, 3) == NULL);

  float xv[8] = {1, 2, 3, 4, 5, 6, 7, 8}; /* [2, 4] */
  float bv[4] = {0.5f, 1, 1.5f, 2};       /* [4] */
  int64_t iv[2] = {4, 1};                 /* [2] */
  float sv[8], pv[4], ev[4];              /* [2, 4], [2, 2], [2, 2] */
  int64_t d24[2] = {2, 4}, d4[1] = {4}, d2[1] = {2}, d22[2] = {2, 2};
  sd_tensor_desc ds[6] = {
      desc(x, SD_DTYPE_FLOAT32, xv, sizeof xv, 2, d24),
      desc(bias, SD_DTYPE_FLOAT32, bv, sizeof bv, 1, d4),
      desc(ids, SD_DTYPE_INT64, iv, sizeof iv, 1, d2),
      desc(sum, SD_DTYPE_FLOAT32, sv, sizeof sv, 2, d24),
      desc(proj, SD_DTYPE_FLOAT32, pv, sizeof pv, 2, d22),
      desc(emb, SD_DTYPE_FLOAT32, ev, sizeof ev, 2, d22),
  };
  sd_status st = sd_session_run(s, ds, sizeof ds, 3, 3);
  if (st != SD_OK) fprintf(stderr, "run: %s\n", sd_session_last_error(s));
  CHECK(st == SD_OK);
  for (int i = 0; i < 8; i++) CHECK(sv[i] == xv[i] + bv[i % 4]);
  /* W = [[1,0],[0,1],[1,1],[2,-1]]: row [1,2,3,4] -> [1+3+8, 2+3-4] */
  CHECK(pv[0] == 12 && pv[1] == 1 && pv[2] == 5 + 7 + 16 && pv[3] == 6 + 7 - 8);
  CHECK(ev[0] == 40 && ev[1] == 41 && ev[2] == 10 && ev[3] == 11);

  /* only one output requested */
  memset(pv, 0, sizeof pv);
  sd_tensor_desc one[4] = {ds[0], ds[1], ds[2], ds[4]};
  CHECK(sd_session_run(s, one, sizeof one, 3, 1) == SD_OK);
  CHECK(pv[0] == 12);

  /* bad inputs: each names the input and says expected vs got */
  sd_tensor_desc bad[6];
  memcpy(bad, ds, sizeof ds);
  bad[2].dtype = SD_DTYPE_INT32;
  bad[2].byte_length = 8;
  CHECK(sd_session_run(s, bad, sizeof bad, 3, 3) == SD_INVALID_ARGUMENT);
  CHECK_CONTAINS(sd_session_last_error(s), "input 'ids': dtype expected int64, got int32");
  memcpy(bad, ds, sizeof ds);
  bad[1].dims[0] = 3;
  CHECK(sd_session_run(s, bad, sizeof bad, 3, 3) == SD_INVALID_ARGUMENT);
  CHECK_CONTAINS(sd_session_last_error(s), "input 'bias': dim 0 expected 4, got 3");
  memcpy(bad, ds, sizeof ds);
  bad[0].rank = 3;
  CHECK(sd_session_run(s, bad, sizeof bad, 3, 3) == SD_INVALID_ARGUMENT);
  CHECK_CONTAINS(sd_session_last_error(s), "input 'x': rank expected 2, got 3");
  memcpy(bad, ds, sizeof ds);
  bad[0].byte_length = 28;
  CHECK(sd_session_run(s, bad, sizeof bad, 3, 3) == SD_INVALID_ARGUMENT);
  CHECK_CONTAINS(sd_session_last_error(s), "input 'x': byte length expected 32");
  memcpy(bad, ds, sizeof ds);
  bad[0].data = 0;
  CHECK(sd_session_run(s, bad, sizeof bad, 3, 3) == SD_INVALID_ARGUMENT);
  CHECK_CONTAINS(sd_session_last_error(s), "NULL");
  memcpy(bad, ds, sizeof ds);
  bad[1].index = 9;
  CHECK(sd_session_run(s, bad, sizeof bad, 3, 3) == SD_INVALID_ARGUMENT);
  CHECK_CONTAINS(sd_session_last_error(s), "index 9 out of range");
  memcpy(bad, ds, sizeof ds);
  bad[1] = bad[0];
  CHECK(sd_session_run(s, bad, sizeof bad, 3, 3) == SD_INVALID_ARGUMENT);
  CHECK_CONTAINS(sd_session_last_error(s), "input 'x' is given twice");
  CHECK(sd_session_run(s, ds, sizeof ds, 2, 3) == SD_INVALID_ARGUMENT); /* bytes mismatch */
  CHECK_CONTAINS(sd_session_last_error(s), "descriptor buffer expected");
  sd_tensor_desc two[5] = {ds[0], ds[1], ds[3], ds[4], ds[5]};
  CHECK(sd_session_run(s, two, sizeof two, 2, 3) == SD_INVALID_ARGUMENT);
  CHECK_CONTAINS(sd_session_last_error(s), "input 'ids' is missing");
  CHECK(sd_session_run(s, ds, 3 * sizeof(sd_tensor_desc), 3, 0) == SD_INVALID_ARGUMENT);
  CHECK_CONTAINS(sd_session_last_error(s), "no output requested");
  CHECK(sd_session_run(s, NULL, 0, 0, 0) == SD_INVALID_ARGUMENT);
  /* output dims that disagree with what the model produces: ONNX Runtime refuses */
  memcpy(bad, ds, sizeof ds);
  bad[3].dims[0] = 3;
  bad[3].byte_length = 48;
  float big[12];
  bad[3].data = (uint64_t)(uintptr_t)big;
  CHECK(sd_session_run(s, bad, sizeof bad, 3, 3) != SD_OK);
  CHECK_CONTAINS(sd_session_last_error(s), "sum");
  /* a good run still works after failures */
  CHECK(sd_session_run(s, ds, sizeof ds, 3, 3) == SD_OK);
  CHECK(strcmp(sd_session_last_error(s), "") == 0);

  /* bind: bias persistently, then run with the rest */
  CHECK(sd_session_bind(s, &ds[1], sizeof(sd_tensor_desc), 1, 0) == SD_OK);
  sd_tensor_desc rest[3] = {ds[0], ds[2], ds[3]};
  memset(sv, 0, sizeof sv);
  CHECK(sd_session_run(s, rest, sizeof rest, 2, 1) == SD_OK);
  CHECK(sv[3] == 6);
  CHECK(sd_session_run(s, ds, sizeof ds, 3, 3) == SD_INVALID_ARGUMENT);
  CHECK_CONTAINS(sd_session_last_error(s), "input 'bias' is bound and also given");
  CHECK(sd_session_bind(s, &bad[3], sizeof(sd_tensor_desc), 0, 1) == SD_OK); /* no model check of runtime dims */
  CHECK(sd_session_unbind(s, SD_OUTPUT, -1) == SD_OK);
  CHECK(sd_session_unbind(s, SD_INPUT, bias) == SD_OK);
  CHECK(sd_session_unbind(s, 3, 0) == SD_INVALID_ARGUMENT);
  CHECK(sd_session_run(s, rest, sizeof rest, 2, 1) == SD_INVALID_ARGUMENT);
  CHECK_CONTAINS(sd_session_last_error(s), "input 'bias' is missing");
  /* a bind that fails changes nothing */
  sd_tensor_desc bind_bad[2] = {ds[1], bad[0]};
  bind_bad[1].dtype = SD_DTYPE_FLOAT64;
  CHECK(sd_session_bind(s, bind_bad, sizeof bind_bad, 2, 0) == SD_INVALID_ARGUMENT);
  CHECK(sd_session_run(s, rest, sizeof rest, 2, 1) == SD_INVALID_ARGUMENT);
  sd_session_destroy(s);
}

static void test_bad_files(sd_env *env) {
  char err[1024] = "";
  sd_session *s = NULL;
  CHECK(sd_session_create_from_file(env, NULL, "/nonexistent/model.onnx", err, sizeof err, &s) ==
        SD_IO);
  CHECK_CONTAINS(err, "/nonexistent/model.onnx");
  CHECK(s == NULL);
  CHECK(sd_session_create_from_file(env, NULL, "/tmp", err, sizeof err, &s) == SD_IO);
  CHECK_CONTAINS(err, "/tmp");
  CHECK(sd_session_create_from_file(NULL, NULL, "/x", err, sizeof err, &s) == SD_INVALID_ARGUMENT);
  CHECK_CONTAINS(err, "env");
  const char garbage[] = "this is not an onnx model at all, just text";
  CHECK(sd_session_create_from_bytes(env, NULL, garbage, sizeof garbage, err, sizeof err, &s) ==
        SD_IO);
  CHECK_CONTAINS(err, "cannot load model");
  CHECK(s == NULL);
  CHECK(sd_session_create_from_bytes(env, NULL, garbage, 0, err, sizeof err, &s) == SD_IO);
  /* truncated model bytes */
  char path[1024];
  snprintf(path, sizeof path, "%s/basic.onnx", SPECDEC_FIXTURES_DIR);
  FILE *f = fopen(path, "rb");
  CHECK(f != NULL);
  if (f == NULL) return;
  unsigned char buf[4096];
  size_t n = fread(buf, 1, sizeof buf, f);
  fclose(f);
  CHECK(sd_session_create_from_bytes(env, NULL, buf, n / 2, err, sizeof err, &s) != SD_OK);
  CHECK(s == NULL);
  CHECK(sd_session_create_from_bytes(env, NULL, buf, n, err, sizeof err, &s) == SD_OK);
  sd_session_destroy(s);
  /* a small err buffer truncates without overflow */
  char tiny[8];
  CHECK(sd_session_create_from_file(env, NULL, "/nonexistent/model.onnx", tiny, sizeof tiny, &s) ==
        SD_IO);
  CHECK(strlen(tiny) == 7);
}

/* GroupQueryAttention with past_key/present_key bound to one buffer: keys land in place. */
static void test_kv_inplace(sd_env *env) {
  sd_session *s = open_fixture(env, "kv_inplace.onnx");
  if (s == NULL) return;
  enum { D = 16, MAXLEN = 8 };
  static float kbuf[MAXLEN * D], vbuf[MAXLEN * D]; /* [1, 1, 8, 16] */
  int64_t kv_dims[4] = {1, 1, MAXLEN, D};
  sd_tensor_desc bind[4] = {
      desc(find(s, SD_INPUT, "past_key"), SD_DTYPE_FLOAT32, kbuf, sizeof kbuf, 4, kv_dims),
      desc(find(s, SD_INPUT, "past_value"), SD_DTYPE_FLOAT32, vbuf, sizeof vbuf, 4, kv_dims),
      desc(find(s, SD_OUTPUT, "present_key"), SD_DTYPE_FLOAT32, kbuf, sizeof kbuf, 4, kv_dims),
      desc(find(s, SD_OUTPUT, "present_value"), SD_DTYPE_FLOAT32, vbuf, sizeof vbuf, 4, kv_dims),
  };
  CHECK(sd_session_bind(s, bind, sizeof bind, 2, 2) == SD_OK);
  int32_t past = 0;
  for (int step = 0; step < 3; step++) {
    int32_t S = step == 0 ? 2 : 1;
    float q[2 * 2 * D], k[2 * D], v[2 * D], out[2 * 2 * D]; /* [1,S,32], [1,S,16] x2, [1,S,32] */
    for (int i = 0; i < S * D; i++) {
      k[i] = (float)(step * 100 + i);
      v[i] = (float)(step + 1);
    }
    for (int i = 0; i < S * 2 * D; i++) q[i] = 0.01f;
    int32_t seqlens = past + S - 1, total = past + S;
    int64_t qd[3] = {1, S, 2 * D}, kd[3] = {1, S, D}, one[1] = {1};
    sd_tensor_desc run[6] = {
        desc(find(s, SD_INPUT, "query"), SD_DTYPE_FLOAT32, q, (size_t)S * 2 * D * 4, 3, qd),
        desc(find(s, SD_INPUT, "key"), SD_DTYPE_FLOAT32, k, (size_t)S * D * 4, 3, kd),
        desc(find(s, SD_INPUT, "value"), SD_DTYPE_FLOAT32, v, (size_t)S * D * 4, 3, kd),
        desc(find(s, SD_INPUT, "seqlens_k"), SD_DTYPE_INT32, &seqlens, 4, 1, one),
        desc(find(s, SD_INPUT, "total_sequence_length"), SD_DTYPE_INT32, &total, 4, 0, one),
        desc(find(s, SD_OUTPUT, "output"), SD_DTYPE_FLOAT32, out, (size_t)S * 2 * D * 4, 3, qd),
    };
    sd_status st = sd_session_run(s, run, sizeof run, 5, 1);
    if (st != SD_OK) fprintf(stderr, "kv run: %s\n", sd_session_last_error(s));
    CHECK(st == SD_OK);
    for (int j = 0; j < S; j++) {
      CHECK(kbuf[(past + j) * D] == (float)(step * 100 + j * D));
      CHECK(vbuf[(past + j) * D] == (float)(step + 1));
    }
    /* the values are constant per step: the output is a convex mix of 1..step+1 */
    CHECK(out[0] >= 1.0f - 1e-5f && out[0] <= (float)(step + 1) + 1e-5f);
    past += S;
  }
  CHECK(kbuf[4 * D] == 0.0f); /* slot 4 never written */

  /* sd_kv_keep over both buffers: keep slots 2 and 3 after base 1 */
  uint64_t bufs[4] = {(uint64_t)(uintptr_t)kbuf, sizeof kbuf, (uint64_t)(uintptr_t)vbuf,
                      sizeof vbuf};
  int32_t slots[2] = {2, 3};
  char err[256] = "";
  CHECK(sd_kv_keep(bufs, 2, 1, MAXLEN, D, 4, slots, 2, 1, err, sizeof err) == SD_OK);
  CHECK(kbuf[1 * D] == 100.0f && vbuf[1 * D] == 2.0f);
  CHECK(kbuf[2 * D] == 200.0f && vbuf[2 * D] == 3.0f);
  sd_session_destroy(s);
}

static void test_kv_keep(void) {
  /* [rows 2, max_len 5, row_elems 2] i32 */
  int32_t buf[20];
  for (int i = 0; i < 20; i++) buf[i] = i;
  uint64_t bufs[2] = {(uint64_t)(uintptr_t)buf, sizeof buf};
  int32_t slots[2] = {2, 4};
  char err[256] = "";
  CHECK(sd_kv_keep(bufs, 1, 2, 5, 2, 4, slots, 2, 1, err, sizeof err) == SD_OK);
  /* row 0: slot1 <- slot2 (4,5), slot2 <- slot4 (8,9); row 1 is offset by 10 */
  CHECK(buf[0] == 0 && buf[1] == 1 && buf[2] == 4 && buf[3] == 5 && buf[4] == 8 && buf[5] == 9);
  CHECK(buf[12] == 14 && buf[13] == 15 && buf[14] == 18 && buf[15] == 19);
  int32_t before[20];
  memcpy(before, buf, sizeof buf);
  int32_t dec[2] = {3, 2};
  CHECK(sd_kv_keep(bufs, 1, 2, 5, 2, 4, dec, 2, 0, err, sizeof err) == SD_INVALID_ARGUMENT);
  CHECK_CONTAINS(err, "strictly increasing");
  int32_t low[1] = {0};
  CHECK(sd_kv_keep(bufs, 1, 2, 5, 2, 4, low, 1, 1, err, sizeof err) == SD_INVALID_ARGUMENT);
  CHECK_CONTAINS(err, "must be >= base");
  int32_t high[1] = {5};
  CHECK(sd_kv_keep(bufs, 1, 2, 5, 2, 4, high, 1, 0, err, sizeof err) == SD_INVALID_ARGUMENT);
  CHECK_CONTAINS(err, "< max_len");
  uint64_t short_buf[2] = {(uint64_t)(uintptr_t)buf, 40};
  CHECK(sd_kv_keep(short_buf, 1, 2, 5, 2, 4, slots, 2, 1, err, sizeof err) == SD_INVALID_ARGUMENT);
  CHECK_CONTAINS(err, "byte length expected 80, got 40");
  CHECK(sd_kv_keep(NULL, 1, 2, 5, 2, 4, slots, 2, 1, err, sizeof err) == SD_INVALID_ARGUMENT);
  CHECK(sd_kv_keep(bufs, 1, 2, 5, 2, 0, slots, 2, 1, err, sizeof err) == SD_INVALID_ARGUMENT);
  CHECK(memcmp(before, buf, sizeof buf) == 0); /* failures move nothing */
  CHECK(sd_kv_keep(bufs, 1, 2, 5, 2, 4, NULL, 0, 1, err, sizeof err) == SD_OK);
}

/* A caller-owned initializer replaces an external-data one without a copy. */
static void test_external_initializer(sd_env *env) {
  char path[1024], err[1024] = "";
  snprintf(path, sizeof path, "%s/external_data.onnx", SPECDEC_FIXTURES_DIR);
  float x[4] = {0, 0, 0, 0}, y[4]; /* [1, 4] */
  int64_t d14[2] = {1, 4}, d4[1] = {4};
  sd_tensor_desc run[2] = {desc(0, SD_DTYPE_FLOAT32, x, sizeof x, 2, d14),
                           desc(0, SD_DTYPE_FLOAT32, y, sizeof y, 2, d14)};
  sd_session *s = NULL;
  /* from the file: W = [1, 2, 3, 4] read from external_data.bin */
  CHECK(sd_session_create_from_file(env, NULL, path, err, sizeof err, &s) == SD_OK);
  if (s != NULL) {
    CHECK(sd_session_run(s, run, sizeof run, 1, 1) == SD_OK);
    CHECK(y[0] == 1 && y[3] == 4);
    sd_session_destroy(s);
    s = NULL;
  }
  /* with our own W */
  float w[4] = {10, 20, 30, 40}; /* [4] */
  sd_tensor_desc wd = desc(0, SD_DTYPE_FLOAT32, w, sizeof w, 1, d4);
  sd_session_options *opts = NULL;
  CHECK(sd_session_options_create(&opts) == SD_OK);
  CHECK(sd_session_options_add_initializer(opts, "W", &wd) == SD_OK);
  CHECK(sd_session_options_add_initializer(opts, "W", &wd) == SD_INVALID_ARGUMENT);
  CHECK_CONTAINS(sd_session_options_last_error(opts), "already added");
  sd_tensor_desc wbad = wd;
  wbad.byte_length = 12;
  CHECK(sd_session_options_add_initializer(opts, "V", &wbad) == SD_INVALID_ARGUMENT);
  CHECK_CONTAINS(sd_session_options_last_error(opts), "initializer 'V': byte length expected 16");
  CHECK(sd_session_create_from_file(env, opts, path, err, sizeof err, &s) == SD_OK);
  sd_session_options_destroy(opts);
  if (s != NULL) {
    CHECK(sd_session_run(s, run, sizeof run, 1, 1) == SD_OK);
    CHECK(y[0] == 10 && y[3] == 40);
    w[0] = 99; /* the session reads the caller's memory: no copy was made */
    CHECK(sd_session_run(s, run, sizeof run, 1, 1) == SD_OK);
    CHECK(y[0] == 99);
    sd_session_destroy(s);
  }
  /* from bytes, with the external file supplied from memory */
  FILE *f = fopen(path, "rb");
  CHECK(f != NULL);
  if (f == NULL) return;
  unsigned char model[4096];
  size_t n = fread(model, 1, sizeof model, f);
  fclose(f);
  float wfile[4] = {5, 6, 7, 8};
  CHECK(sd_session_options_create(&opts) == SD_OK);
  CHECK(sd_session_options_add_external_data(opts, "external_data.bin", wfile, sizeof wfile) ==
        SD_OK);
  sd_status st = sd_session_create_from_bytes(env, opts, model, n, err, sizeof err, &s);
  if (st != SD_OK) fprintf(stderr, "from bytes + external data: %s\n", err);
  CHECK(st == SD_OK);
  sd_session_options_destroy(opts);
  if (s != NULL) {
    CHECK(sd_session_run(s, run, sizeof run, 1, 1) == SD_OK);
    CHECK(y[0] == 5 && y[3] == 8);
    sd_session_destroy(s);
  }
}

static void test_options(sd_env *env) {
  sd_session_options *o = NULL;
  CHECK(sd_session_options_create(&o) == SD_OK);
  CHECK(sd_session_options_set_intra_op_threads(o, -2) == SD_INVALID_ARGUMENT);
  CHECK_CONTAINS(sd_session_options_last_error(o), "intra_op_threads");
  CHECK(sd_session_options_set_optimization_level(o, 5) == SD_INVALID_ARGUMENT);
  CHECK(sd_session_options_set_spinning(o, 0) == SD_OK);
  CHECK(sd_session_options_set_optimization_level(o, 1) == SD_OK);
  CHECK(sd_session_options_set_config(o, "session.use_env_allocators", "0") == SD_OK);
  CHECK(sd_session_options_set_config(o, "session.use_env_allocators", "1") == SD_OK);
  CHECK(sd_session_options_set_config(o, "", "1") == SD_INVALID_ARGUMENT);
  CHECK(sd_session_options_set_intra_op_threads(o, 1) == SD_OK);
  char path[1024], err[1024] = "";
  snprintf(path, sizeof path, "%s/basic.onnx", SPECDEC_FIXTURES_DIR);
  sd_session *s = NULL;
  CHECK(sd_session_create_from_file(env, o, path, err, sizeof err, &s) == SD_OK);
  sd_session_destroy(s);
  /* CUDA on a machine or build without it: UNAVAILABLE, no crash */
  if (!sd_cuda_available()) {
    CHECK(sd_session_options_enable_cuda(o, 0) == SD_OK);
    CHECK(sd_session_create_from_file(env, o, path, err, sizeof err, &s) == SD_UNAVAILABLE);
    CHECK(s == NULL);
  }
  sd_session_options_destroy(o);
}

int main(void) {
  test_library();
  test_env_errors();
  test_kv_keep();
  char err[256] = "";
  sd_env *env = NULL;
  CHECK(sd_env_create(4, -1, 0, 0, err, sizeof err, &env) == SD_OK);
  if (env == NULL) return 1;
  /* a second environment must agree on global pool settings */
  sd_env *other = NULL;
  CHECK(sd_env_create(4, 1, 0, 0, err, sizeof err, &other) == SD_STATE);
  CHECK_CONTAINS(err, "global thread");
  test_metadata_and_run(env);
  test_bad_files(env);
  test_kv_inplace(env);
  test_external_initializer(env);
  test_options(env);
  /* the env outlives its caller reference while a session holds it */
  sd_session *s = NULL;
  char path[1024];
  snprintf(path, sizeof path, "%s/basic.onnx", SPECDEC_FIXTURES_DIR);
  CHECK(sd_session_create_from_file(env, NULL, path, err, sizeof err, &s) == SD_OK);
  sd_env_destroy(env);
  CHECK(sd_session_io_count(s, SD_INPUT) == 3);
  sd_session_destroy(s);
  if (g_failures > 0) {
    fprintf(stderr, "%d checks failed\n", g_failures);
    return 1;
  }
  printf("test_shim: all checks passed\n");
  return 0;
}
