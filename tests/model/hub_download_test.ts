import assert from "node:assert/strict";
import { hubDownload } from "../../lib/model/hub/hub_download.ts";
import { parseHubId } from "../../lib/model/hub/hub_id.ts";
import { resolveModelPath } from "../../lib/model/hub/resolve_model.ts";
import { CausalLM } from "../../lib/model/causal_lm.ts";
import { Tokenizer } from "../../lib/model/tokenizer.ts";
import { EagleHeads } from "../../lib/model/eagle_heads.ts";
import { MedusaHeads } from "../../lib/model/medusa_heads.ts";
import { SpecDecError } from "../../lib/runtime/errors.ts";
import { MockHub, type MockRepo } from "./_mock_hub.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const COMMIT = "0123456789abcdef0123456789abcdef01234567";
const enc = new TextEncoder();

function folderFiles(dir: string): Record<string, Uint8Array> {
  const files: Record<string, Uint8Array> = {};
  for (const e of Deno.readDirSync(dir)) {
    if (e.isFile) files[e.name] = Deno.readFileSync(`${dir}/${e.name}`);
  }
  return files;
}

function weights(n: number): Uint8Array {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = (i * 31 + 7) & 255;
  return b;
}

function repos(): Record<string, MockRepo> {
  return {
    "org/small": {
      commit: COMMIT,
      branches: ["main", "refs/pr/1"],
      files: {
        "config.json": enc.encode('{"model_type":"llama"}\n'),
        "model.safetensors": weights(300_000),
        "sub/config.json": enc.encode("{}\n"),
      },
    },
    "org/gated": {
      commit: COMMIT,
      token: "hf_good",
      files: { "config.json": enc.encode("{}\n") },
    },
    "org/corrupt": {
      commit: COMMIT,
      files: { "config.json": enc.encode("{}\n"), "model.safetensors": weights(5000) },
      corrupt: new Set(["model.safetensors"]),
    },
    "org/tiny": { commit: COMMIT, files: folderFiles(`${ROOT}models/tiny-target`) },
  };
}

/** Every file under `dir`, relative, with `@` marking symlinks. */
function tree(dir: string, base = dir): string[] {
  const out: string[] = [];
  for (const e of Deno.readDirSync(dir)) {
    const path = `${dir}/${e.name}`;
    if (e.isDirectory) out.push(...tree(path, base));
    else out.push(`${path.slice(base.length + 1)}${e.isSymlink ? "@" : ""}`);
  }
  return out.sort();
}

async function withEnv<T>(vars: Record<string, string>, work: () => Promise<T>): Promise<T> {
  const saved = Object.keys(vars).map((k) => [k, Deno.env.get(k)] as const);
  for (const [k, v] of Object.entries(vars)) Deno.env.set(k, v);
  try {
    return await work();
  } finally {
    for (const [k, v] of saved) v === undefined ? Deno.env.delete(k) : Deno.env.set(k, v);
  }
}

const quiet = { progress: null };

Deno.test("parseHubId() reads org/name, subfolders and revisions, and refuses paths", () => {
  assert.deepEqual(parseHubId("org/name"), { repo: "org/name", revision: "main", subfolder: "" });
  assert.deepEqual(parseHubId("org/name/medusa@refs/pr/1"), {
    repo: "org/name",
    revision: "refs/pr/1",
    subfolder: "medusa",
  });
  for (const bad of ["name", "/abs/path", "./rel/x", "../up/x", "~/x/y", "org/../x", "org/x@"]) {
    assert.equal(parseHubId(bad), undefined, bad);
  }
});

Deno.test("hubDownload() writes the huggingface_hub cache layout: blobs, refs, snapshot links", async () => {
  await using hub = new MockHub(repos());
  const cacheDir = await Deno.makeTempDir();
  const opts = { endpoint: hub.url, cacheDir, token: "", ...quiet };
  const config = await hubDownload("org/small", "config.json", opts);
  const model = await hubDownload("org/small", "model.safetensors", opts);
  const nested = await hubDownload("org/small", "sub/config.json", opts);
  const repo = `${cacheDir}/models--org--small`;
  assert.equal(config, `${repo}/snapshots/${COMMIT}/config.json`);
  assert.equal(nested, `${repo}/snapshots/${COMMIT}/sub/config.json`);
  const files = repos()["org/small"]!.files;
  const shaConfig = MockHub.gitSha1(files["config.json"]!);
  const shaModel = MockHub.sha256(files["model.safetensors"]!);
  assert.deepEqual(
    tree(repo),
    [
      `blobs/${shaConfig}`,
      `blobs/${shaModel}`,
      `blobs/${MockHub.gitSha1(files["sub/config.json"]!)}`,
      "refs/main",
      `snapshots/${COMMIT}/config.json@`,
      `snapshots/${COMMIT}/model.safetensors@`,
      `snapshots/${COMMIT}/sub/config.json@`,
    ].sort(),
  );
  assert.equal(Deno.readTextFileSync(`${repo}/refs/main`), COMMIT);
  assert.equal(Deno.readLinkSync(config!), `../../blobs/${shaConfig}`);
  assert.equal(
    Deno.readLinkSync(nested!),
    `../../../blobs/${MockHub.gitSha1(files["sub/config.json"]!)}`,
  );
  assert.deepEqual(Deno.readFileSync(model!), files["model.safetensors"]);
  // The LFS file went through the CDN redirect, without the token there.
  assert.ok(hub.requests.some((r) => r.method === "GET" && r.path.startsWith("/cdn/")));
  // Cached: offline, and with the hub gone, the same paths come back.
  assert.equal(await hubDownload("org/small", "config.json", { ...opts, offline: true }), config);
  await hub.close();
  assert.equal(await hubDownload("org/small", "model.safetensors", opts), model);
});

Deno.test("hubDownload() names the file and the hub for a 404, and the repository for 401s", async () => {
  await using hub = new MockHub(repos());
  const cacheDir = await Deno.makeTempDir();
  const opts = { endpoint: hub.url, cacheDir, token: "", ...quiet };
  await assert.rejects(
    () => hubDownload("org/small", "missing.json", opts),
    (e: unknown) =>
      e instanceof SpecDecError &&
      /missing\.json of org\/small: file not found .*404/.test(e.message),
  );
  assert.equal(
    await hubDownload("org/small", "missing.json", { ...opts, optional: true }),
    undefined,
  );
  assert.ok(
    Deno.statSync(`${cacheDir}/models--org--small/.no_exist/${COMMIT}/missing.json`).isFile,
  );
  await assert.rejects(
    () => hubDownload("org/nothere", "config.json", opts),
    (e: unknown) => e instanceof SpecDecError && /repository not found/.test(e.message),
  );
  await assert.rejects(
    () => hubDownload("org/gated", "config.json", opts),
    (e: unknown) =>
      e instanceof SpecDecError && /gated or private \(HTTP 401\).*HF_TOKEN/.test(e.message),
  );
  await assert.rejects(
    () => hubDownload("org/gated", "config.json", { ...opts, token: "hf_bad" }),
    (e: unknown) => e instanceof SpecDecError && /refused \(HTTP 401\)/.test(e.message),
  );
  const path = await hubDownload("org/gated", "config.json", { ...opts, token: "hf_good" });
  assert.equal(Deno.readTextFileSync(path!), "{}\n");
  assert.ok(!tree(cacheDir).some((p) => p.endsWith(".incomplete")));
});

Deno.test("hubDownload() resumes an interrupted transfer with a Range request", async () => {
  const r = repos();
  await using hub = new MockHub(r);
  const bytes = r["org/small"]!.files["model.safetensors"]!;
  hub.interrupt.add(MockHub.sha256(bytes));
  const cacheDir = await Deno.makeTempDir();
  const path = await hubDownload("org/small", "model.safetensors", {
    endpoint: hub.url,
    cacheDir,
    token: "",
    ...quiet,
  });
  assert.deepEqual(Deno.readFileSync(path!), bytes);
  const cdn = hub.requests.filter((q) => q.path.startsWith("/cdn/"));
  assert.equal(cdn.length, 2);
  assert.equal(cdn[0]!.range, null);
  assert.match(cdn[1]!.range ?? "", /^bytes=[1-9]\d*-$/);
  assert.ok(!tree(cacheDir).some((p) => p.endsWith(".incomplete")));
});

Deno.test("hubDownload() keeps a cut transfer for the next run, which resumes it", async () => {
  const r = repos();
  await using hub = new MockHub(r);
  const bytes = r["org/small"]!.files["model.safetensors"]!;
  const sha = MockHub.sha256(bytes);
  const cacheDir = await Deno.makeTempDir();
  const opts = { endpoint: hub.url, cacheDir, token: "", ...quiet, attempts: 1 };
  hub.interrupt.add(sha);
  await assert.rejects(
    () => hubDownload("org/small", "model.safetensors", opts),
    (e: unknown) =>
      e instanceof SpecDecError &&
      /model\.safetensors of org\/small .*interrupted.*resume/.test(e.message),
  );
  const repo = `${cacheDir}/models--org--small`;
  // Only the marked partial file: nothing in snapshots, no blob under its final name.
  assert.deepEqual(tree(`${repo}/blobs`), [`${sha}.incomplete`]);
  assert.deepEqual(tree(`${repo}/snapshots`), []);
  const path = await hubDownload("org/small", "model.safetensors", opts);
  assert.deepEqual(Deno.readFileSync(path!), bytes);
  assert.match(hub.requests.at(-1)!.range ?? "", /^bytes=[1-9]\d*-$/);
  assert.deepEqual(tree(`${repo}/blobs`), [sha]);
});

Deno.test("hubDownload() deletes a download whose sha256 does not match and names the file", async () => {
  await using hub = new MockHub(repos());
  const cacheDir = await Deno.makeTempDir();
  await assert.rejects(
    () =>
      hubDownload("org/corrupt", "model.safetensors", {
        endpoint: hub.url,
        cacheDir,
        token: "",
        ...quiet,
      }),
    (e: unknown) =>
      e instanceof SpecDecError &&
      /model\.safetensors of org\/corrupt .* corrupt \(sha256 [0-9a-f]{64}, expected/.test(
        e.message,
      ),
  );
  const repo = `${cacheDir}/models--org--corrupt`;
  assert.deepEqual(tree(`${repo}/blobs`), []);
  assert.deepEqual(tree(`${repo}/snapshots`), []);
});

Deno.test("hubDownload() replaces a corrupt cached blob (wrong size)", async () => {
  const r = repos();
  await using hub = new MockHub(r);
  const cacheDir = await Deno.makeTempDir();
  const opts = { endpoint: hub.url, cacheDir, token: "", ...quiet };
  const path = await hubDownload("org/small", "model.safetensors", opts);
  const blob = Deno.realPathSync(path!);
  Deno.writeFileSync(blob, new Uint8Array(10)); // damaged on disk
  await hubDownload("org/small", "model.safetensors", opts);
  assert.deepEqual(Deno.readFileSync(path!), r["org/small"]!.files["model.safetensors"]);
});

Deno.test("hubDownload() offline or without network: cache only, errors name the way out", async () => {
  await using hub = new MockHub(repos());
  const cacheDir = await Deno.makeTempDir();
  const opts = { endpoint: hub.url, cacheDir, token: "", ...quiet };
  await assert.rejects(
    () => hubDownload("org/small", "config.json", { ...opts, offline: true }),
    (e: unknown) =>
      e instanceof SpecDecError && /config\.json of org\/small is not in the cache .*HF_HUB_OFFLINE/
        .test(e.message),
  );
  await hub.close();
  await assert.rejects(
    () => hubDownload("org/small", "config.json", opts),
    (e: unknown) =>
      e instanceof SpecDecError &&
      e.message.startsWith(`Cannot reach ${hub.url} to download config.json of org/small`) &&
      e.message.includes("HF_HUB_OFFLINE=1"),
  );
  assert.deepEqual(tree(cacheDir), []);
});

Deno.test("hubDownload() names an unwritable cache folder and the variable to change", async () => {
  await using hub = new MockHub(repos());
  const file = await Deno.makeTempFile();
  await assert.rejects(
    () =>
      hubDownload("org/small", "config.json", {
        endpoint: hub.url,
        cacheDir: `${file}/hub`,
        token: "",
        ...quiet,
      }),
    (e: unknown) =>
      e instanceof SpecDecError &&
      e.message.startsWith(`Cannot write the Hugging Face cache ${file}/hub`) &&
      e.message.includes("HF_HUB_CACHE"),
  );
});

Deno.test("CausalLM.load() and Tokenizer.load() take a hub id (HF_ENDPOINT, HF_HUB_CACHE)", async () => {
  await using hub = new MockHub(repos());
  const cache = await Deno.makeTempDir();
  const local = `${ROOT}models/tiny-target`;
  await withEnv(
    { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache, HF_TOKEN: "", HF_HUB_OFFLINE: "0" },
    async () => {
      const dir = await resolveModelPath("org/tiny", "model", quiet);
      assert.equal(dir, `${cache}/models--org--tiny/snapshots/${COMMIT}`);
      using fromHub = await CausalLM.load("org/tiny", { maxLength: 32, threads: 1 });
      using fromDir = await CausalLM.load(local, { maxLength: 32, threads: 1 });
      const a = await fromHub.prefill([1, 2, 3]);
      const b = await fromDir.prefill([1, 2, 3]);
      assert.deepEqual(a.logits, b.logits);
      const tokHub = await Tokenizer.load(`org/tiny@${COMMIT}`);
      const tokDir = await Tokenizer.load(local);
      assert.deepEqual(tokHub.encode("def f(x):"), tokDir.encode("def f(x):"));
      // Offline, the cached snapshot serves the same id.
      await withEnv({ HF_HUB_OFFLINE: "1" }, async () => {
        assert.equal(await resolveModelPath("org/tiny", "model", quiet), dir);
      });
    },
  );
});

Deno.test("hubDownload() records a revision like refs/pr/1 under refs/ and refuses an unknown one", async () => {
  await using hub = new MockHub(repos());
  const cacheDir = await Deno.makeTempDir();
  const opts = { endpoint: hub.url, cacheDir, token: "", ...quiet };
  const path = await hubDownload("org/small", "config.json", { ...opts, revision: "refs/pr/1" });
  const repo = `${cacheDir}/models--org--small`;
  assert.equal(path, `${repo}/snapshots/${COMMIT}/config.json`);
  assert.equal(Deno.readTextFileSync(`${repo}/refs/refs/pr/1`), COMMIT);
  assert.equal(
    await hubDownload("org/small", "config.json", {
      ...opts,
      revision: "refs/pr/1",
      offline: true,
    }),
    path,
  );
  await assert.rejects(
    () => hubDownload("org/small", "config.json", { ...opts, revision: "nope" }),
    (e: unknown) =>
      e instanceof SpecDecError &&
      /config\.json of org\/small@nope: no such revision/.test(e.message),
  );
});

/** A folder's files and those of its subfolders `subs`, by repository path. */
function repoFiles(dir: string, subs: string[]): Record<string, Uint8Array> {
  const files = folderFiles(dir);
  for (const sub of subs) {
    for (const [name, bytes] of Object.entries(folderFiles(`${dir}/${sub}`))) {
      files[`${sub}/${name}`] = bytes;
    }
  }
  return files;
}

Deno.test("EagleHeads.load() and MedusaHeads.load() take a hub id and fetch their base from the same repository", async () => {
  const local = `${ROOT}models/tiny-target`;
  await using hub = new MockHub({
    "org/tiny": { commit: COMMIT, files: repoFiles(local, ["eagle", "medusa"]) },
  });
  const cache = await Deno.makeTempDir();
  const snapshot = `${cache}/models--org--tiny/snapshots/${COMMIT}`;
  await withEnv(
    { HF_ENDPOINT: hub.url, HF_HUB_CACHE: cache, HF_TOKEN: "", HF_HUB_OFFLINE: "0" },
    async () => {
      // A fresh cache: the head's base (`base_model` "..", the repository's root) is fetched by
      // the head's load, at the commit the head came from.
      using eagleHub = await EagleHeads.load("org/tiny/eagle", { maxLength: 32, threads: 1 });
      assert.equal(eagleHub.path, `${snapshot}/eagle`);
      assert.ok(Deno.statSync(`${snapshot}/model.safetensors`).isFile);
      using eagleDir = await EagleHeads.load(`${local}/eagle`, { maxLength: 32, threads: 1 });
      const H = eagleDir.hiddenSize;
      const features = Float32Array.from({ length: 2 * H }, (_, i) => Math.sin(i)); // [2, H] f32
      const a = await eagleHub.forward([5, 6], features, [0, 1]);
      const b = await eagleDir.forward([5, 6], features, [0, 1]);
      assert.deepEqual(a.logits, b.logits);
      assert.deepEqual(a.hidden, b.hidden);
      using medusaHub = await MedusaHeads.load(`org/tiny/medusa@${COMMIT}`, { threads: 1 });
      using medusaDir = await MedusaHeads.load(`${local}/medusa`, { threads: 1 });
      assert.equal(medusaHub.path, `${snapshot}/medusa`);
      const h = Float32Array.from({ length: H }, (_, i) => Math.cos(i)); // [H] f32
      assert.deepEqual(await medusaHub.forward(h), await medusaDir.forward(h));
      await assert.rejects(
        () => EagleHeads.load("org/nothere/eagle"),
        (e: unknown) =>
          e instanceof SpecDecError &&
          /eagle\/config\.json of org\/nothere: repository not found/.test(e.message),
      );
    },
  );
});
