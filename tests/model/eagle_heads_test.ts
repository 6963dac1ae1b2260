import { assertEquals, assertRejects, assertThrows, maxAbsDiff } from "./_assert.ts";
import { EagleHeads } from "../../lib/model/eagle_heads.ts";
import { CausalLM } from "../../lib/model/causal_lm.ts";
import { SafeTensors } from "../../lib/model/safetensors.ts";
import { SpecDecError } from "../../lib/runtime/errors.ts";
import { Prng } from "../../lib/sampling/prng.ts";
import {
  eagleConfig,
  type NamedTensor,
  oneLayerTwins,
  randomTensor,
  TINY_EAGLE,
  writeRandomEagle,
  writeSafetensors,
} from "./_eagle_fixture.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const TINY = `${ROOT}models/tiny-target`;
const H = TINY_EAGLE.hiddenSize;
const V = TINY_EAGLE.vocabSize;

Deno.test("EagleHeads equal a one-layer base built from the same layer (chain, tree, maskStart, rewind, keep)", async () => {
  const twins = await oneLayerTwins(`${ROOT}models/tiny-target`);
  try {
    using base = await CausalLM.load(twins.base, { maxLength: 64, threads: 1 });
    using head = await EagleHeads.load(twins.head, { maxLength: 64, threads: 1 });
    assertEquals(head.hiddenSize, H);
    assertEquals(head.vocabSize, V);
    const zeros = (n: number): Float32Array => new Float32Array(n * H);
    const close = (a: Float32Array, b: Float32Array, what: string): void => {
      const d = maxAbsDiff(a, b);
      if (!(d <= 2e-3)) throw new Error(`${what}: logits differ by ${d}`);
    };
    // a chain from an empty cache
    const ids = [5, 17, 300, 42, 7];
    const ref = await base.prefill(ids);
    const out = await head.forward(ids, zeros(5), [0, 1, 2, 3, 4]);
    assertEquals(out.hidden.length, 5 * H);
    close(out.logits, ref.logits, "chain");
    // logitRows picks rows
    head.rewind(0);
    const one = await head.forward(ids, zeros(5), [0, 1, 2, 3, 4], { logitRows: [4, 1] });
    assertEquals(one.logits.length, 2 * V);
    close(one.logits.subarray(0, V), ref.logits.subarray(4 * V), "row 4");
    close(one.logits.subarray(V), ref.logits.subarray(V, 2 * V), "row 1");
    // a tree appended after the prefix: root 9; 11 and 12 under it; 13 under 12
    const mask = new Uint8Array([1, 0, 0, 0, 1, 1, 0, 0, 1, 0, 1, 0, 1, 0, 1, 1]); // [4, 4] u8
    const tIds = [9, 11, 12, 13];
    const tPos = [5, 6, 6, 7];
    const tRef = await base.forward(tIds, tPos, { treeMask: mask });
    const tOut = await head.forward(tIds, zeros(4), tPos, { treeMask: mask });
    close(tOut.logits, tRef.logits, "tree");
    // maskStart below kvLength: a row that sees node 12 (slot 7) but not 11 (slot 6)
    const late = await head.forward([20], zeros(1), [7], {
      maskStart: 5,
      treeMask: new Uint8Array([1, 0, 1, 0, 1]), // [1, 5] u8 over slots 5..9
    });
    const lateRef = await base.prefill([...ids, 9, 12, 20]);
    close(late.logits, lateRef.logits.subarray(7 * V), "maskStart");
    // keep() the path 9 -> 12 -> 13 then continue: equals the plain chain
    head.keep([5, 7, 8]);
    assertEquals(head.kvLength, 8);
    const next = await head.forward([30], zeros(1), [8]);
    const nextRef = await base.prefill([...ids, 9, 12, 13, 30]);
    close(next.logits, nextRef.logits.subarray(8 * V), "keep");
    head.reset();
    assertEquals(head.kvLength, 0);
  } finally {
    await Deno.remove(twins.dir, { recursive: true });
  }
});

Deno.test("EagleHeads: x = fc([embed(token), feature]) + bias, hidden = x when the layer is zero", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eagle_fc_" });
  try {
    const prng = new Prng(3);
    const fc = randomTensor(prng, [H, 2 * H], 0.1);
    const bias = randomTensor(prng, [H], 0.1);
    const z = (shape: number[]): NamedTensor => ({
      data: new Float32Array(shape.reduce((a, b) => a * b, 1)),
      shape,
    });
    const q = TINY_EAGLE.numHeads * TINY_EAGLE.headDim;
    const kv = TINY_EAGLE.kvHeads * TINY_EAGLE.headDim;
    const I = TINY_EAGLE.intermediateSize;
    await writeSafetensors(`${dir}/model.safetensors`, {
      "fc.weight": fc,
      "fc.bias": bias,
      "layers.0.self_attn.q_proj.weight": z([q, H]),
      "layers.0.self_attn.k_proj.weight": z([kv, H]),
      "layers.0.self_attn.v_proj.weight": z([kv, H]),
      "layers.0.self_attn.o_proj.weight": z([H, q]),
      "layers.0.post_attention_layernorm.weight": { data: new Float32Array(H).fill(1), shape: [H] },
      "layers.0.mlp.gate_proj.weight": z([I, H]),
      "layers.0.mlp.up_proj.weight": z([I, H]),
      "layers.0.mlp.down_proj.weight": z([H, I]),
    });
    await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(eagleConfig(TINY_EAGLE, TINY)));
    using head = await EagleHeads.load(dir, { maxLength: 16, threads: 1 });
    const embed = (await SafeTensors.open(`${TINY}/model.safetensors`)).float32(
      "model.embed_tokens.weight",
    ); // [V, H] f32 (tied: also the LM head)
    const feats = randomTensor(prng, [2, H], 1).data; // [2, H] f32
    const ids = [3, 999];
    const out = await head.forward(ids, feats, [0, 1]);
    const want = new Float32Array(2 * H); // [2, H] f32
    for (let r = 0; r < 2; r++) {
      for (let i = 0; i < H; i++) {
        let s = bias.data[i]!;
        for (let j = 0; j < H; j++) s += fc.data[i * 2 * H + j]! * embed[ids[r]! * H + j]!;
        for (let j = 0; j < H; j++) s += fc.data[i * 2 * H + H + j]! * feats[r * H + j]!;
        want[r * H + i] = s;
      }
    }
    const dh = maxAbsDiff(out.hidden, want);
    if (!(dh <= 1e-4)) throw new Error(`hidden differs by ${dh}`);
    const logit = (r: number, t: number): number => {
      let s = 0;
      for (let j = 0; j < H; j++) s += want[r * H + j]! * embed[t * H + j]!;
      return s;
    };
    for (const t of [0, 1, 77, 4095]) {
      const d = Math.abs(out.logits[V + t]! - logit(1, t));
      if (!(d <= 1e-3)) throw new Error(`logit ${t} differs by ${d} (no norm.weight: no norm)`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("EagleHeads.load() names both sides of a mismatched base and rejects corrupt files", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eagle_bad_" });
  try {
    await assertRejects(
      () => EagleHeads.load(`${dir}/none`),
      SpecDecError,
      `${dir}/none/config.json`,
    );
    // hidden size differs from the base
    await writeRandomEagle(`${dir}/wide`, TINY, { ...TINY_EAGLE, hiddenSize: 64, headDim: 16 });
    const e1 = await assertRejects(
      () => EagleHeads.load(`${dir}/wide`),
      SpecDecError,
      "does not fit",
    );
    assertEquals(e1.message.includes("hidden 64") && e1.message.includes("hidden 128"), true);
    assertEquals(e1.message.includes(`${dir}/wide`) && e1.message.includes(TINY), true);
    // vocabulary differs
    await writeRandomEagle(`${dir}/vocab`, TINY, { ...TINY_EAGLE, vocabSize: 512 });
    const e2 = await assertRejects(
      () => EagleHeads.load(`${dir}/vocab`),
      SpecDecError,
      "vocab 512",
    );
    assertEquals(e2.message.includes("vocab 4096"), true);
    // truncated safetensors: the checkpoint reader's error
    await writeRandomEagle(`${dir}/cut`, TINY, TINY_EAGLE);
    const bytes = await Deno.readFile(`${dir}/cut/model.safetensors`);
    await Deno.writeFile(`${dir}/cut/model.safetensors`, bytes.subarray(0, 1000));
    await assertRejects(
      () => EagleHeads.load(`${dir}/cut`),
      SpecDecError,
      "Invalid safetensors file",
    );
    // a missing tensor
    await writeRandomEagle(`${dir}/nofc`, TINY, TINY_EAGLE);
    const st = await SafeTensors.open(`${dir}/nofc/model.safetensors`);
    const kept: Record<string, NamedTensor> = {};
    for (const n of st.names) {
      if (n !== "fc.weight") kept[n] = { data: st.float32(n), shape: st.info(n)!.shape };
    }
    await writeSafetensors(`${dir}/nofc/model.safetensors`, kept);
    await assertRejects(() => EagleHeads.load(`${dir}/nofc`), SpecDecError, `"fc.weight"`);
    // malformed config
    await Deno.writeTextFile(`${dir}/cut/config.json`, "{ not json");
    await assertRejects(
      () => EagleHeads.load(`${dir}/cut`),
      SpecDecError,
      "Cannot read EAGLE config",
    );
    await Deno.writeTextFile(
      `${dir}/cut/config.json`,
      JSON.stringify({ ...eagleConfig(TINY_EAGLE, TINY), architecture: "eagle-3" }),
    );
    await assertRejects(() => EagleHeads.load(`${dir}/cut`), SpecDecError, "eagle-3");
    await Deno.writeTextFile(
      `${dir}/cut/config.json`,
      JSON.stringify({ ...eagleConfig(TINY_EAGLE, TINY), intermediate_size: -1 }),
    );
    await assertRejects(() => EagleHeads.load(`${dir}/cut`), SpecDecError, "intermediate_size");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("EagleHeads reject bad arguments before any native work", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eagle_args_" });
  try {
    await writeRandomEagle(dir, TINY, TINY_EAGLE, 2, {
      inputNorm: false,
      norm: false,
      fcBias: false,
    });
    using head = await EagleHeads.load(dir, { maxLength: 8, threads: 1 });
    const f = (n: number): Float32Array => new Float32Array(n * H);
    await assertRejects(() => head.forward([1], f(2), [0]), RangeError, "features has");
    await assertRejects(() => head.forward([V], f(1), [0]), RangeError, "not a token id");
    await assertRejects(
      () => head.forward([1], f(1), [0], { logitRows: [1] }),
      RangeError,
      "logitRows",
    );
    await assertRejects(
      () => head.forward([1], f(1), [0], { maskStart: 1 }),
      RangeError,
      "maskStart",
    );
    await assertRejects(
      () => head.forward([1, 2], f(2), [0, 1], { treeMask: new Uint8Array([1, 0, 1, 0]) }),
      RangeError,
      "own slot",
    );
    await assertRejects(
      () => head.forward(new Array(9).fill(1), f(9), new Array(9).fill(0)),
      RangeError,
      "maxLength 8",
    );
    assertThrows(() => head.rewind(1), RangeError, "[0, 0]");
    await head.forward([1, 2], f(2), [0, 1]);
    assertEquals(head.kvLength, 2);
    head.close();
    head.close();
    await assertRejects(() => head.forward([1], f(1), [0]), SpecDecError, "closed");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

interface EagleFixtureCase {
  prompt_ids: number[];
  eagle?: {
    next_token: number;
    draft_ids: number[];
    draft_top20: { ids: number[]; values: number[] }[];
    hidden_first: number[];
    logits_first: number[];
  };
}

const TINY_FIXTURE = `${ROOT}tests/fixtures/reference/tiny-target.json`;
const eagleCases: EagleFixtureCase[] = (() => {
  try {
    const f = JSON.parse(Deno.readTextFileSync(TINY_FIXTURE)) as { cases: EagleFixtureCase[] };
    return f.cases.filter((c) => c.eagle !== undefined);
  } catch {
    return [];
  }
})();

Deno.test({
  name:
    "EagleHeads draft the reference chain of the PyTorch head on tiny-target/eagle (hidden, logits, top-20)",
  ignore: eagleCases.length === 0,
  fn: async () => {
    using base = await CausalLM.load(TINY, { maxLength: 160, threads: 1 });
    using head = await EagleHeads.load(`${TINY}/eagle`, { maxLength: 200, threads: 1 });
    for (const c of eagleCases) {
      const e = c.eagle!;
      const ids = c.prompt_ids;
      const P = ids.length;
      const pre = await base.prefill(ids, { hidden: true });
      head.reset();
      let out = await head.forward([...ids.slice(1), e.next_token], pre.hidden!, [
        ...Array(P).keys(),
      ], { logitRows: [P - 1] });
      const dh = maxAbsDiff(out.hidden.subarray((P - 1) * H), e.hidden_first);
      if (!(dh <= 2e-3)) throw new Error(`first hidden differs by ${dh}`);
      if (e.logits_first.length > 0) {
        const dl = maxAbsDiff(out.logits, e.logits_first);
        if (!(dl <= 2e-3)) throw new Error(`first logits differ by ${dl}`);
      }
      let feature = out.hidden.slice((P - 1) * H); // [H] f32
      for (let k = 1; k <= e.draft_ids.length; k++) {
        const top = e.draft_top20[k - 1]!;
        const ours = top.ids.map((id) => out.logits[id]!);
        const d = maxAbsDiff(ours, top.values);
        if (!(d <= 2e-3)) throw new Error(`draft ${k}: top-20 logits differ by ${d}`);
        let best = 0;
        for (let i = 1; i < V; i++) if (out.logits[i]! > out.logits[best]!) best = i;
        assertEquals(best, e.draft_ids[k - 1]);
        if (k === e.draft_ids.length) break;
        out = await head.forward([best], feature, [P - 2 + k + 1]);
        feature = out.hidden.slice();
      }
    }
  },
});

Deno.test("EagleHeads with packed projections equal the Gemm / MatMulNBits head (f32, q8, q4)", async () => {
  using base = await CausalLM.load(TINY, { maxLength: 64, threads: 1 });
  const ids = [5, 17, 300, 42, 7];
  const pre = await base.prefill(ids, { hidden: true });
  for (const weights of ["f32", "q8", "q4"] as const) {
    using gemm = await EagleHeads.load(`${TINY}/eagle`, {
      maxLength: 64,
      threads: 1,
      weights,
      linear: "gemm",
    });
    using packed = await EagleHeads.load(`${TINY}/eagle`, {
      maxLength: 64,
      threads: 1,
      weights,
      linear: "packed",
    });
    for (const head of [gemm, packed]) head.reset();
    const pos = [0, 1, 2, 3, 4];
    const a = await gemm.forward(ids, pre.hidden!, pos);
    const b = await packed.forward(ids, pre.hidden!, pos);
    // MatMulNBits takes int8 activations for several rows; the packed kernel keeps them f32
    const tol = weights === "f32" ? 1e-3 : 0.15;
    const dl = maxAbsDiff(a.logits, b.logits);
    if (!(dl <= tol)) throw new Error(`${weights}: logits differ by ${dl}`);
    const one = await packed.forward([9], b.hidden.slice(4 * H), [5]);
    assertEquals(one.logits.length, V);
  }
  await assertRejects(
    () => EagleHeads.load(`${TINY}/eagle`, { linear: "fast" as never }),
    TypeError,
    "linear",
  );
});

Deno.test("EagleHeads with int8 activations equal MatMulNBits's int8 rows; f32 weights are refused", async () => {
  using base = await CausalLM.load(TINY, { maxLength: 64, threads: 1 });
  const ids = [5, 17, 300, 42, 7];
  const pre = await base.prefill(ids, { hidden: true });
  const pos = [0, 1, 2, 3, 4];
  for (const weights of ["q8", "q4"] as const) {
    const common = { maxLength: 64, threads: 1, weights };
    using gemm = await EagleHeads.load(`${TINY}/eagle`, { ...common, linear: "gemm" });
    using int8 = await EagleHeads.load(`${TINY}/eagle`, { ...common, activations: "int8" });
    // several rows: MatMulNBits quantizes them per block of 32 as the packed int8 kernel does
    const a = await gemm.forward(ids, pre.hidden!, pos);
    const b = await int8.forward(ids, pre.hidden!, pos);
    const dl = maxAbsDiff(a.logits, b.logits);
    if (!(dl <= 1e-3)) throw new Error(`${weights}: logits differ by ${dl}`);
  }
  await assertRejects(
    () => EagleHeads.load(`${TINY}/eagle`, { activations: "int8" }),
    TypeError,
    'activations "int8" needs weights "q8" or "q4"',
  );
});
