/**
 * Writes a random-weight checkpoint with the exact shapes of a real model family member
 * (default SmolLM2-135M: 30 layers, hidden 576, 9/3 heads, FFN 1536, vocab 49152, tied
 * embeddings), stored in bf16 like the published files. For the benchmark's real-scale
 * section: the same shapes, and so the same memory traffic per token, as the model people run.
 *
 * Usage: deno run -A bench/real_scale/make_checkpoint.ts [--shape smollm2-135m] [--out DIR]
 *
 * @module
 */

import { parseArgs } from "node:util";

/** A Llama-family shape. */
export interface RealShape {
  /** `config.json` fields (Hugging Face names). */
  config: Record<string, unknown>;
  /** Hidden width. */
  hidden: number;
  /** MLP width. */
  intermediate: number;
  /** Decoder layers. */
  layers: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads. */
  kvHeads: number;
  /** Vocabulary. */
  vocab: number;
  /** Whether the LM head is the embedding table. */
  tied: boolean;
}

function llamaShape(
  hidden: number,
  intermediate: number,
  layers: number,
  heads: number,
  kvHeads: number,
  vocab: number,
  tied: boolean,
  extra: Record<string, unknown>,
): RealShape {
  return {
    hidden,
    intermediate,
    layers,
    heads,
    kvHeads,
    vocab,
    tied,
    config: {
      architectures: ["LlamaForCausalLM"],
      model_type: "llama",
      hidden_size: hidden,
      intermediate_size: intermediate,
      num_hidden_layers: layers,
      num_attention_heads: heads,
      num_key_value_heads: kvHeads,
      head_dim: hidden / heads,
      vocab_size: vocab,
      tie_word_embeddings: tied,
      hidden_act: "silu",
      rms_norm_eps: 1e-5,
      torch_dtype: "bfloat16",
      bos_token_id: 1,
      eos_token_id: 2,
      ...extra,
    },
  };
}

/** Shapes by name (configs as published, weights random). */
export const SHAPES: Record<string, RealShape> = {
  "smollm2-135m": llamaShape(576, 1536, 30, 9, 3, 49152, true, {
    max_position_embeddings: 8192,
    rope_theta: 100000,
  }),
  "smollm2-360m": llamaShape(960, 2560, 32, 15, 5, 49152, true, {
    max_position_embeddings: 8192,
    rope_theta: 100000,
  }),
};

/** A seeded xorshift128+ producing N(0, std) samples (sum of four uniforms, scaled). */
function gaussian(seed: number): (std: number) => number {
  let s0 = (seed ^ 0x9e3779b9) >>> 0 || 1;
  let s1 = (seed * 0x85ebca6b) >>> 0 || 2;
  const next = (): number => {
    let x = s0;
    const y = s1;
    s0 = y;
    x ^= x << 23;
    x ^= x >>> 17;
    x ^= y ^ (y >>> 26);
    s1 = x >>> 0;
    return ((s0 + s1) >>> 0) / 4294967296;
  };
  // Sum of 4 uniforms has variance 4/12; centred and scaled to unit variance.
  const k = Math.sqrt(3);
  return (std) => (next() + next() + next() + next() - 2) * k * std;
}

/** Writes `n` bf16 values into `out` (u16) at `at`. */
function fillBf16(out: Uint16Array, at: number, n: number, value: (i: number) => number): void {
  const f = new Float32Array(1);
  const bits = new Uint32Array(f.buffer);
  for (let i = 0; i < n; i++) {
    f[0] = value(i);
    const b = bits[0]!;
    out[at + i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16; // round to nearest even
  }
}

/**
 * Writes `config.json` and `model.safetensors` (bf16) of a random checkpoint.
 *
 * @param shape The shape.
 * @param dir Output folder (created).
 * @param seed Random seed.
 * @returns Bytes of the weight file.
 */
export async function makeCheckpoint(shape: RealShape, dir: string, seed = 1): Promise<number> {
  const { hidden: H, intermediate: I, layers: L, heads: NH, kvHeads: KV, vocab: V } = shape;
  const D = H / NH;
  const tensors: [string, number[], "normal" | "ones"][] = [
    ["model.embed_tokens.weight", [V, H], "normal"],
  ];
  for (let l = 0; l < L; l++) {
    const p = `model.layers.${l}`;
    tensors.push(
      [`${p}.input_layernorm.weight`, [H], "ones"],
      [`${p}.self_attn.q_proj.weight`, [NH * D, H], "normal"],
      [`${p}.self_attn.k_proj.weight`, [KV * D, H], "normal"],
      [`${p}.self_attn.v_proj.weight`, [KV * D, H], "normal"],
      [`${p}.self_attn.o_proj.weight`, [H, NH * D], "normal"],
      [`${p}.post_attention_layernorm.weight`, [H], "ones"],
      [`${p}.mlp.gate_proj.weight`, [I, H], "normal"],
      [`${p}.mlp.up_proj.weight`, [I, H], "normal"],
      [`${p}.mlp.down_proj.weight`, [H, I], "normal"],
    );
  }
  tensors.push(["model.norm.weight", [H], "ones"]);
  if (!shape.tied) tensors.push(["lm_head.weight", [V, H], "normal"]);
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  for (const [name, dims] of tensors) {
    const bytes = dims.reduce((a, b) => a * b, 1) * 2;
    header[name] = { dtype: "BF16", shape: dims, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((json.length + 8) % 8)) % 8);
  const headerBytes = new TextEncoder().encode(json);
  const data = new Uint16Array(offset / 2); // all tensors, bf16, file order
  const rand = gaussian(seed);
  let at = 0;
  for (const [, dims, init] of tensors) {
    const n = dims.reduce((a, b) => a * b, 1);
    fillBf16(data, at, n, init === "ones" ? () => 1 : () => rand(0.02));
    at += n;
  }
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(shape.config, null, 2) + "\n");
  const file = await Deno.open(`${dir}/model.safetensors`, {
    write: true,
    create: true,
    truncate: true,
  });
  try {
    const size = new Uint8Array(8);
    new DataView(size.buffer).setBigUint64(0, BigInt(headerBytes.length), true);
    for (const chunk of [size, headerBytes, new Uint8Array(data.buffer)]) {
      let written = 0;
      while (written < chunk.length) written += await file.write(chunk.subarray(written));
    }
  } finally {
    file.close();
  }
  return offset;
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      shape: { type: "string", default: "smollm2-135m" },
      out: { type: "string" },
      seed: { type: "string", default: "1" },
    },
  });
  const shape = SHAPES[values.shape];
  if (!shape) {
    console.error(`--shape must be one of ${Object.keys(SHAPES).join(", ")}`);
    Deno.exit(2);
  }
  const out = values.out ?? `.cache/real_scale/${values.shape}`;
  const bytes = await makeCheckpoint(shape, out, Number(values.seed));
  console.log(`${out}: ${(bytes / 1e6).toFixed(1)} MB of bf16 weights`);
}
