/**
 * The one place a model argument becomes a local folder: `CausalLM.load`, `Tokenizer.load`,
 * `MedusaHeads.load`, `EagleHeads.load` and the CLI call {@linkcode resolveModelPath}.
 *
 * @module
 */

import { hubDownload, type HubDownloadOptions } from "./hub_download.ts";
import { parseHubId } from "./hub_id.ts";
import { SpecDecError, StatusCode } from "../../runtime/errors.ts";

/** What a loader reads from a folder, which decides the files fetched from a hub. */
export type ModelFiles = "model" | "tokenizer" | "medusa" | "eagle";

const TOKENIZER_EXTRAS = [
  "tokenizer_config.json",
  "special_tokens_map.json",
  "chat_template.jinja",
  "generation_config.json",
];

/** Options of {@linkcode resolveModelPath}. */
export type ResolveModelOptions = Omit<HubDownloadOptions, "revision" | "optional">;

async function isDir(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Turns a model argument into a local folder. An existing folder is returned as it is; otherwise
 * a hub id (`org/name`, `org/name/subfolder`, `...@revision`) is fetched into the Hugging Face
 * cache (only the files `files` needs: config and weights, or the tokenizer's files, or Medusa
 * or EAGLE heads) and its snapshot folder is returned.
 *
 * @param pathOrId A folder or a hub id.
 * @param files What the caller reads: `"model"` (config.json, weights, generation and tokenizer
 *   files), `"tokenizer"`, or `"medusa"` / `"eagle"` (config.json and model.safetensors).
 * @param options Endpoint, cache folder, token, offline, progress (defaults from the `HF_*` env).
 * @returns A folder path.
 * @throws {SpecDecError} Code `IO` when a hub id cannot be fetched (see `hubDownload`); a path
 *   that is neither a folder nor a hub id is returned as it is, for the loader to name the file.
 *
 * @example A local folder is returned unchanged
 * ```ts
 * import { resolveModelPath } from "@specdec/specdec";
 * const dir = await Deno.makeTempDir();
 * if (await resolveModelPath(dir, "model") !== dir) throw new Error("unexpected");
 * ```
 */
export async function resolveModelPath(
  pathOrId: string,
  files: ModelFiles,
  options: ResolveModelOptions = {},
): Promise<string> {
  if (typeof pathOrId !== "string" || pathOrId === "") {
    throw new TypeError("the model must be a non-empty folder path or hub id");
  }
  if (await isDir(pathOrId)) return pathOrId;
  const id = parseHubId(pathOrId);
  // Not a hub id: a folder that does not exist, left to the loader's error naming the file.
  if (id === undefined) return pathOrId;
  const prefix = id.subfolder === "" ? "" : `${id.subfolder}/`;
  const get = (path: string, optional = false): Promise<string | undefined> =>
    hubDownload(id.repo, `${prefix}${path}`, { ...options, revision: id.revision, optional });
  let first: string | undefined;
  if (files === "tokenizer") {
    first = await get("tokenizer.json");
    for (const f of [...TOKENIZER_EXTRAS, "config.json"]) await get(f, true);
  } else {
    first = await get("config.json");
    if (files === "medusa" || files === "eagle") {
      await get("model.safetensors");
    } else {
      const index = await get("model.safetensors.index.json", true);
      if (index === undefined) {
        await get("model.safetensors");
      } else {
        let shards: string[];
        try {
          const map = JSON.parse(await Deno.readTextFile(index)).weight_map ?? {};
          shards = [...new Set(Object.values(map as Record<string, string>))];
        } catch (cause) {
          throw new SpecDecError(
            `Malformed ${index}: ${(cause as Error).message}`,
            StatusCode.IO,
            { cause },
          );
        }
        for (const shard of shards) {
          if (shard.includes("/") || shard.includes("\\")) {
            throw new SpecDecError(
              `Shard name ${JSON.stringify(shard)} in ${index}`,
              StatusCode.IO,
            );
          }
          await get(shard);
        }
      }
      for (const f of ["tokenizer.json", ...TOKENIZER_EXTRAS]) await get(f, true);
    }
  }
  return first!.slice(0, first!.lastIndexOf("/"));
}
