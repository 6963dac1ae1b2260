/**
 * A synthetic EAGLE head over a {@linkcode SyntheticLM} for decoder tests: a
 * real slot cache with tree masks, rewind and keep; its logits are the base's
 * logits for the token sequence its attended rows spell (plus noise), so with
 * `noise = 0` it is an oracle. Every row's feature is checked: a target
 * feature must be the base's context ending at the row's position with the
 * row's predecessor token, a predicted feature must come from a visible row
 * one position earlier. A decoder that feeds wrong tokens, features,
 * positions or masks fails loudly.
 *
 * @module
 */

import type {
  DrafterForwardOptions,
  DrafterResult,
  FeatureDrafter,
} from "../../lib/model/language_model.ts";
import type { SyntheticLM } from "./_synthetic_lm.ts";

function mix(h: number, x: number): number {
  h = Math.imul(h ^ x, 0x9e3779b1);
  h ^= h >>> 15;
  h = Math.imul(h, 0x85ebca77);
  return (h ^ (h >>> 13)) | 0;
}

/** The synthetic head. */
export class SyntheticEagleHead implements FeatureDrafter {
  readonly vocabSize: number;
  readonly hiddenSize = 2;
  readonly maxLength: number;
  readonly #lm: SyntheticLM;
  readonly #noise: number;
  #len = 0;
  #first = -1; // token 0 of the sequence (from the feature of the row at position 0)
  readonly #tok: Int32Array; // [maxLength] i32: token after each row's feature
  readonly #pos: Int32Array; // [maxLength] i32: each row's position
  /** Forward calls. */
  calls = 0;

  constructor(lm: SyntheticLM, noise = 1, maxLength = lm.maxLength + 64) {
    this.#lm = lm;
    this.vocabSize = lm.vocabSize;
    this.maxLength = maxLength;
    this.#noise = noise;
    this.#tok = new Int32Array(maxLength);
    this.#pos = new Int32Array(maxLength);
  }

  get kvLength(): number {
    return this.#len;
  }

  forward(
    ids: ArrayLike<number>,
    features: Float32Array,
    positions: ArrayLike<number>,
    options: DrafterForwardOptions = {},
  ): Promise<DrafterResult> {
    this.calls++;
    const S = ids.length;
    const P = this.#len;
    const T = P + S;
    if (S < 1 || positions.length !== S || features.length !== 2 * S) {
      throw new RangeError("ids / positions / features sizes");
    }
    if (T > this.maxLength) throw new RangeError(`head overflow: ${T} > ${this.maxLength}`);
    const start = options.maskStart ?? P;
    const W = T - start;
    const mask = options.treeMask;
    if (mask !== undefined && mask.length !== S * W) throw new RangeError("treeMask size");
    const visible = (i: number, slot: number): boolean =>
      slot < start || slot === P + i ||
      (slot < P + i && (mask ? mask[i * W + slot - start] === 1 : true));
    for (let i = 0; i < S; i++) {
      this.#tok[P + i] = ids[i]!;
      this.#pos[P + i] = positions[i]!;
    }
    const v = this.vocabSize;
    const rows = options.logitRows ?? Array.from({ length: S }, (_, i) => i);
    const logits = new Float32Array(rows.length * v); // [R, vocab] f32
    const hidden = new Float32Array(S * 2); // [S, 2] f32: [-1 - slot, position]
    const perRow: Float32Array[] = [];
    for (let i = 0; i < S; i++) {
      const t = positions[i]!;
      const f0 = features[2 * i]!;
      const f1 = features[2 * i + 1]!;
      const seen: number[] = [];
      for (let s = 0; s < P + i; s++) if (visible(i, s)) seen.push(s);
      if (f0 >= 0) {
        const ctx = this.#lm.contexts[f0];
        if (!ctx) throw new Error(`row ${i}: unknown target feature ${f0}`);
        const [lastTok, lastPos] = ctx[ctx.length - 1]!;
        if (lastPos !== t) throw new Error(`row ${i}: feature of position ${lastPos} at ${t}`);
        if (t === 0) this.#first = lastTok;
        else {
          const prev = seen[seen.length - 1];
          if (prev === undefined || this.#pos[prev] !== t - 1 || this.#tok[prev] !== lastTok) {
            throw new Error(`row ${i}: feature's token ${lastTok} is not the previous row's`);
          }
        }
      } else {
        const from = -1 - f0;
        if (!seen.includes(from) || this.#pos[from] !== t - 1 || f1 !== t - 1) {
          throw new Error(
            `row ${i} (position ${t}): predicted feature of slot ${from} not visible`,
          );
        }
      }
      if (this.#first < 0) throw new Error("no row at position 0 yet");
      const ctx: Array<[number, number]> = [[this.#first, 0]];
      for (const s of [...seen, P + i]) ctx.push([this.#tok[s]!, this.#pos[s]! + 1]);
      const r = this.#lm.logitsFor(ctx);
      let h = 0x51ed27;
      for (const [a, b] of ctx) h = mix(mix(h, a), b);
      for (let k = 0; k < v; k++) {
        r[k] = r[k]! + this.#noise * 3 * (((mix(h, k) >>> 0) / 4294967296) * 2 - 1);
      }
      perRow.push(r);
      hidden[2 * i] = -1 - (P + i);
      hidden[2 * i + 1] = t;
    }
    for (let k = 0; k < rows.length; k++) logits.set(perRow[rows[k]!]!, k * v);
    this.#len = T;
    return Promise.resolve({ hidden, logits });
  }

  rewind(length: number): void {
    if (!Number.isInteger(length) || length < 0 || length > this.#len) {
      throw new RangeError(`rewind(${length}) with kvLength ${this.#len}`);
    }
    this.#len = length;
  }

  keep(slots: ArrayLike<number>): void {
    const start = slots[0]!;
    for (let i = 0; i < slots.length; i++) {
      this.#tok[start + i] = this.#tok[slots[i]!]!;
      this.#pos[start + i] = this.#pos[slots[i]!]!;
    }
    this.#len = start + slots.length;
  }

  reset(): void {
    this.#len = 0;
    this.#first = -1;
  }
}
