/**
 * Writes EAGLE head folders (and small base checkpoints) for tests: a
 * safetensors writer and seeded random weights.
 *
 * @module
 */

import { Prng } from "../../lib/sampling/prng.ts";
import { SafeTensors } from "../../lib/model/safetensors.ts";

/** A tensor to write: data and shape. */
export interface NamedTensor {
  /** Row-major f32 data. */
  data: Float32Array;
  /** Shape. */
  shape: number[];
}

/** Writes an f32 safetensors file. */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, NamedTensor>,
): Promise<void> {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = {
      dtype: "F32",
      shape: t.shape,
      data_offsets: [offset, offset + t.data.byteLength],
    };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  while ((8 + json.length) % 8 !== 0) json += " ";
  const head = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + head.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(head.length), true);
  out.set(head, 8);
  let at = 8 + head.length;
  for (const t of Object.values(tensors)) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), at);
    at += t.data.byteLength;
  }
  await Deno.writeFile(path, out);
}

/** Uniform values in `[-scale, scale)` from a seeded PRNG. */
export function randomTensor(prng: Prng, shape: number[], scale: number): NamedTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n); // [shape] f32
  for (let i = 0; i < n; i++) data[i] = (prng.nextFloat() * 2 - 1) * scale;
  return { data, shape };
}

/** Shape of a test EAGLE head. */
export interface EagleFixtureShape {
  hiddenSize: number;
  vocabSize: number;
  numHeads: number;
  kvHeads: number;
  headDim: number;
  intermediateSize: number;
}

/** The `config.json` of an EAGLE head. */
export function eagleConfig(
  s: EagleFixtureShape,
  baseModel: string,
  extra: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    architecture: "eagle-1",
    base_model: baseModel,
    base_model_name: "test",
    hidden_size: s.hiddenSize,
    vocab_size: s.vocabSize,
    num_attention_heads: s.numHeads,
    num_key_value_heads: s.kvHeads,
    head_dim: s.headDim,
    intermediate_size: s.intermediateSize,
    rms_norm_eps: 1e-5,
    rope_theta: 10000,
    max_position_embeddings: 2048,
    shares_base_lm_head: true,
    shares_base_embeddings: true,
    dtype: "float32",
    ...extra,
  };
}

/**
 * Writes a random-weight EAGLE head for a base checkpoint into `dir`.
 *
 * @param dir Target folder (created).
 * @param baseDir Absolute base directory written as `base_model`.
 * @param s Widths (must match the base's hidden and vocabulary sizes to load).
 * @param seed PRNG seed.
 * @param options `inputNorm` / `norm` / `fcBias`: write the optional tensors (default true).
 */
export async function writeRandomEagle(
  dir: string,
  baseDir: string,
  s: EagleFixtureShape,
  seed = 1,
  options: { inputNorm?: boolean; norm?: boolean; fcBias?: boolean } = {},
): Promise<void> {
  await Deno.mkdir(dir, { recursive: true });
  const prng = new Prng(seed);
  const H = s.hiddenSize;
  const q = s.numHeads * s.headDim;
  const kv = s.kvHeads * s.headDim;
  const I = s.intermediateSize;
  const w = (shape: number[]): NamedTensor => randomTensor(prng, shape, 1 / Math.sqrt(shape[1]!));
  const ones = (n: number): NamedTensor => ({ data: new Float32Array(n).fill(1), shape: [n] });
  const t: Record<string, NamedTensor> = { "fc.weight": w([H, 2 * H]) };
  if (options.fcBias ?? true) t["fc.bias"] = randomTensor(prng, [H], 0.05);
  if (options.inputNorm ?? true) t["layers.0.input_layernorm.weight"] = ones(H);
  t["layers.0.self_attn.q_proj.weight"] = w([q, H]);
  t["layers.0.self_attn.k_proj.weight"] = w([kv, H]);
  t["layers.0.self_attn.v_proj.weight"] = w([kv, H]);
  t["layers.0.self_attn.o_proj.weight"] = w([H, q]);
  t["layers.0.post_attention_layernorm.weight"] = ones(H);
  t["layers.0.mlp.gate_proj.weight"] = w([I, H]);
  t["layers.0.mlp.up_proj.weight"] = w([I, H]);
  t["layers.0.mlp.down_proj.weight"] = w([H, I]);
  if (options.norm ?? true) t["norm.weight"] = ones(H);
  await writeSafetensors(`${dir}/model.safetensors`, t);
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(eagleConfig(s, baseDir), null, 2));
}

/** The tiny-target's widths (H 128, 4 heads of 32, 2 KV heads, MLP 352, vocab 4096). */
export const TINY_EAGLE: EagleFixtureShape = {
  hiddenSize: 128,
  vocabSize: 4096,
  numHeads: 4,
  kvHeads: 2,
  headDim: 32,
  intermediateSize: 352,
};

/**
 * A one-layer base made of a Llama checkpoint's first layer (in a temporary folder), and an EAGLE head that is
 * that same layer with `fc = [I | 0]` (x = embed(token)) and the base's final
 * norm: the head's logits must equal the one-layer base's, row for row.
 */
export async function oneLayerTwins(
  tiny: string,
): Promise<{ dir: string; base: string; head: string }> {
  const dir = await Deno.makeTempDir({ prefix: "eagle_twins_" });
  const base = `${dir}/base`;
  const head = `${dir}/base/eagle`;
  await Deno.mkdir(head, { recursive: true });
  const config = JSON.parse(await Deno.readTextFile(`${tiny}/config.json`));
  config.num_hidden_layers = 1;
  const H: number = config.hidden_size;
  const shape: EagleFixtureShape = {
    hiddenSize: H,
    vocabSize: config.vocab_size,
    numHeads: config.num_attention_heads,
    kvHeads: config.num_key_value_heads,
    headDim: config.head_dim ?? H / config.num_attention_heads,
    intermediateSize: config.intermediate_size,
  };
  await Deno.writeTextFile(`${base}/config.json`, JSON.stringify(config));
  const st = await SafeTensors.open(`${tiny}/model.safetensors`);
  const baseT: Record<string, NamedTensor> = {};
  const headT: Record<string, NamedTensor> = {};
  for (const name of st.names) {
    if (name.startsWith("model.layers.") && !name.startsWith("model.layers.0.")) continue;
    const info = st.info(name)!;
    const t = { data: st.float32(name), shape: info.shape };
    baseT[name] = t;
    if (name.startsWith("model.layers.0.")) headT[name.slice("model.".length)] = t;
  }
  headT["norm.weight"] = baseT["model.norm.weight"]!;
  const fc = new Float32Array(H * 2 * H); // [H, 2H] f32: picks the embedding half
  for (let i = 0; i < H; i++) fc[i * 2 * H + i] = 1;
  headT["fc.weight"] = { data: fc, shape: [H, 2 * H] };
  await writeSafetensors(`${base}/model.safetensors`, baseT);
  await writeSafetensors(`${head}/model.safetensors`, headT);
  await Deno.writeTextFile(`${head}/config.json`, JSON.stringify(eagleConfig(shape, "..")));
  return { dir, base, head };
}
