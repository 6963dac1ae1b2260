/**
 * The contract between decoders and models: a causal language model with a
 * static, in-place KV cache that can verify a chain or a tree of tokens in one
 * forward pass. `CausalLM` (ONNX Runtime) implements it; tests may implement
 * it with a synthetic model.
 *
 * @module
 */

/** What one forward pass returns. */
export interface ForwardResult {
  /** Logits of every new position: `[S, vocabSize]` f32, row `i` for `ids[i]`. Owned by the caller. */
  logits: Float32Array;
  /**
   * Last hidden states after the final norm, `[S, hiddenSize]` f32, present
   * only when `ForwardOptions.hidden` was true. Owned by the caller.
   */
  hidden?: Float32Array;
}

/** Options of {@linkcode LanguageModel.forward}. */
export interface ForwardOptions {
  /**
   * Tree mask `[S, S]` u8, row-major: `treeMask[i * S + j] = 1` when new
   * token `i` may attend new token `j` (its ancestors and itself). Nodes are
   * ordered parents before children. Every new token always attends the whole
   * cached prefix `[0, kvLength)`. Absent: causal (a chain).
   */
  treeMask?: Uint8Array;
  /** Also return the last hidden states (Medusa and EAGLE heads read them). */
  hidden?: boolean;
  /**
   * `last`: logits of the last new token only (`[1, vocab]`), as a prefill needs; a model may
   * skip the others' LM-head products. Default `all` (`[S, vocab]`).
   */
  logits?: "all" | "last";
}

/**
 * A causal LM whose KV cache lives in fixed slots `[0, maxLength)`.
 *
 * `forward(ids, positions)` writes the K/V of the `S = ids.length` new tokens
 * at slots `[kvLength, kvLength + S)` and advances `kvLength` by `S`.
 * Rejected speculation is undone with `rewind` (chains) or `keep` (trees);
 * nothing is reallocated.
 */
export interface LanguageModel {
  /** Number of logits per position. */
  readonly vocabSize: number;
  /** Width of the hidden states returned with `hidden: true`. */
  readonly hiddenSize: number;
  /** Capacity of the KV cache in tokens (prompt plus generation plus speculation). */
  readonly maxLength: number;
  /** Number of cached tokens: the next forward writes at this slot. */
  readonly kvLength: number;

  /**
   * Runs the prompt from an empty cache (resets first) at positions `0..n-1`.
   *
   * @param ids Prompt token ids `[n]`, `n >= 1`.
   * @param options Forward options (`hidden`).
   * @returns Logits `[n, vocabSize]` (and hidden states when asked).
   */
  prefill(ids: ArrayLike<number>, options?: ForwardOptions): Promise<ForwardResult>;

  /**
   * Appends `S` tokens at slots `[kvLength, kvLength + S)`.
   *
   * @param ids New token ids `[S]`.
   * @param positions Position id of each new token `[S]` (its depth-based position in a tree).
   * @param options Tree mask and hidden-state request.
   * @returns Logits `[S, vocabSize]` (and hidden states when asked).
   */
  forward(
    ids: ArrayLike<number>,
    positions: ArrayLike<number>,
    options?: ForwardOptions,
  ): Promise<ForwardResult>;

  /**
   * Drops cached tokens past `length`.
   *
   * @param length New `kvLength`, `0 <= length <= kvLength`.
   */
  rewind(length: number): void;

  /**
   * Compacts an accepted tree path: keeps the prefix `[0, slots[0])`, then
   * moves the entries at `slots` (strictly increasing, `< kvLength`) to follow
   * it; `kvLength` becomes `slots[0] + slots.length`.
   *
   * @param slots Absolute cache slots to keep, in order.
   */
  keep(slots: ArrayLike<number>): void;

  /** Empties the cache (`kvLength = 0`). */
  reset(): void;
}

/** Multi-token prediction heads (Medusa): next-next tokens from a hidden state. */
export interface PredictionHeads {
  /** Number of heads; head `k` predicts the token `k + 2` positions after the hidden state's token. */
  readonly numHeads: number;
  /** Number of logits per head. */
  readonly vocabSize: number;
  /**
   * Runs every head on one hidden state.
   *
   * @param hidden Last hidden state `[hiddenSize]` f32.
   * @returns Logits `[numHeads, vocabSize]` f32, owned by the caller.
   */
  forward(hidden: Float32Array): Promise<Float32Array>;
}

/** The tokenizer surface decoders need. */
export interface TextTokenizer {
  /** Size of the vocabulary (ids are `< vocabSize`). */
  readonly vocabSize: number;
  /** End-of-sequence id, or `undefined` when the tokenizer has none. */
  readonly eosTokenId: number | undefined;
  /** Beginning-of-sequence id, or `undefined`. */
  readonly bosTokenId: number | undefined;
  /** Every id that ends generation (absent: `[eosTokenId]`). */
  readonly eosTokenIds?: readonly number[];
  /** Whether text prompts start with BOS by default (absent: false). */
  readonly addBosToken?: boolean;
  /**
   * Renders and encodes a conversation with the chat template (absent: no chat support).
   *
   * @param messages The conversation, `{ role, content }` each.
   * @returns Token ids.
   */
  encodeChat?(messages: readonly { role: string; content: string }[]): number[];
  /**
   * Encodes text to token ids.
   *
   * @param text Text to encode.
   * @returns Token ids (no special tokens added).
   */
  encode(text: string): number[];
  /**
   * Decodes token ids to text.
   *
   * @param ids Token ids.
   * @returns The decoded text (special tokens skipped).
   */
  decode(ids: ArrayLike<number>): string;
}

/** Options of {@linkcode FeatureDrafter.forward}. */
export interface DrafterForwardOptions {
  /**
   * Who sees whom among the rows from `maskStart` on: `[S, kvLength + S - maskStart]` u8,
   * row-major; `treeMask[i * W + j] = 1` when new row `i` may attend slot `maskStart + j`.
   * Slots before `maskStart` are always visible; a row must see itself and nothing after it.
   * Absent: causal.
   */
  treeMask?: Uint8Array;
  /** First slot the mask covers, `<= kvLength`; default `kvLength` (the mask is `[S, S]`). */
  maskStart?: number;
  /** Rows whose logits to compute, each in `[0, S)`; default every row. */
  logitRows?: ArrayLike<number>;
}

/** What one drafter forward returns. */
export interface DrafterResult {
  /** Predicted next features `[S, hiddenSize]` f32 (fed back as the next rows' features). */
  hidden: Float32Array;
  /** Draft logits of the asked rows `[R, vocabSize]` f32. */
  logits: Float32Array;
}

/**
 * A feature-level drafter (an EAGLE head): row `t` reads the target's feature
 * `f_t` and the token `t + 1`, attends its own KV cache (slots `[0, maxLength)`,
 * written in place like {@linkcode LanguageModel}'s) and predicts `f_{t+1}` and
 * the logits of token `t + 2`.
 */
export interface FeatureDrafter {
  /** Number of logits per row. */
  readonly vocabSize: number;
  /** Feature width (the target's hidden size). */
  readonly hiddenSize: number;
  /** KV capacity in rows. */
  readonly maxLength: number;
  /** Number of cached rows: the next forward writes at this slot. */
  readonly kvLength: number;
  /**
   * Appends `S` rows at slots `[kvLength, kvLength + S)`.
   *
   * @param ids Token after each feature `[S]`.
   * @param features Features `[S, hiddenSize]` f32.
   * @param positions Position id of each row `[S]` (the feature's position).
   * @param options Tree mask and logit rows.
   * @returns Predicted features and draft logits.
   */
  forward(
    ids: ArrayLike<number>,
    features: Float32Array,
    positions: ArrayLike<number>,
    options?: DrafterForwardOptions,
  ): Promise<DrafterResult>;
  /**
   * Drops cached rows past `length`.
   *
   * @param length New `kvLength`.
   */
  rewind(length: number): void;
  /**
   * Compacts kept rows: `slots` (strictly increasing) move to `slots[0], slots[0] + 1, ...`.
   *
   * @param slots Absolute slots to keep.
   */
  keep(slots: ArrayLike<number>): void;
  /** Empties the cache. */
  reset(): void;
}
