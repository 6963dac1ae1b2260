// Model folder resolution for the CLI: bundled checkpoints and existence checks.

import { fileURLToPath } from "node:url";
import { UsageError } from "./usage_error.ts";
import { parseHubId } from "../model/hub/hub_id.ts";

/**
 * Folder of a bundled checkpoint under the repository's `models/`, or
 * `undefined` when this module was not loaded from a local file.
 */
export function bundledModelDir(name: string): string | undefined {
  const url = new URL(`../../models/${name}`, import.meta.url);
  if (url.protocol !== "file:") return undefined;
  return fileURLToPath(url);
}

/** True when `dir` is a folder holding `config.json`. */
export async function isModelDir(dir: string): Promise<boolean> {
  try {
    const info = await Deno.stat(`${dir}/config.json`);
    return info.isFile;
  } catch {
    return false;
  }
}

/** True when `dir` exists and is a folder. */
export async function isDir(dir: string): Promise<boolean> {
  try {
    return (await Deno.stat(dir)).isDirectory;
  } catch {
    return false;
  }
}

/**
 * Checks a model folder given by a flag: it must exist and hold `config.json`.
 * Throws a one-line {@link UsageError} naming the flag and the path.
 */
export async function requireModelDir(dir: string, flag: string, command: string): Promise<string> {
  if (!(await isDir(dir))) {
    if (parseHubId(dir) !== undefined) return dir; // a hub id: the loaders fetch it
    throw new UsageError(`${flag}: model folder not found: ${dir}`, command);
  }
  if (!(await isModelDir(dir))) {
    throw new UsageError(`${flag}: no config.json in model folder ${dir}`, command);
  }
  return dir;
}

/** Resolves `flagValue` or a bundled checkpoint, checking that it exists. */
export async function resolveModelDir(
  flagValue: string | undefined,
  bundled: string,
  flag: string,
  command: string,
): Promise<string> {
  if (flagValue !== undefined) return await requireModelDir(flagValue, flag, command);
  const dir = bundledModelDir(bundled);
  if (dir === undefined || !(await isModelDir(dir))) {
    throw new UsageError(
      `bundled checkpoint models/${bundled} not found; pass ${flag} DIR`,
      command,
    );
  }
  return dir;
}

/**
 * Creates a decoder, turning its argument checks (`TypeError`/`RangeError`
 * naming a parameter) into usage errors: they come from the user's flags.
 */
export function makeDecoder<T>(create: () => T, command: string): T {
  try {
    return create();
  } catch (err) {
    if (err instanceof TypeError || err instanceof RangeError) {
      throw new UsageError(err.message, command);
    }
    throw err;
  }
}
