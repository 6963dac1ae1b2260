/**
 * `Environment`: the ONNX Runtime environment (logging, optional global thread pools) that
 * sessions are created in.
 *
 * @module
 */

import { loadLibrary } from "./library.ts";
import { ERR_CAP, readErr } from "./_ffi.ts";
import { SpecDecError, StatusCode } from "./errors.ts";

/** Options of {@linkcode Environment}. */
export interface EnvironmentOptions {
  /**
   * ONNX Runtime's own log level: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal (default 4:
   * failures reach you as {@linkcode SpecDecError} messages instead).
   */
  logLevel?: 0 | 1 | 2 | 3 | 4;
  /**
   * Threads of one global intra-op pool shared by every session of this environment that does
   * not set its own thread counts (0: ONNX Runtime's choice). Absent: each session has its own
   * pool. Sharing helps when two sessions (draft and target) alternate.
   */
  globalIntraOpThreads?: number;
  /** Threads of the global inter-op pool (with `globalIntraOpThreads`; default 0 = automatic). */
  globalInterOpThreads?: number;
  /** Whether the global pool's idle threads spin (default true, ONNX Runtime's default). */
  globalSpinning?: boolean;
}

/** Something an environment closes before itself. */
interface Child {
  close(): void;
}

const registry = new FinalizationRegistry<Deno.PointerValue>((handle) => {
  // The environment was collected without close(): release its reference (sessions keep theirs).
  loadLibrary().symbols.sd_env_destroy(handle);
});

function checkCount(value: number | undefined, name: string): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
    throw new RangeError(`${name} must be a non-negative integer, got ${value}`);
  }
}

/**
 * An ONNX Runtime environment. ONNX Runtime keeps one per process; environments alive at the
 * same time must agree on the global pool options.
 *
 * @example Creating and closing
 * ```ts
 * import { Environment } from "@specdec/specdec";
 * const env = new Environment({ logLevel: 3 });
 * env.close();
 * if (!env.closed) throw new Error("unexpected");
 * ```
 */
export class Environment implements Disposable {
  #handle: Deno.PointerValue;
  #children = new Set<WeakRef<Child>>();

  /**
   * Creates the environment (loads, and on first use builds, the native library).
   *
   * @param options Log level and global thread pool.
   * @throws {RangeError} For a bad option.
   * @throws {SpecDecError} When the native library cannot load or ONNX Runtime refuses.
   */
  constructor(options: EnvironmentOptions = {}) {
    const logLevel = options.logLevel ?? 4;
    if (![0, 1, 2, 3, 4].includes(logLevel)) {
      throw new RangeError(`options.logLevel must be 0..4, got ${logLevel}`);
    }
    checkCount(options.globalIntraOpThreads, "options.globalIntraOpThreads");
    checkCount(options.globalInterOpThreads, "options.globalInterOpThreads");
    const lib = loadLibrary();
    const err = new Uint8Array(ERR_CAP);
    const out = new BigUint64Array(1);
    const status = lib.symbols.sd_env_create(
      logLevel,
      options.globalIntraOpThreads ?? -1,
      options.globalInterOpThreads ?? 0,
      options.globalSpinning === false ? 0 : 1,
      err,
      BigInt(ERR_CAP),
      out,
    );
    if (status !== 0) {
      throw new SpecDecError(`Cannot create the environment: ${readErr(err)}`, status);
    }
    this.#handle = Deno.UnsafePointer.create(out[0] ?? 0n);
    registry.register(this, this.#handle, this);
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#handle === null;
  }

  /**
   * The native handle, for sessions created in this environment.
   *
   * @internal
   * @ignore
   * @returns The `sd_env *`.
   * @throws {SpecDecError} Code `STATE` after close().
   */
  handle(): Deno.PointerValue {
    if (this.#handle === null) {
      throw new SpecDecError("Environment is closed", StatusCode.STATE);
    }
    return this.#handle;
  }

  /**
   * Registers a session so that {@linkcode close} closes it first.
   *
   * @internal
   * @ignore
   * @param child The session.
   * @returns A function that unregisters it.
   */
  adopt(child: Child): () => void {
    const ref = new WeakRef(child);
    this.#children.add(ref);
    return () => this.#children.delete(ref);
  }

  /** Closes every session of this environment, then the environment. Idempotent. */
  close(): void {
    if (this.#handle === null) return;
    for (const ref of [...this.#children]) ref.deref()?.close();
    this.#children.clear();
    registry.unregister(this);
    loadLibrary().symbols.sd_env_destroy(this.#handle);
    this.#handle = null;
  }

  /** Same as {@linkcode close}. */
  [Symbol.dispose](): void {
    this.close();
  }
}
