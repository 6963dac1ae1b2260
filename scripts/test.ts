/**
 * The project's full check, run by `deno task test` (and `.ci/run`): every step runs, each is
 * reported, and the process exits non-zero naming the steps that failed.
 *
 * Steps: install the npm dependencies pinned in deno.lock; `deno fmt --check`; `deno lint`;
 * `deno check` (all TypeScript: mod.ts, cli.ts, lib/, tests/, bench/, scripts/); native build; C unit
 * tests with CTest (under valgrind memcheck when installed); `deno test` (all
 * `tests/**\/*_test.ts`); the JSDoc examples (`deno test --doc mod.ts cli.ts lib/`); `deno doc
 * --lint mod.ts cli.ts`; `deno publish --dry-run`.
 *
 * ```sh
 * deno run --allow-run --allow-read --allow-env scripts/test.ts [--only=step,step]
 * ```
 *
 * @module
 */

import { parseArgs } from "node:util";

/** One step of the check. */
interface Step {
  /** Short name, used by `--only`. */
  name: string;
  /** Program and arguments. */
  cmd: string[];
}

/** Permissions every test gets (the README lists the same). */
export const TEST_PERMISSIONS = [
  "--allow-ffi",
  "--allow-read",
  "--allow-write",
  "--allow-env",
  "--allow-run",
  // Local servers only: the mock hub, the package server of the e2e test, the OpenAI server.
  "--allow-net=127.0.0.1",
];

const root = decodeURIComponent(new URL("..", import.meta.url).pathname).replace(/\/$/, "");
const deno = Deno.execPath();

function existing(paths: string[]): string[] {
  return paths.filter((p) => {
    try {
      Deno.statSync(`${root}/${p}`);
      return true;
    } catch {
      return false;
    }
  });
}

/**
 * The steps, in order.
 *
 * @returns Every step of `deno task test`.
 */
export function steps(): Step[] {
  return [
    { name: "install", cmd: [deno, "install", "--frozen"] },
    { name: "fmt", cmd: [deno, "fmt", "--check"] },
    { name: "lint", cmd: [deno, "lint"] },
    {
      name: "check",
      cmd: [
        deno,
        "check",
        ...existing(["mod.ts", "cli.ts", "lib/", "tests/", "bench/", "scripts/"]),
      ],
    },
    {
      name: "native",
      cmd: [deno, "run", ...TEST_PERMISSIONS, "scripts/build.ts", "--test"],
    },
    {
      name: "test",
      cmd: [deno, "test", "--v8-flags=--expose-gc", ...TEST_PERMISSIONS, "tests/"],
    },
    {
      name: "doctest",
      cmd: [deno, "test", "--doc", ...TEST_PERMISSIONS, ...existing(["mod.ts", "cli.ts", "lib/"])],
    },
    { name: "doc", cmd: [deno, "doc", "--lint", "mod.ts", "cli.ts"] },
    { name: "publish", cmd: [deno, "publish", "--dry-run", "--allow-dirty"] },
  ];
}

/** Joins byte chunks. */
function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/**
 * The part of a failed step's output that names its failures: from `deno test`'s ` ERRORS `
 * section on (which ends with ` FAILURES `), else its last lines; colours removed, at most
 * `limit` characters (the head of the section, where the first error is).
 *
 * @param output Everything the step printed.
 * @param limit Most characters kept.
 * @returns The text to repeat after the summary.
 */
export function failureTail(output: string, limit = 8000): string {
  // deno-lint-ignore no-control-regex
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  const errors = plain.lastIndexOf("\n ERRORS \n");
  const failures = plain.lastIndexOf("\n FAILURES \n");
  const from = errors >= 0 ? errors : failures;
  if (from >= 0) {
    const section = plain.slice(from + 1);
    if (section.length <= limit) return section;
    const summary = failures > from ? plain.slice(failures + 1) : "";
    const head = section.slice(0, Math.max(0, limit - summary.length - 20));
    return `${head}\n[...]\n${summary}`;
  }
  return plain.slice(-limit);
}

if (import.meta.main) {
  const { values } = parseArgs({ args: Deno.args, options: { only: { type: "string" } } });
  const all = steps();
  const only = values.only?.split(",").map((s) => s.trim()).filter((s) => s !== "");
  const unknown = (only ?? []).filter((n) => !all.some((s) => s.name === n));
  if (unknown.length > 0) {
    console.error(
      `Unknown step(s): ${unknown.join(", ")}; steps: ${all.map((s) => s.name).join(", ")}`,
    );
    Deno.exit(2);
  }
  const chosen = only === undefined ? all : all.filter((s) => only.includes(s.name));
  const failed: string[] = [];
  const failures: { step: string; tail: string }[] = [];
  const times: string[] = [];
  for (const step of chosen) {
    console.log(`\n=== ${step.name}: ${step.cmd.slice(1).join(" ")}`);
    const start = performance.now();
    const [program, ...args] = step.cmd;
    let ok = false;
    let output = "";
    try {
      const child = new Deno.Command(program!, {
        args,
        cwd: root,
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const chunks: Uint8Array[] = [];
      const pass = async (stream: ReadableStream<Uint8Array>, to: typeof Deno.stdout) => {
        for await (const chunk of stream) {
          chunks.push(chunk);
          // a write may take part of the chunk
          for (let at = 0; at < chunk.length;) at += await to.write(chunk.subarray(at));
        }
      };
      const [status] = await Promise.all([
        child.status,
        pass(child.stdout, Deno.stdout),
        pass(child.stderr, Deno.stderr),
      ]);
      ok = status.success;
      output = new TextDecoder().decode(concat(chunks));
    } catch (err) {
      console.error(`cannot run ${program}: ${err instanceof Error ? err.message : err}`);
    }
    const secs = ((performance.now() - start) / 1000).toFixed(1);
    times.push(`${step.name} ${ok ? "ok" : "FAILED"} (${secs}s)`);
    if (!ok) {
      failed.push(step.name);
      failures.push({ step: step.name, tail: failureTail(output) });
      console.error(`=== step '${step.name}' FAILED`);
    }
  }
  // A CI log may keep only its tail: repeat what each failed step said of its failures last.
  for (const f of failures) {
    console.error(`\n=== what step '${f.step}' said of its failures (repeated from above)`);
    console.error(f.tail);
  }
  console.log(`\n=== summary: ${times.join(", ")}`);
  if (failed.length > 0) {
    console.error(`deno task test FAILED at step(s): ${failed.join(", ")}`);
    Deno.exit(1);
  }
  console.log("deno task test: all steps passed");
}
