/**
 * `resolveHeadsBase`: the base checkpoint of heads (Medusa, EAGLE) fetched by hub id, whose
 * config names the base relative to the heads' folder (`base_model`, default `..`).
 *
 * @module
 */

import { normalize } from "node:path";
import { parseHubId } from "./hub_id.ts";
import { resolveModelPath } from "./resolve_model.ts";

/**
 * The base folder of heads. For heads given as a folder, `baseDir` as the config names it. For
 * heads fetched by hub id (`org/name/eagle`), a base inside the same repository (`..` from
 * `eagle/`: the repository's root) is fetched too, at the commit the heads came from, and its
 * snapshot folder returned; a base outside the repository is left as named.
 *
 * @param heads What the caller passed: a folder or a hub id.
 * @param dir The heads' folder it resolved to (a snapshot folder for a hub id).
 * @param baseDir The base folder the heads' config names, resolved against `dir`.
 * @returns A folder holding the base checkpoint, or `baseDir` for the loader to name.
 * @throws {SpecDecError} Code `IO` when the base cannot be fetched (see `hubDownload`).
 */
export async function resolveHeadsBase(
  heads: string,
  dir: string,
  baseDir: string,
): Promise<string> {
  if (heads === dir) return baseDir; // a folder: nothing was fetched
  const id = parseHubId(heads);
  const snapshot = /^(.*\/snapshots\/([^/]+))(?:\/|$)/.exec(dir); // [.., root, commit]
  if (id === undefined || snapshot === null) return baseDir;
  const root = snapshot[1]!;
  const commit = snapshot[2]!;
  const base = normalize(baseDir).replace(/\/$/, "");
  if (base !== root && !base.startsWith(`${root}/`)) return baseDir; // outside the repository
  const sub = base.slice(root.length + 1);
  return await resolveModelPath(`${id.repo}${sub === "" ? "" : `/${sub}`}@${commit}`, "model");
}
