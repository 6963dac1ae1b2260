/**
 * The prepared-model cache: a checkpoint converted (and quantized) once is kept as an ONNX
 * graph plus one weight file in a user cache folder, so later loads skip the conversion and
 * ONNX Runtime reads the weights from that file itself (no copy held by JavaScript).
 *
 * Layout under the root (`SPECDEC_CACHE`, else `$XDG_CACHE_HOME/specdec`, else
 * `~/.cache/specdec`), one folder per (checkpoint files, weight precision, quantization
 * options):
 *
 * ```
 * prepared/<weights key>/weights.bin          every external tensor, 4 KiB aligned
 * prepared/<weights key>/weights.json         source identity, options, size and sha256
 * prepared/<weights key>/graph-<key>.onnx     one graph per (KV length, attention, rotary)
 * prepared/<weights key>/graph-<key>.json     its size, sha256 and shapes
 * ```
 *
 * A checkpoint is identified by its folder's real path, its `config.json` bytes and, per weight
 * file, its name, size, inode, modification and change times and safetensors header: a changed
 * checkpoint gets a new entry (hashing every weight byte would cost seconds per load). Entries are
 * checked against their recorded sha256 on every load; a corrupt or partial entry is deleted
 * and rebuilt. Entries are written in a temporary folder and renamed into place, so a crash
 * or a concurrent load never leaves a half-written entry behind. After each new entry, entries
 * no load can hit any more (checkpoint gone or changed) and, past `SPECDEC_CACHE_MAX_GB`
 * (default 20), the least recently used ones are removed (`prune_prepared_cache.ts`).
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { ExternalSink } from "./onnx/graph_builder.ts";
import { specdecCacheRoot } from "../runtime/cache_root.ts";
import type { ModelConfig } from "./config.ts";
import type { BuildOptions, DecoderGraph } from "./graph/decoder_graph.ts";
import { weightPlan } from "./graph/_layers.ts";
import { cacheMaxBytes, prunePreparedCache, touchPrepared } from "./prune_prepared_cache.ts";

/**
 * Version of what the graph builders emit (graph structure, weight layout, quantization
 * defaults). Entries of another format are never read. `tests/model/prepared_format_test.ts`
 * fails when the emitted bytes change while this stays the same: bump it then.
 */
export const PREPARED_FORMAT = 5;
const FORMAT = PREPARED_FORMAT;
const ALIGN = 4096;

/** Shapes of a prepared graph that `CausalLM` needs without building it. */
export type PreparedShapes = Omit<DecoderGraph, "model" | "externals">;

/** Where a load's graph came from. */
export type CacheStatus = "hit" | "built" | "rebuilt" | "off" | "unavailable";

/**
 * The prepared-model cache's root: `SPECDEC_CACHE`, else `$XDG_CACHE_HOME/specdec`, else
 * `~/.cache/specdec` (undefined when none can be named, or when `SPECDEC_PREPARED_CACHE` is
 * `off` or `0`).
 *
 * @returns The folder, or undefined.
 */
export function cacheRoot(): string | undefined {
  let off = false;
  try {
    off = ["off", "0"].includes(Deno.env.get("SPECDEC_PREPARED_CACHE") ?? "");
  } catch {
    return undefined; // no --allow-env: no cache
  }
  return off ? undefined : specdecCacheRoot();
}

function sha256Hex(...parts: (string | Uint8Array)[]): string {
  const h = createHash("sha256");
  for (const p of parts) h.update(p);
  return h.digest("hex");
}

/**
 * Identity of a checkpoint's files: its real path, `config.json` bytes and, per
 * `*.safetensors` file, name, size, inode, modification and change times and header bytes
 * (no full read).
 *
 * @param dir The checkpoint folder.
 * @returns A hex digest.
 */
export async function checkpointIdentity(dir: string): Promise<string> {
  const h = createHash("sha256");
  h.update(`${await Deno.realPath(dir)}\0`);
  h.update(await Deno.readFile(`${dir}/config.json`));
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) {
    if (e.name.endsWith(".safetensors") || e.name === "model.safetensors.index.json") {
      names.push(e.name);
    }
  }
  for (const name of names.sort()) {
    const path = `${dir}/${name}`;
    const st = await Deno.stat(path);
    const times = `${st.mtime?.getTime() ?? 0}\0${st.ctime?.getTime() ?? 0}`;
    h.update(`${name}\0${st.size}\0${st.ino ?? 0}\0${times}\0`);
    using f = await Deno.open(path);
    const head = new Uint8Array(Math.min(st.size, 65536));
    let at = 0;
    while (at < head.length) {
      const n = await f.read(head.subarray(at));
      if (n === null) break;
      at += n;
    }
    h.update(head.subarray(0, at));
  }
  return h.digest("hex");
}

/** Hashes a file, streaming. Undefined when it cannot be read. */
async function fileSha256(path: string): Promise<{ sha256: string; size: number } | undefined> {
  try {
    using f = await Deno.open(path);
    const h = createHash("sha256");
    const buf = new Uint8Array(1 << 22);
    let size = 0;
    for (;;) {
      const n = await f.read(buf);
      if (n === null) break;
      h.update(buf.subarray(0, n));
      size += n;
    }
    return { sha256: h.digest("hex"), size };
  } catch {
    return undefined;
  }
}

async function readJson(path: string): Promise<Record<string, unknown> | undefined> {
  try {
    const v = JSON.parse(await Deno.readTextFile(path));
    return typeof v === "object" && v !== null ? v as Record<string, unknown> : undefined;
  } catch {
    return undefined;
  }
}

/** Whether a file's size and sha256 equal a record's. */
async function matches(
  path: string,
  record: Record<string, unknown> | undefined,
): Promise<boolean> {
  if (!record || record.format !== FORMAT) return false;
  const got = await fileSha256(path);
  return got !== undefined && got.size === record.bytes && got.sha256 === record.sha256;
}

/**
 * Writes tensors into `weights.bin` at 4 KiB-aligned offsets, hashing as it goes. The same
 * bytes (the same typed-array view) given twice, as two initializers of different shapes, are
 * stored once and both point at them.
 */
class WeightFileSink implements ExternalSink {
  #file: Deno.FsFile | undefined;
  #offset = 0;
  #hash = createHash("sha256");
  #seen = new WeakMap<ArrayBufferLike, Map<string, number>>();
  constructor(path: string | undefined) {
    this.#file = path === undefined ? undefined : Deno.openSync(path, {
      write: true,
      create: true,
      truncate: true,
    });
  }
  write(_name: string, bytes: Uint8Array): { location: string; offset: number } {
    const view = `${bytes.byteOffset}:${bytes.byteLength}`;
    let views = this.#seen.get(bytes.buffer);
    const known = views?.get(view);
    if (known !== undefined) return { location: "weights.bin", offset: known };
    const pad = (ALIGN - (this.#offset % ALIGN)) % ALIGN;
    if (pad > 0) this.#put(new Uint8Array(pad));
    const offset = this.#offset;
    this.#put(bytes);
    if (!views) this.#seen.set(bytes.buffer, views = new Map());
    views.set(view, offset);
    return { location: "weights.bin", offset };
  }
  #put(bytes: Uint8Array): void {
    if (this.#file) {
      let at = 0;
      while (at < bytes.length) at += this.#file.writeSync(bytes.subarray(at));
      this.#hash.update(bytes);
    }
    this.#offset += bytes.length;
  }
  /** Closes the file; returns its size and sha256. */
  finish(): { bytes: number; sha256: string } {
    this.#file?.close();
    this.#file = undefined;
    return { bytes: this.#offset, sha256: this.#hash.digest("hex") };
  }
  abort(): void {
    this.#file?.close();
    this.#file = undefined;
  }
}

/** What {@linkcode preparedGraph} needs to know and do. */
export interface PrepareRequest {
  /** The checkpoint folder. */
  dir: string;
  /** Options that change the weights (precision, quantization). */
  weightsKey: Record<string, unknown>;
  /** Options that change only the graph (KV length, attention, rotary). */
  graphKey: Record<string, unknown>;
  /**
   * Builds the graph, writing external weights into `sink`. The sink only counts offsets
   * (writes nothing) when the weight file already exists.
   */
  build(sink: ExternalSink): { model: Uint8Array; shapes: PreparedShapes };
}

/** A graph ready to load from a file. */
export interface PreparedGraph {
  /** The `.onnx` file (its weights in `weights.bin` beside it). */
  modelPath: string;
  /** Its shapes. */
  shapes: PreparedShapes;
  /** `hit`: read from the cache; `built`: made now; `rebuilt`: a bad entry was replaced. */
  status: "hit" | "built" | "rebuilt";
}

/** A cache that failed to write: the caller loads without it. */
export class CacheUnavailable extends Error {}

/**
 * The cache keys of a build: options that change the weights, and those that change only the
 * graph.
 *
 * @param config The checkpoint's config.
 * @param build Graph options.
 * @returns The two keys.
 */
export function keysOf(
  config: ModelConfig,
  build: BuildOptions,
): { weightsKey: Record<string, unknown>; graphKey: Record<string, unknown> } {
  // The activations change the graph, not the weights: one weight file serves both.
  const { activations, ...plan } = weightPlan({ ...build, externalWeights: true });
  return {
    weightsKey: { plan },
    graphKey: {
      format: FORMAT,
      family: config.family,
      maxLength: build.maxLength,
      kvSlots: build.kvSlots ?? build.maxLength,
      attention: build.attention ?? "gqa",
      rotary: build.rotary ?? "default",
      ...(activations !== "f32" ? { activations } : {}),
    },
  };
}

/** Paths of one cache entry. */
interface EntryPaths {
  identity: string;
  gKey: string;
  prepared: string;
  entry: string;
  graphPath: string;
  graphMeta: string;
}

async function entryOf(
  root: string,
  req: Pick<PrepareRequest, "dir" | "weightsKey" | "graphKey">,
): Promise<EntryPaths> {
  const identity = await checkpointIdentity(req.dir);
  const wKey = sha256Hex(JSON.stringify({ FORMAT, identity, ...req.weightsKey })).slice(0, 32);
  const gKey = sha256Hex(JSON.stringify(req.graphKey)).slice(0, 16);
  const prepared = `${root}/prepared`;
  const entry = `${prepared}/${wKey}`;
  return {
    identity,
    gKey,
    prepared,
    entry,
    graphPath: `${entry}/graph-${gKey}.onnx`,
    graphMeta: `${entry}/graph-${gKey}.json`,
  };
}

/**
 * Finds a whole, verified entry without building anything.
 *
 * @param root The cache root.
 * @param req The checkpoint and the options.
 * @returns The graph when the cache holds it intact, else undefined.
 */
export async function lookupPrepared(
  root: string,
  req: Pick<PrepareRequest, "dir" | "weightsKey" | "graphKey">,
): Promise<PreparedGraph | undefined> {
  const { entry, graphPath, graphMeta } = await entryOf(root, req);
  const meta = await readJson(graphMeta);
  if (!(await matches(graphPath, meta))) return undefined;
  if (!(await matches(`${entry}/weights.bin`, await readJson(`${entry}/weights.json`)))) {
    return undefined;
  }
  await touchPrepared(entry);
  return { modelPath: graphPath, shapes: meta!.shapes as PreparedShapes, status: "hit" };
}

/**
 * Finds or makes a prepared graph for a checkpoint.
 *
 * @param root The cache root.
 * @param req The checkpoint, the options, and how to build.
 * @returns The graph's file and shapes.
 * @throws {CacheUnavailable} When the cache folder cannot be written (full, read-only, not a
 *   folder); nothing half-written is left behind.
 */
export async function preparedGraph(root: string, req: PrepareRequest): Promise<PreparedGraph> {
  const { identity, gKey, prepared, entry, graphPath, graphMeta } = await entryOf(root, req);
  let status: PreparedGraph["status"] = "built";
  const maxBytes = cacheMaxBytes(); // a bad SPECDEC_CACHE_MAX_GB fails before any work

  const whole = async () =>
    await matches(`${entry}/weights.bin`, await readJson(`${entry}/weights.json`));
  let weightsOk = await whole();
  // An entry seen after a failed check may have been put in place, whole, by a concurrent load
  // in the meantime (entries appear by one rename): only one still broken now is rebuilt.
  if (!weightsOk && await exists(entry) && !(weightsOk = await whole())) {
    status = "rebuilt";
    await Deno.remove(entry, { recursive: true }).catch(() => {});
  }
  if (weightsOk) {
    const meta = await readJson(graphMeta);
    if (await matches(graphPath, meta)) {
      await touchPrepared(entry);
      return { modelPath: graphPath, shapes: meta!.shapes as PreparedShapes, status: "hit" };
    }
  }
  try {
    await Deno.mkdir(prepared, { recursive: true });
    const tmp = await Deno.makeTempDir({ dir: prepared, prefix: ".tmp-" });
    try {
      if (weightsOk) {
        // Weights present: rebuild the graph only (offsets counted, nothing written).
        const { model, shapes } = req.build(new WeightFileSink(undefined));
        await writeGraph(tmp, model, shapes);
        await Deno.rename(`${tmp}/graph.onnx`, graphPath);
        await Deno.rename(`${tmp}/graph.json`, graphMeta);
        await touchPrepared(entry);
        return { modelPath: graphPath, shapes, status };
      }
      const sink = new WeightFileSink(`${tmp}/weights.bin`);
      let built: { model: Uint8Array; shapes: PreparedShapes };
      try {
        built = req.build(sink);
      } catch (e) {
        sink.abort();
        throw e;
      }
      const { bytes, sha256 } = sink.finish();
      await Deno.writeTextFile(
        `${tmp}/weights.json`,
        JSON.stringify({
          format: FORMAT,
          bytes,
          sha256,
          source: req.dir,
          sourcePath: await Deno.realPath(req.dir),
          identity,
          ...req.weightsKey,
        }),
      );
      await writeGraph(tmp, built.model, built.shapes);
      await Deno.rename(`${tmp}/graph.onnx`, `${tmp}/graph-${gKey}.onnx`);
      await Deno.rename(`${tmp}/graph.json`, `${tmp}/graph-${gKey}.json`);
      try {
        await Deno.rename(tmp, entry);
      } catch {
        // A concurrent load put the entry in place first: use it when it is whole.
        await Deno.remove(tmp, { recursive: true }).catch(() => {});
        const meta = await readJson(graphMeta);
        if (!(await matches(graphPath, meta))) throw new CacheUnavailable(`cannot place ${entry}`);
        return { modelPath: graphPath, shapes: meta!.shapes as PreparedShapes, status };
      }
      // A new entry: drop the ones no load can hit any more and keep the cache in its budget.
      await prunePreparedCache(root, { maxBytes, keep: entry }).catch(() => {});
      return { modelPath: graphPath, shapes: built.shapes, status };
    } finally {
      await Deno.remove(tmp, { recursive: true }).catch(() => {});
    }
  } catch (e) {
    if (e instanceof CacheUnavailable) throw e;
    if (isFsError(e)) throw new CacheUnavailable((e as Error).message, { cause: e });
    throw e;
  }
}

/** Errors of the file system (or of a missing write permission), not of the checkpoint. */
function isFsError(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  const code = (e as { code?: string }).code;
  return e instanceof Deno.errors.PermissionDenied || e instanceof Deno.errors.NotCapable ||
    e instanceof Deno.errors.NotFound ||
    e instanceof Deno.errors.AlreadyExists || e instanceof Deno.errors.NotADirectory ||
    e instanceof Deno.errors.IsADirectory || code === "ENOSPC" || code === "EROFS" ||
    code === "EDQUOT" || /No space left|Read-only file system|Not a directory/i.test(e.message);
}

async function writeGraph(tmp: string, model: Uint8Array, shapes: PreparedShapes): Promise<void> {
  await Deno.writeFile(`${tmp}/graph.onnx`, model);
  await Deno.writeTextFile(
    `${tmp}/graph.json`,
    JSON.stringify({ format: FORMAT, bytes: model.length, sha256: sha256Hex(model), shapes }),
  );
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
