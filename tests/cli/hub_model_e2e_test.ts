// End to end: `deno run cli.ts generate --model org/name` against a mock hub on 127.0.0.1.

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import { MockHub } from "../model/_mock_hub.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");
const COMMIT = "89abcdef0123456789abcdef0123456789abcdef";

function folderFiles(dir: string): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (const e of Deno.readDirSync(dir)) {
    if (e.isFile) files[e.name] = Deno.readFileSync(`${dir}/${e.name}`);
  }
  return files;
}

async function cli(
  entry: string,
  args: string[],
  env: Record<string, string>,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-ffi",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--allow-run",
      "--allow-net=127.0.0.1",
      entry,
      ...args,
    ],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", HF_TOKEN: "", HF_HUB_OFFLINE: "", ...env },
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

Deno.test("cli.ts generate --model/--draft org/name fetch from HF_ENDPOINT and match the folders", async () => {
  await using hub = new MockHub({
    "org/tiny": { commit: COMMIT, files: folderFiles(`${ROOT}/models/tiny-target`) },
    "org/tiny-draft": { commit: COMMIT, files: folderFiles(`${ROOT}/models/tiny-draft`) },
  });
  const cache = await Deno.makeTempDir();
  const env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache };
  const common = ["def add(a, b):", "--method", "speculative", "--max-new-tokens", "8", "--json"];
  const byId = await cli("cli.ts", [
    "generate",
    ...common,
    "--model",
    "org/tiny",
    "--draft",
    `org/tiny-draft@${COMMIT}`,
  ], env);
  assert.equal(byId.code, 0, byId.stderr);
  const byDir = await cli("mod.ts", [
    "generate",
    ...common,
    "--model",
    `${ROOT}/models/tiny-target`,
    "--draft",
    `${ROOT}/models/tiny-draft`,
  ], env);
  assert.equal(byDir.code, 0, byDir.stderr);
  const a = JSON.parse(byId.stdout);
  const b = JSON.parse(byDir.stdout);
  assert.deepEqual(a.tokens, b.tokens);
  assert.ok(Deno.statSync(`${cache}/models--org--tiny/snapshots/${COMMIT}/config.json`).isFile);
  assert.equal(Deno.readTextFileSync(`${cache}/models--org--tiny/refs/main`), COMMIT);
});

Deno.test("cli.ts generate --method eagle/medusa with a hub --model: heads by hub id, as from folders", async () => {
  const local = `${ROOT}/models/tiny-target`;
  const files = folderFiles(local);
  for (const sub of ["eagle", "medusa"]) {
    for (const [name, bytes] of Object.entries(folderFiles(`${local}/${sub}`))) {
      files[`${sub}/${name}`] = bytes;
    }
  }
  await using hub = new MockHub({ "org/tiny": { commit: COMMIT, files } });
  const cache = await Deno.makeTempDir();
  const env = { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache };
  const common = ["def add(a, b):", "--max-new-tokens", "8", "--json"];
  for (
    const [method, flags] of [
      ["eagle", ["--model", "org/tiny"]], // the heads default to org/tiny/eagle@main
      ["medusa", ["--model", `org/tiny@${COMMIT}`, "--medusa", "org/tiny/medusa"]],
    ] as const
  ) {
    const byId = await cli("cli.ts", ["generate", ...common, "--method", method, ...flags], env);
    assert.equal(byId.code, 0, byId.stderr);
    const byDir = await cli(
      "cli.ts",
      ["generate", ...common, "--method", method, "--model", local],
      env,
    );
    assert.equal(byDir.code, 0, byDir.stderr);
    assert.deepEqual(JSON.parse(byId.stdout).tokens, JSON.parse(byDir.stdout).tokens, method);
    assert.ok(
      Deno.statSync(`${cache}/models--org--tiny/snapshots/${COMMIT}/${method}/config.json`),
    );
  }
});

Deno.test("cli.ts generate --model with an unknown or unreachable hub id: one line, exit 1, no stack", async () => {
  await using hub = new MockHub({});
  const cache = await Deno.makeTempDir();
  const missing = await cli(
    "cli.ts",
    ["generate", "x", "--method", "ar", "--model", "org/nothere"],
    {
      HF_ENDPOINT: hub.url,
      HF_HUB_CACHE: cache,
    },
  );
  assert.equal(missing.code, 1, missing.stderr);
  assert.match(missing.stderr, /config\.json of org\/nothere: repository not found .*HF_TOKEN/);
  assert.doesNotMatch(missing.stderr, /\n\s+at /);
  const offline = await cli(
    "cli.ts",
    ["generate", "x", "--method", "ar", "--model", "org/nothere"],
    {
      HF_ENDPOINT: hub.url,
      HF_HUB_CACHE: cache,
      HF_HUB_OFFLINE: "1",
    },
  );
  assert.equal(offline.code, 1, offline.stderr);
  assert.match(offline.stderr, /not in the cache .*HF_HUB_OFFLINE/);
  assert.doesNotMatch(offline.stderr, /\n\s+at /);
});
