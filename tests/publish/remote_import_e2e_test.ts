import assert from "node:assert/strict";
import { CausalLM, DraftTargetDecoder, Tokenizer } from "../../mod.ts";
import { publishedFiles, rewriteSpecifiers, ROOT } from "./_published_files.ts";

const TARGET = `${ROOT}/models/bench-target`;
const DRAFT = `${ROOT}/models/bench-draft`;
const PROMPT = "def read_config(path):";
const MAX_NEW_TOKENS = 24;

/** The generation both sides run: greedy draft-target decoding, K = 3. */
const generation = (mod: string): string =>
  `import { CausalLM, DraftTargetDecoder, Tokenizer } from "${mod}";
using target = await CausalLM.load(${JSON.stringify(TARGET)}, { maxLength: 128, threads: 1 });
using draft = await CausalLM.load(${JSON.stringify(DRAFT)}, { maxLength: 128, threads: 1 });
const tokenizer = await Tokenizer.load(${JSON.stringify(TARGET)});
const decoder = new DraftTargetDecoder({
  draftModel: draft,
  targetModel: target,
  tokenizer,
  config: { numSpeculativeTokens: 3, temperature: 0, maxNewTokens: ${MAX_NEW_TOKENS} },
});
const { text, tokens } = await decoder.generate(${JSON.stringify(PROMPT)});
console.log(JSON.stringify({ text, tokens }));
`;

const MIME: Record<string, string> = {
  ts: "application/typescript; charset=utf-8",
  json: "application/json; charset=utf-8",
};

Deno.test({
  name:
    "the published files, served over HTTP, import and generate from an empty folder with a fresh DENO_DIR and no SPECDEC_LIB",
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    // The in-clone result, to compare with.
    using target = await CausalLM.load(TARGET, { maxLength: 128, threads: 1 });
    using draft = await CausalLM.load(DRAFT, { maxLength: 128, threads: 1 });
    const tokenizer = await Tokenizer.load(TARGET);
    const expected = await new DraftTargetDecoder({
      draftModel: draft,
      targetModel: target,
      tokenizer,
      config: { numSpeculativeTokens: 3, temperature: 0, maxNewTokens: MAX_NEW_TOKENS },
    }).generate(PROMPT);
    assert.ok(expected.tokens.length > 0);

    // Serve exactly the dry run's files, with bare specifiers mapped as JSR does at publish.
    const files = new Map((await publishedFiles()).map((f) => [f.path, f]));
    const imports = JSON.parse(Deno.readTextFileSync(`${ROOT}/deno.json`)).imports ?? {};
    const served: string[] = [];
    const hidden = new Set<string>();
    const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
      const path = decodeURIComponent(new URL(req.url).pathname.slice(1));
      served.push(path);
      if (!files.has(path) || hidden.has(path)) {
        return new Response("not published", { status: 404 });
      }
      const ext = path.slice(path.lastIndexOf(".") + 1);
      const bytes = Deno.readFileSync(`${ROOT}/${path}`);
      const body = ext === "ts"
        ? rewriteSpecifiers(new TextDecoder().decode(bytes), imports)
        : new Blob([bytes]);
      return new Response(body, {
        headers: { "content-type": MIME[ext] ?? "application/octet-stream" },
      });
    });
    const port = (server.addr as Deno.NetAddr).port;
    const base = `http://127.0.0.1:${port}`;
    const work = await Deno.makeTempDir({ prefix: "specdec-user-" });
    try {
      Deno.writeTextFileSync(`${work}/main.ts`, generation(`${base}/mod.ts`));
      // A fresh user: empty folder, own DENO_DIR and caches, no SPECDEC_LIB.
      // The caller's environment (proxy and CA settings reach npm), minus what would point
      // at the clone's build or caches.
      const env = Deno.env.toObject();
      for (const name of Object.keys(env)) {
        if (/^(SPECDEC_|DENO_DIR$|XDG_CACHE_HOME$|HF_)/.test(name)) delete env[name];
      }
      Object.assign(env, {
        HOME: work,
        DENO_DIR: `${work}/deno_dir`,
        SPECDEC_CACHE: `${work}/cache/specdec`,
        NO_COLOR: "1",
      });
      const userRun = (): Promise<Deno.CommandOutput> =>
        new Deno.Command(Deno.execPath(), {
          args: [
            "run",
            "--no-config",
            "--allow-ffi",
            "--allow-read",
            "--allow-write",
            "--allow-env",
            "--allow-run",
            `--allow-net=127.0.0.1:${port}`,
            `--allow-import=127.0.0.1:${port}`,
            "main.ts",
          ],
          cwd: work,
          clearEnv: true,
          env,
          stdout: "piped",
          stderr: "piped",
        }).output();
      const out = await userRun();
      const stdout = new TextDecoder().decode(out.stdout);
      const stderr = new TextDecoder().decode(out.stderr);
      assert.ok(out.success, `user script failed (exit ${out.code}):\n${stderr}\n${stdout}`);
      const got = JSON.parse(stdout.trim().split("\n").at(-1)!);
      assert.ok(got.text.length > 0, "no text generated");
      assert.deepEqual(got.tokens, expected.tokens);
      assert.equal(got.text, expected.text);
      // Only published files were asked for, and the native build went into the user cache.
      assert.ok(
        served.includes("mod.ts") && served.includes("native/CMakeLists.txt"),
        served.join(),
      );
      assert.deepEqual(served.filter((p) => !files.has(p)), []);
      const builds = [...Deno.readDirSync(`${work}/cache/specdec/native`)].map((e) => e.name);
      assert.equal(
        builds.filter((n) => /^\d+\.\d+\.\d+-[0-9a-f]{16}$/.test(n)).length,
        1,
        builds.join(),
      );
      assert.deepEqual(builds.filter((n) => n.startsWith(".build-") || n.endsWith(".lock")), []);
      assert.match(stderr, /building the native library into .*cache\/specdec\/native/);
      // A damaged cached library (truncated) is built again on the next load.
      const library = `${work}/cache/specdec/native/${builds[0]}/libspecdec.so`;
      Deno.truncateSync(library, 100);
      const again = await userRun();
      const againErr = new TextDecoder().decode(again.stderr);
      assert.ok(again.success, `second run failed (exit ${again.code}):\n${againErr}`);
      assert.deepEqual(
        JSON.parse(new TextDecoder().decode(again.stdout).trim()).tokens,
        got.tokens,
      );
      assert.match(againErr, /building the native library/);
      assert.ok(Deno.statSync(library).size > 100);
      // A native source the server cannot give: one error naming the URL and SPECDEC_LIB, and
      // nothing left in the (fresh) cache.
      hidden.add("native/src/specdec.c");
      Deno.writeTextFileSync(
        `${work}/probe.ts`,
        `import { nativeVersions } from "${base}/mod.ts";
try { nativeVersions(); } catch (e) { console.log((e as Error).message); Deno.exit(3); }`,
      );
      env.SPECDEC_CACHE = `${work}/cache2/specdec`;
      const probe = await new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--no-config",
          "--allow-ffi",
          "--allow-read",
          "--allow-write",
          "--allow-env",
          "--allow-run",
          `--allow-net=127.0.0.1:${port}`,
          `--allow-import=127.0.0.1:${port}`,
          "probe.ts",
        ],
        cwd: work,
        clearEnv: true,
        env,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const message = new TextDecoder().decode(probe.stdout);
      assert.equal(probe.code, 3, new TextDecoder().decode(probe.stderr));
      assert.match(
        message,
        /Cannot download the specdec native sources from http:\/\/127\.0\.0\.1/,
      );
      assert.match(message, /native\/src\/specdec\.c: HTTP 404/);
      assert.match(message, /SPECDEC_LIB/);
      assert.deepEqual([...Deno.readDirSync(`${work}/cache2/specdec/native`)], []);
    } finally {
      await server.shutdown();
      await Deno.remove(work, { recursive: true });
    }
  },
});
