/**
 * The file set `deno publish --dry-run` would upload, for the package-limit test and the
 * end-to-end test that serves exactly these files.
 *
 * @module
 */

/** Repository root (no trailing slash). */
export const ROOT: string = decodeURIComponent(new URL("../../", import.meta.url).pathname)
  .replace(/\/$/, "");

/** One file of the package. */
export interface PublishedFile {
  /** Path relative to the root, `/`-separated. */
  path: string;
  /** Size in bytes. */
  size: number;
}

/**
 * Runs `deno publish --dry-run --allow-dirty --no-check` and lists the files it would publish.
 *
 * @returns The files, sorted by path.
 */
export async function publishedFiles(): Promise<PublishedFile[]> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["publish", "--dry-run", "--allow-dirty", "--no-check"],
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`deno publish --dry-run failed:\n${text}`);
  const prefix = `file://${ROOT}/`;
  const files: PublishedFile[] = [];
  for (const line of text.split("\n")) {
    const m = /^\s+(file:\/\/\S+) \(/.exec(line);
    if (m === null || !m[1]!.startsWith(prefix)) continue;
    const path = decodeURIComponent(m[1]!.slice(prefix.length));
    files.push({ path, size: (await Deno.stat(`${ROOT}/${path}`)).size });
  }
  if (files.length === 0) throw new Error(`no files in the dry run's output:\n${text}`);
  return files.sort((a, b) => a.path < b.path ? -1 : 1);
}

/**
 * Rewrites bare specifiers mapped by deno.json's `imports` (`"@huggingface/tokenizers"` to
 * `"npm:@huggingface/tokenizers@0.2.0"`), as JSR does to a package's modules at publish time.
 *
 * @param source A module's text.
 * @param imports deno.json's `imports`.
 * @returns The text with mapped specifiers.
 */
export function rewriteSpecifiers(source: string, imports: Record<string, string>): string {
  let text = source;
  for (const [key, value] of Object.entries(imports)) {
    const escaped = key.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");
    const re = new RegExp(`((?:from|import)\\s*\\(?\\s*)(["'])${escaped}(/[^"']*)?\\2`, "g");
    text = text.replace(
      re,
      (_m, lead: string, q: string, sub: string | undefined) =>
        `${lead}${q}${value}${sub ?? ""}${q}`,
    );
  }
  return text;
}
