// End to end: `mod.ts generate --method eagle` on tiny-target and its committed random EAGLE head.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { TINY_EAGLE, writeRandomEagle } from "../model/_eagle_fixture.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");
const TARGET = `${ROOT}/models/tiny-target`;

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", "mod.ts", "generate", "-m", TARGET, ...args],
    cwd: ROOT,
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

const PROMPT = "def fibonacci(n):\n    ";

Deno.test({
  name: "generate --method eagle (chain and tree) prints the autoregressive tokens",
  ignore: !exists(`${TARGET}/eagle/config.json`),
  fn: async () => {
    const ar = await cli(["--method", "ar", "-n", "24", "--json", PROMPT]);
    assert.equal(ar.code, 0, ar.stderr);
    const want = JSON.parse(ar.stdout).tokens;
    const shapes = [["--k", "3"], ["--tree", "6"], ["--tree", "10", "--k", "4"], [
      "--k",
      "2",
      "--lookup",
      "8",
    ]];
    for (const flags of shapes) {
      const r = await cli(["--method", "eagle", ...flags, "-n", "24", "--json", PROMPT]);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(JSON.parse(r.stdout).tokens, want, flags.join(" "));
    }
    const text = await cli(["--method", "eagle", "--tree", "6", "-n", "8", PROMPT]);
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stderr, /eagle \(6-node tree, depth \d+, top-\d+( \+ lookup \d+)?\)/);
    const branch = await cli(["--method", "eagle", "--k", "2", "--lookup", "8", "-n", "8", PROMPT]);
    assert.equal(branch.code, 0, branch.stderr);
    assert.match(branch.stderr, /eagle \(chain K=2 \+ lookup 8\)/);
    const misuse = await cli(["--method", "lookup", "--lookup", "8", PROMPT]);
    assert.equal(misuse.code, 2, misuse.stderr);
    assert.match(misuse.stderr, /--lookup is only used by --method speculative, medusa or eagle/);
  },
});

Deno.test("generate --method eagle: a head whose base differs exits 1 naming both; a bad --tree exits 2", async () => {
  const dir = await Deno.makeTempDir({ prefix: "eagle_cli_" });
  try {
    await writeRandomEagle(dir, TARGET, { ...TINY_EAGLE, hiddenSize: 64, headDim: 16 });
    const r = await cli(["--method", "eagle", "--eagle", dir, "-n", "4", PROMPT]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /EAGLE head .* \(hidden 64, vocab 4096\) does not fit the base .* \(hidden 128, vocab 4096\)/,
    );
    await writeRandomEagle(dir, TARGET, TINY_EAGLE);
    const bad = await cli(["--method", "eagle", "--eagle", dir, "--tree", "200", PROMPT]);
    assert.equal(bad.code, 2, bad.stderr);
    assert.match(bad.stderr, /treeNodes must be in \[0, 128\], got 200/);
    assert.equal(bad.stderr.split("\n").filter((l) => l.startsWith("error:")).length, 1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
