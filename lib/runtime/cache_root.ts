/**
 * `specdecCacheRoot`: the user cache folder everything specdec caches lives under (native
 * builds in `native/`, prepared models in `prepared/`).
 *
 * @module
 */

/**
 * The cache root: `SPECDEC_CACHE`, else `$XDG_CACHE_HOME/specdec`, else `~/.cache/specdec`
 * (no trailing slash).
 *
 * @returns The folder (not created), or undefined when none of the variables is set or
 *   readable (no `--allow-env`).
 */
export function specdecCacheRoot(): string | undefined {
  const env = (name: string): string | undefined => {
    try {
      return Deno.env.get(name) || undefined;
    } catch {
      return undefined;
    }
  };
  const base = env("SPECDEC_CACHE") ??
    (env("XDG_CACHE_HOME") !== undefined ? `${env("XDG_CACHE_HOME")}/specdec` : undefined) ??
    (env("HOME") !== undefined ? `${env("HOME")}/.cache/specdec` : undefined);
  return base?.replace(/\/$/, "");
}
