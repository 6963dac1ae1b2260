/*
 * tree_attention_emu_test.cc: runs the CUDA kernels of _tree_attention_kernels.cuh on the host
 * (through _cuda_emu.h: one host thread per CUDA thread, real barriers and warp exchanges) and
 * compares them with the CPU reference. This is how the kernels' logic is tested on machines
 * without a GPU; tree_attention_harness tests the compiled kernels on a GPU.
 *
 * Covered: one-node tree, chains up to S = 64, wide and random trees, per-batch masks and past
 * lengths, no mask (causal), GQA ratios 1..8, head sizes 32/64/80/96/128/256, fp32 and fp16,
 * in place and copy, one split and many splits (the plan's SM count is varied), query tiles of
 * 16, 32 and 64 rows, an empty mask row; KV compaction with 16-, 4- and 2-byte units.
 * Exit code 0 when every case passes, 1 otherwise.
 */
#include "_cuda_emu.h"

#include "_tree_attention_kernels.cuh"
#include "specdec.h"

thread_local sd_emu_uint3 threadIdx;
thread_local sd_emu_uint3 blockIdx;
sd_emu_uint3 blockDim;
sd_emu_uint3 gridDim;

namespace sd_emu {

static std::vector<unsigned char> g_smem;
static pthread_barrier_t g_block_barrier;
static std::vector<pthread_barrier_t> g_warp_barriers;
static std::vector<float> g_exchange;

void *dynamic_shared() { return g_smem.data(); }

void sync_block() { pthread_barrier_wait(&g_block_barrier); }

void sync_warp() { pthread_barrier_wait(&g_warp_barriers[threadIdx.x / 32]); }

float shfl_xor(float v, int lane_mask) {
  const unsigned t = threadIdx.x;
  pthread_barrier_t *warp = &g_warp_barriers[t / 32];
  g_exchange[t] = v;
  pthread_barrier_wait(warp);
  const float r = g_exchange[t ^ (unsigned)lane_mask];
  pthread_barrier_wait(warp);
  return r;
}

struct ThreadStart {
  unsigned tid;
  dim3 grid;
  size_t dynamic_smem;
  const std::function<void()> *fn;
};

/* One CUDA thread: runs its part of every block in turn (blocks never overlap). */
static void *thread_main(void *arg) {
  const ThreadStart *s = static_cast<const ThreadStart *>(arg);
  threadIdx = {s->tid, 0, 0};
  for (unsigned z = 0; z < s->grid.z; z++) {
    for (unsigned y = 0; y < s->grid.y; y++) {
      for (unsigned x = 0; x < s->grid.x; x++) {
        blockIdx = {x, y, z};
        (*s->fn)();
        sync_block(); /* the block is done: fresh NaN-filled shared memory for the next one */
        if (s->tid == 0) memset(g_smem.data(), 0xff, g_smem.size());
        sync_block();
      }
    }
  }
  return nullptr;
}

void launch(dim3 grid, dim3 block, size_t dynamic_smem, const std::function<void()> &fn) {
  const unsigned nt = block.x; /* the kernels here use 1-D blocks */
  blockDim = {block.x, 1, 1};
  gridDim = {grid.x, grid.y, grid.z};
  g_smem.assign(dynamic_smem + 16, 0xff); /* NaN bytes: unwritten reads poison results */
  g_exchange.assign(nt, 0.0f);
  g_warp_barriers.assign((nt + 31) / 32, pthread_barrier_t{});
  for (unsigned w = 0; w < g_warp_barriers.size(); w++) {
    const unsigned in_warp = std::min(32u, nt - 32u * w);
    pthread_barrier_init(&g_warp_barriers[w], nullptr, in_warp);
  }
  pthread_barrier_init(&g_block_barrier, nullptr, nt);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setstacksize(&attr, 1u << 20);
  std::vector<pthread_t> threads(nt);
  std::vector<ThreadStart> starts(nt);
  for (unsigned t = 0; t < nt; t++) {
    starts[t] = {t, grid, dynamic_smem, &fn};
    if (pthread_create(&threads[t], &attr, thread_main, &starts[t]) != 0) {
      fprintf(stderr, "pthread_create failed\n");
      exit(2);
    }
  }
  for (unsigned t = 0; t < nt; t++) pthread_join(threads[t], nullptr);
  pthread_attr_destroy(&attr);
  pthread_barrier_destroy(&g_block_barrier);
  for (auto &b : g_warp_barriers) pthread_barrier_destroy(&b);
}

}  // namespace sd_emu

using namespace sd_kernels;

static int g_failures = 0;

static uint64_t g_rng = 0x13198a2e03707344ull;
static uint32_t rand_u32() {
  g_rng ^= g_rng >> 12;
  g_rng ^= g_rng << 25;
  g_rng ^= g_rng >> 27;
  return (uint32_t)((g_rng * 0x2545f4914f6cdd1dull) >> 32);
}
static float rand_uniform() { return (float)(rand_u32() >> 8) * 0x1p-24f * 2.0f - 1.0f; }

/* Bytes of n random storage elements. */
static std::vector<unsigned char> random_storage(size_t n, int32_t dtype) {
  std::vector<unsigned char> out(n * (size_t)sd_ta_dtype_size(dtype) + 16);
  for (size_t i = 0; i < n; i++) {
    const float x = rand_uniform();
    if (dtype == SD_TA_F16) {
      const uint16_t h = sd_f32_to_f16(x);
      memcpy(out.data() + 2 * i, &h, 2);
    } else {
      memcpy(out.data() + 4 * i, &x, 4);
    }
  }
  return out;
}

static float get(const std::vector<unsigned char> &a, size_t i, int32_t dtype) {
  if (dtype == SD_TA_F16) {
    uint16_t h;
    memcpy(&h, a.data() + 2 * i, 2);
    return sd_f16_to_f32(h);
  }
  float f;
  memcpy(&f, a.data() + 4 * i, 4);
  return f;
}

enum Tree { ONE, CHAIN, WIDE, RANDOM, CAUSAL_NULL, BATCH_MASKS, EMPTY_ROW };

struct Case {
  const char *name;
  int B, S, H, Hkv, D, P, rot, dtype;
  Tree tree;
  bool in_place;
  int sm_count; /* what the plan believes: 1 gives few splits, 1000 the most */
  int forms;    /* GroupQueryAttention forms: PACKED, BIAS, SHORT_PAST */
  size_t max_smem; /* the plan's shared memory per block (0: no limit), as the device's opt-in */
};

enum Form { PACKED = 1, BIAS = 2, SHORT_PAST = 4 };

/*
 * Runs the four steps of sd_cuda_tree_attention (tree_attention.cu) with the same plan, params
 * and launch shapes, on the emulator.
 */
static void emu_forward(const sd_ta_shape *s, const int32_t *past_lens, const sd_ta_tensors *t,
                        int sm_count, bool allow_tc, size_t max_smem, Plan *plan_out) {
  const Plan plan = make_plan(s, past_lens, sm_count, allow_tc, max_smem);
  *plan_out = plan;
  if (max_smem > 0 && plan_smem_total(plan, s->head_dim) > max_smem) {
    fprintf(stderr, "the plan does not fit in %zu bytes of shared memory\n", max_smem);
    exit(2);
  }
  std::vector<float> ws(plan.workspace_bytes / sizeof(float) + 4,
                        std::numeric_limits<float>::quiet_NaN());
  const size_t row_bytes = (size_t)s->head_dim * (size_t)sd_ta_dtype_size(s->dtype);
  const int past_L = s->past_max_len > 0 ? s->past_max_len : s->max_len;
  for (int b = 0; b < s->batch; b++) { /* step 1: cudaMemcpy2DAsync of [0, P) per (b, g) */
    for (int g = 0; g < s->kv_num_heads; g++) {
      const size_t dst = ((size_t)b * s->kv_num_heads + g) * s->max_len * row_bytes;
      const size_t src = ((size_t)b * s->kv_num_heads + g) * past_L * row_bytes;
      const size_t n = (size_t)past_lens[b] * row_bytes;
      if (n == 0) continue;
      if (t->past_key != t->present_key) {
        memcpy((char *)t->present_key + dst, (const char *)t->past_key + src, n);
      }
      if (t->past_value != t->present_value) {
        memcpy((char *)t->present_value + dst, (const char *)t->past_value + src, n);
      }
    }
  }
  const TaParams p = make_params(s, past_lens, t, plan, ws.data());
  const int D = s->head_dim;
  const bool f16 = s->dtype == SD_TA_F16;
  sd_emu::launch(dim3((unsigned)s->seq_len, (unsigned)s->batch), dim3(128), 0, [&] {
    if (f16) append_kv<__half>(p, D);
    else append_kv<float>(p, D);
  });
  int threads = 0;
  void (*split)(TaParams) = f16 ? pick_split_kernel<__half>(plan, D, &threads)
                                : pick_split_kernel<float>(plan, D, &threads);
  if (split == nullptr) {
    fprintf(stderr, "no split kernel for head_dim %d\n", D);
    exit(2);
  }
  sd_emu::launch(dim3((unsigned)plan.qtiles, (unsigned)plan.splits,
                      (unsigned)(s->batch * s->kv_num_heads)),
                 dim3((unsigned)threads), plan.smem_bytes, [&] { split(p); });
  sd_emu::launch(dim3((unsigned)(s->batch * s->seq_len * s->num_heads)),
                 dim3((unsigned)std::min(D, 256)), 0, [&] {
                   if (f16) attention_combine<__half>(p, D);
                   else attention_combine<float>(p, D);
                 });
}

static void run_case(const Case &c, bool allow_tc) {
  const int B = c.B, S = c.S, H = c.H, Hkv = c.Hkv, D = c.D, dt = c.dtype;
  const int L = c.P + S + 3, max_pos = L + 4;
  const size_t es = (size_t)sd_ta_dtype_size(dt);
  int32_t past_lens[SD_CUDA_MAX_BATCH];
  for (int b = 0; b < B; b++) past_lens[b] = c.P - (b * c.P) / 3;
  sd_ta_shape s{};
  s.batch = B;
  s.seq_len = S;
  s.num_heads = H;
  s.kv_num_heads = Hkv;
  s.head_dim = D;
  s.max_len = L;
  s.rotary_dim = c.rot;
  s.max_pos = max_pos;
  s.dtype = dt;
  s.mask_batch_stride = c.tree == BATCH_MASKS ? (int64_t)S * S : 0;
  const size_t nq = (size_t)B * S * H * D, nk = (size_t)B * S * Hkv * D;
  const size_t ncache = (size_t)B * Hkv * L * D, nrot = (size_t)max_pos * (size_t)(c.rot / 2);
  auto q = random_storage(nq, dt), k = random_storage(nk, dt), v = random_storage(nk, dt);
  auto past_k = random_storage(ncache, dt), past_v = random_storage(ncache, dt);
  auto cos_c = random_storage(nrot, dt), sin_c = random_storage(nrot, dt);
  const int n_masks = c.tree == BATCH_MASKS ? B : 1;
  std::vector<uint8_t> mask((size_t)n_masks * S * S, 0);
  std::vector<int64_t> positions((size_t)B * S);
  for (int m = 0; m < n_masks; m++) {
    int parent[SD_TA_MAX_SEQ];
    for (int i = 0; i < S; i++) {
      if (i == 0) parent[i] = -1;
      else if (c.tree == CHAIN || c.tree == CAUSAL_NULL || c.tree == EMPTY_ROW) parent[i] = i - 1;
      else if (c.tree == WIDE) parent[i] = 0;
      else parent[i] = (int)(rand_u32() % (uint32_t)i);
    }
    for (int i = 0; i < S; i++) {
      int depth = 0;
      for (int j = i; j >= 0; j = parent[j]) {
        mask[(size_t)m * S * S + (size_t)i * S + j] = 1;
        depth += j != i;
      }
      for (int b = 0; b < B; b++) {
        if (n_masks == 1 || b == m) positions[(size_t)b * S + i] = past_lens[b] + depth;
      }
    }
  }
  if (c.tree == EMPTY_ROW) memset(mask.data() + (size_t)(S - 1) * S, 0, (size_t)S);

  /* GroupQueryAttention forms: packed QKV, an additive bias mask [B, 1, S, T], past buffers of
     only max P slots (a growing cache: copied into the present buffers) */
  std::vector<unsigned char> packed, bias, short_k, short_v;
  const int T = c.P + S + 2;
  if (c.forms & PACKED) {
    const size_t tok = (size_t)(H + 2 * Hkv) * D;
    packed.resize((size_t)B * S * tok * es + 16);
    for (size_t bi = 0; bi < (size_t)B * S; bi++) {
      memcpy(packed.data() + bi * tok * es, q.data() + bi * H * D * es, (size_t)H * D * es);
      memcpy(packed.data() + (bi * tok + (size_t)H * D) * es, k.data() + bi * Hkv * D * es,
             (size_t)Hkv * D * es);
      memcpy(packed.data() + (bi * tok + (size_t)(H + Hkv) * D) * es, v.data() + bi * Hkv * D * es,
             (size_t)Hkv * D * es);
    }
    s.qkv_packed = 1;
  }
  if (c.forms & BIAS) {
    bias.assign((size_t)B * S * T * es + 16, 0);
    const float masked = dt == SD_TA_F16 ? -60000.0f : -3.0e38f;
    for (int b = 0; b < B; b++) {
      const uint8_t *mb = mask.data() + (n_masks == 1 ? 0 : (size_t)b * S * S);
      for (int i = 0; i < S; i++) {
        for (int j = 0; j < S; j++) {
          if (mb[i * S + j]) continue;
          const size_t x = ((size_t)b * S + i) * T + past_lens[b] + j;
          if (dt == SD_TA_F16) {
            const uint16_t h = sd_f32_to_f16(masked);
            memcpy(bias.data() + 2 * x, &h, 2);
          } else {
            memcpy(bias.data() + 4 * x, &masked, 4);
          }
        }
      }
    }
    s.bias_len = T;
    s.bias_batch_stride = (int64_t)S * T;
  }
  if (c.forms & SHORT_PAST) {
    const int past_L = std::max(1, c.P);
    short_k.resize((size_t)B * Hkv * past_L * D * es + 16);
    short_v.resize(short_k.size());
    for (size_t bg = 0; bg < (size_t)B * Hkv; bg++) {
      memcpy(short_k.data() + bg * past_L * D * es, past_k.data() + bg * L * D * es, (size_t)past_L * D * es);
      memcpy(short_v.data() + bg * past_L * D * es, past_v.data() + bg * L * D * es, (size_t)past_L * D * es);
    }
    s.past_max_len = past_L;
  }

  std::vector<unsigned char> ref_k(ncache * es + 16), ref_v(ncache * es + 16);
  std::vector<unsigned char> emu_k(ncache * es + 16), emu_v(ncache * es + 16);
  if (c.in_place) {
    ref_k = past_k, ref_v = past_v, emu_k = past_k, emu_v = past_v;
  } else {
    memset(ref_k.data(), 0x3c, ref_k.size());
    memset(ref_v.data(), 0x3c, ref_v.size());
    emu_k = ref_k, emu_v = ref_v;
  }
  std::vector<unsigned char> ref_out(nq * es + 16), emu_out(nq * es + 16, 0x7f);
  sd_ta_tensors t{};
  t.query = q.data();
  t.key = k.data();
  t.value = v.data();
  t.cos_cache = c.rot > 0 ? cos_c.data() : nullptr;
  t.sin_cache = c.rot > 0 ? sin_c.data() : nullptr;
  t.position_ids = positions.data();
  t.tree_mask = c.tree == CAUSAL_NULL ? nullptr : mask.data();
  if (c.forms & PACKED) {
    t.query = packed.data();
    t.key = nullptr;
    t.value = nullptr;
  }
  if (c.forms & BIAS) {
    t.tree_mask = nullptr;
    t.attention_bias = bias.data();
  }
  const void *pk = (c.forms & SHORT_PAST) ? short_k.data() : past_k.data();
  const void *pv = (c.forms & SHORT_PAST) ? short_v.data() : past_v.data();
  sd_ta_tensors tr = t, te = t;
  tr.past_key = c.in_place ? ref_k.data() : pk;
  tr.past_value = c.in_place ? ref_v.data() : pv;
  tr.present_key = ref_k.data();
  tr.present_value = ref_v.data();
  tr.output = ref_out.data();
  te.past_key = c.in_place ? emu_k.data() : pk;
  te.past_value = c.in_place ? emu_v.data() : pv;
  te.present_key = emu_k.data();
  te.present_value = emu_v.data();
  te.output = emu_out.data();
  char err[256] = "";
  if (sd_ta_ref_forward(&s, past_lens, &tr, err, sizeof err) != SD_OK) {
    fprintf(stderr, "%s: reference failed: %s\n", c.name, err);
    exit(2);
  }
  Plan plan{};
  emu_forward(&s, past_lens, &te, c.sm_count, allow_tc, c.max_smem, &plan);
  const bool tc = plan.tc;
  const int splits = plan.splits;

  double worst = 0.0;
  for (size_t x = 0; x < nq; x++) {
    const double d = fabs((double)get(emu_out, x, dt) - (double)get(ref_out, x, dt));
    if (!(d <= worst)) worst = std::isnan(d) ? INFINITY : d;
  }
  /* new K within one rounding step (FMA contraction may differ), everything else identical */
  double worst_k = 0.0;
  int differ = 0;
  for (int b = 0; b < B; b++) {
    for (int g = 0; g < Hkv; g++) {
      for (int slot = 0; slot < L; slot++) {
        const size_t row = (((size_t)b * Hkv + g) * L + slot) * D;
        const bool is_new = slot >= past_lens[b] && slot < past_lens[b] + S;
        for (int d = 0; d < D; d++) {
          if (is_new) {
            const double dk = fabs((double)get(emu_k, row + d, dt) - (double)get(ref_k, row + d, dt));
            if (!(dk <= worst_k)) worst_k = std::isnan(dk) ? INFINITY : dk;
          } else {
            differ += memcmp(emu_k.data() + (row + d) * es, ref_k.data() + (row + d) * es, es) != 0;
          }
          differ += memcmp(emu_v.data() + (row + d) * es, ref_v.data() + (row + d) * es, es) != 0;
        }
      }
    }
  }
  const double tol = dt == SD_TA_F16 ? 2e-3 : 1e-5;
  const double tol_k = dt == SD_TA_F16 ? 1e-3 : 1e-6;
  const bool ok = worst <= tol && worst_k <= tol_k && differ == 0;
  if (!ok) g_failures++;
  printf("%s  %-52s %s qt %2d x %2d splits %3d  max|diff| %.2e  new K %.2e  other slots %s\n",
         ok ? "ok  " : "FAIL", c.name, tc ? "tensor cores" : "CUDA cores  ", plan.qt, plan.qtiles,
         splits, worst, worst_k, differ == 0 ? "identical" : "DIFFER");
  fflush(stdout);
}

static void run_compaction(int layers, int elem, int B, int Hkv, int L, int D, int base, int n) {
  const sd_kv_layout layout = {B, Hkv, L, D, elem};
  const size_t bytes = (size_t)B * Hkv * L * D * elem;
  int32_t slots[SD_TA_MAX_SEQ];
  int sl = base;
  for (int j = 0; j < n; j++) {
    slots[j] = sl;
    sl += j < 2 ? 1 : 1 + (int)(rand_u32() % 3u);
  }
  const int nb = 2 * layers;
  std::vector<std::vector<unsigned char>> ref(nb), emu(nb);
  std::vector<void *> ref_ptrs(nb), emu_ptrs(nb);
  for (int kk = 0; kk < nb; kk++) {
    ref[kk].resize(bytes);
    for (auto &x : ref[kk]) x = (unsigned char)rand_u32();
    emu[kk] = ref[kk];
    ref_ptrs[kk] = ref[kk].data();
    emu_ptrs[kk] = emu[kk].data();
  }
  char err[256] = "";
  if (sd_kv_ref_compact(ref_ptrs.data(), nb, &layout, base, slots, n, err, sizeof err) != SD_OK) {
    fprintf(stderr, "compaction reference failed: %s\n", err);
    exit(2);
  }
  size_t unit = 0;
  const CompactParams p = make_compact_params(emu_ptrs.data(), 0, nb, &layout, base, slots, n, &unit);
  const long long threads = (long long)p.n_buffers * p.bh * p.row_units;
  const unsigned blocks = (unsigned)std::min(4LL, (threads + 255) / 256); /* grid-stride */
  sd_emu::launch(dim3(blocks), dim3(256), 0, [&] {
    if (unit == 16) kv_compact<uint4>(p);
    else if (unit == 4) kv_compact<uint32_t>(p);
    else kv_compact<uint16_t>(p);
  });
  bool same = true;
  for (int kk = 0; kk < nb; kk++) same = same && ref[kk] == emu[kk];
  if (!same) g_failures++;
  printf("%s  compaction: %d layers, %d-byte elements, head %d, %zu-byte units, n %d\n",
         same ? "ok  " : "FAIL", layers, elem, D, unit, n);
}

/*
 * Plans against the opt-in shared memory per block of real devices (sm_90/sm_100: 227 KB, sm_80:
 * 163 KB, sm_86/89/120: 99 KB): every plan fits, has a kernel and stays inside the grid limits,
 * and at 227 KB it is the unlimited plan (H100/H200 get the preferred tiles). Only what would not
 * fit anywhere is refused (head size 256 in 64 KB).
 */
static void check_plans() {
  const size_t limits[] = {232448, 166912, 101376};
  const int dims[] = {32, 64, 80, 96, 128, 256};
  const int seqs[] = {1, 4, 16, 17, 33, 64};
  const int groups[] = {1, 2, 4, 8};
  int n = 0, bad = 0, shrunk = 0;
  for (size_t limit : limits) {
    for (int dt : {(int)SD_TA_F32, (int)SD_TA_F16}) {
      for (int D : dims) {
        for (int S : seqs) {
          for (int G : groups) {
            for (bool tc : {true, false}) {
              sd_ta_shape s{};
              s.batch = 2, s.seq_len = S, s.kv_num_heads = 8, s.num_heads = 8 * G;
              s.head_dim = D, s.max_len = 5000, s.dtype = dt;
              const int32_t past[2] = {4000, 17};
              const Plan p = make_plan(&s, past, 132, tc, limit);
              const Plan u = make_plan(&s, past, 132, tc, 0);
              int threads = 0;
              const bool kernel = (dt == SD_TA_F16 ? (void *)pick_split_kernel<__half>(p, D, &threads)
                                                   : (void *)pick_split_kernel<float>(p, D, &threads)) != nullptr;
              const bool ok = kernel && threads == (p.tc ? 256 : p.qt == 16 ? 128 : 256) &&
                              plan_smem_total(p, D) <= limit && p.smem_bytes <= limit &&
                              p.splits >= 1 && p.splits <= MAX_SPLITS && p.R_pad >= p.R &&
                              (limit != 232448 || (p.qt == u.qt && p.tc == u.tc));
              shrunk += p.qt != u.qt || p.tc != u.tc;
              n++;
              if (!ok) {
                bad++;
                printf("FAIL  plan: limit %zu, %s, head %d, S %d, G %d, tc %d: qt %d, smem %zu\n",
                       limit, dt == SD_TA_F16 ? "f16" : "f32", D, S, G, (int)tc, p.qt,
                       plan_smem_total(p, D));
              }
            }
          }
        }
      }
    }
  }
  /* 64 KB (sm_75): head size 256 does not fit even with 16-row tiles: the call is refused */
  sd_ta_shape s{};
  s.batch = 1, s.seq_len = 1, s.kv_num_heads = 1, s.num_heads = 1, s.head_dim = 256;
  s.max_len = 10, s.dtype = SD_TA_F32;
  const int32_t past[1] = {0};
  const Plan p = make_plan(&s, past, 132, true, 65536);
  if (!(plan_smem_total(p, 256) > 65536)) bad++;
  /* the query-tile cap (SPECDEC_CUDA_QUERY_TILE) keeps the kernel kind and shrinks the tile */
  s.seq_len = 16, s.num_heads = 4, s.head_dim = 128, s.dtype = SD_TA_F16, s.max_len = 100;
  const Plan capped = make_plan(&s, past, 132, true, 232448, 16);
  if (!(capped.tc && capped.qt == 16 && capped.tpr == 16 && capped.qtiles == 4)) bad++;
  if (bad > 0) g_failures++;
  printf("%s  plans: %d shapes within 227/163/99 KB of shared memory (%d with a smaller tile), "
         "head 256 in 64 KB refused (%zu bytes)\n",
         bad == 0 ? "ok  " : "FAIL", n, shrunk, plan_smem_total(p, 256));
}

int main() {
  const int F32 = SD_TA_F32, F16 = SD_TA_F16;
  const Case cases[] = {
      {"one node, P=0, f32", 1, 1, 4, 4, 64, 0, 64, F32, ONE, true, 1000},
      {"one node, P=300, GQA 8:2, f16", 1, 1, 8, 2, 128, 300, 128, F16, ONE, true, 1000},
      {"deep chain S=64, P=0, f32", 1, 64, 2, 1, 32, 0, 32, F32, CHAIN, false, 1000},
      {"chain S=64, P=100, G=2 (qt 64, 2 tiles), f16", 1, 64, 4, 2, 64, 100, 64, F16, CHAIN, true, 1},
      {"wide S=33, P=200, f16, copy", 1, 33, 8, 8, 64, 200, 64, F16, WIDE, false, 1000},
      {"random S=64, G=4, P=500, f32, many splits", 1, 64, 8, 2, 64, 500, 64, F32, RANDOM, true, 1000},
      {"random S=64, G=4, P=500, f32, one split", 1, 64, 8, 2, 64, 500, 64, F32, RANDOM, true, 0},
      {"per-batch masks B=3, S=17, f32, copy", 3, 17, 6, 3, 32, 90, 32, F32, BATCH_MASKS, false, 1000},
      {"no mask (causal) S=8, P=70, f16", 1, 8, 4, 4, 128, 70, 0, F16, CAUSAL_NULL, true, 1000},
      {"random S=12, head 256, G=4, f16", 1, 12, 4, 1, 256, 40, 256, F16, RANDOM, false, 1000},
      {"random S=20, head 96, partial rotary, f16", 1, 20, 2, 2, 96, 65, 64, F16, RANDOM, true, 1000},
      {"chain S=16, head 80, G=2 (qt 32), f32", 1, 16, 4, 2, 80, 31, 80, F32, CHAIN, true, 1000},
      {"random B=2, S=5, P=33 (ragged tiles), f32", 2, 5, 8, 1, 64, 33, 64, F32, RANDOM, false, 3},
      {"empty last mask row, P=0, f32", 1, 6, 2, 1, 32, 0, 32, F32, EMPTY_ROW, true, 1000},
      {"GQA form: packed QKV + bias, B=2, f32", 2, 9, 8, 2, 64, 70, 64, F32, RANDOM, true, 1000,
       PACKED | BIAS},
      {"GQA form: packed + bias + short past, f16", 2, 6, 4, 1, 128, 45, 128, F16, RANDOM, false,
       1000, PACKED | BIAS | SHORT_PAST},
      {"GQA form: bias, per-batch masks, f32", 3, 5, 2, 2, 32, 12, 32, F32, BATCH_MASKS, false, 2,
       BIAS | SHORT_PAST},
      /* the plans of a 99 KB device (sm_86/89/120): smaller query tiles, several per KV head */
      {"99 KB smem: f16 head 128, R=80 (tc qt 16 x 5)", 1, 20, 8, 2, 128, 100, 128, F16, RANDOM,
       true, 1000, 0, 101376},
      {"99 KB smem: f16 head 256, R=64 (qt 16 x 4)", 1, 16, 4, 1, 256, 70, 256, F16, CHAIN, false,
       3, 0, 101376},
  };
  check_plans();
  for (const Case &c : cases) {
    run_case(c, true);
    if (c.dtype == F16 && (c.D == 64 || c.D == 128)) run_case(c, false); /* both fp16 kernels */
  }
  run_compaction(3, 2, 1, 2, 60, 128, 20, 9);  /* 16-byte units */
  run_compaction(2, 4, 2, 1, 40, 3, 10, 5);    /* 4-byte units */
  run_compaction(2, 2, 1, 3, 30, 3, 6, 4);     /* 2-byte units */
  printf("%s\n", g_failures == 0 ? "all passed" : "FAILED");
  return g_failures == 0 ? 0 : 1;
}
