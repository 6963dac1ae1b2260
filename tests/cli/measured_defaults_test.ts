// MEASURED_DEFAULTS: the CLI picks them per precision, and they match the benchmark report's best
// settings in results/benchmark_results.json (a regenerated report that moves a best setting
// fails here until the table follows).

import assert from "node:assert/strict";
import { fileURLToPath } from "node:url";
import {
  MEASURED_DEFAULTS,
  measuredDefaultsFor,
  type SpeculativeMethod,
} from "../../lib/cli/measured_defaults.ts";
import { loadedModels, onnxBackend } from "../../lib/cli/models.ts";
import { runCli } from "../../lib/cli/run_cli.ts";
import type { CliIO } from "../../lib/cli/output.ts";
import type { WeightPrecision } from "../../lib/model/graph/quantize_blockwise.ts";
import { bestSetting } from "../../bench/report/best_setting.ts";
import type { BenchmarkResults } from "../../bench/report/results.ts";
import { CharTokenizer, RuleModel } from "./_fake_models.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url)).replace(/\/$/, "");
const RESULTS = `${ROOT}/results/benchmark_results.json`;
const PRECISIONS: readonly WeightPrecision[] = ["f32", "q8", "q4"];
const METHODS: readonly SpeculativeMethod[] = ["speculative", "medusa", "lookup", "eagle"];
const TARGET = `${ROOT}/models/tiny-target`;
const DRAFT = `${ROOT}/models/tiny-draft`;

function readResults(): BenchmarkResults | undefined {
  try {
    return JSON.parse(Deno.readTextFileSync(RESULTS)) as BenchmarkResults;
  } catch {
    return undefined;
  }
}

function exists(path: string): boolean {
  try {
    Deno.statSync(path);
    return true;
  } catch {
    return false;
  }
}

const results = readResults();
if (results === undefined) {
  console.warn(`measured_defaults_test: no ${RESULTS}; report checks skipped`);
}
const reportPrecisions = results?.precision?.weights ?? [];
const haveModels = exists(`${TARGET}/config.json`) && exists(`${DRAFT}/config.json`);

Deno.test("loadedModels() takes K and tree from MEASURED_DEFAULTS at the target's precision", () => {
  for (const weights of [undefined, ...PRECISIONS]) {
    const row = MEASURED_DEFAULTS[weights ?? "f32"];
    const models = loadedModels({
      target: new RuleModel(256, 5),
      draft: new RuleModel(256, 5, 4),
      tokenizer: new CharTokenizer(),
      ...(weights !== undefined ? { weights } : {}),
    });
    const settings = { temperature: 0, maxNewTokens: 4, stop: [] };
    const branch = (n: number | undefined): string => (n ? ` + lookup ${n}` : "");
    assert.equal(
      models.decoder("speculative", settings).description,
      `draft-target (K=${row.speculative.k}${branch(row.speculative.lookup)})`,
    );
    assert.equal(
      models.decoder("lookup", settings).description,
      `prompt lookup (K=${row.lookup.k})`,
    );
    // An explicit --k / --lookup wins over the table.
    assert.equal(
      models.decoder("speculative", { ...settings, k: 7, lookup: 0 }).description,
      "draft-target (K=7)",
    );
    assert.equal(
      models.decoder("speculative", { ...settings, k: 2, lookup: 5 }).description,
      "draft-target (K=2 + lookup 5)",
    );
    models.close();
  }
});

Deno.test({
  name: "runCli() generate --weights q4 and f32 use each precision's measured K",
  ignore: !haveModels,
  async fn(): Promise<void> {
    for (const weights of ["f32", "q4"] as const) {
      let err = "";
      const io: CliIO = {
        writeOut: () => Promise.resolve(),
        writeErr: (t) => {
          err += t;
          return Promise.resolve();
        },
        stderrIsTerminal: false,
        stdinIsTerminal: true,
        readStdin: () => Promise.resolve(""),
      };
      const argv = ["generate", "-m", TARGET, "--draft", DRAFT, "--weights", weights];
      const code = await runCli([...argv, "-n", "4", "def add(a, b):"], {
        io,
        backend: onnxBackend(),
      });
      assert.equal(code, 0, err);
      assert.match(
        err,
        new RegExp(
          `draft-target \\(K=${MEASURED_DEFAULTS[weights].speculative.k}${
            MEASURED_DEFAULTS[weights].speculative.lookup
              ? ` \\+ lookup ${MEASURED_DEFAULTS[weights].speculative.lookup}`
              : ""
          }\\)`,
        ),
      );
    }
  },
});

Deno.test("measuredDefaultsFor() samples with the sampling settings, keeping each drafter's precision", () => {
  for (const weights of PRECISIONS) {
    const row = MEASURED_DEFAULTS[weights];
    assert.deepEqual(measuredDefaultsFor(weights, 0), row);
    const sampled = measuredDefaultsFor(weights, 0.7);
    for (const method of METHODS) {
      const want = row.sampling?.[method] ?? row[method];
      const drafter = (row[method] as { drafter?: WeightPrecision }).drafter;
      assert.deepEqual(
        sampled[method],
        method === "lookup" || drafter === undefined ? want : { ...want, drafter },
        `${weights} ${method}`,
      );
    }
    // The CLI's decoders take them when a request samples.
    const models = loadedModels({
      target: new RuleModel(256, 5),
      draft: new RuleModel(256, 5, 4),
      tokenizer: new CharTokenizer(),
      weights,
    });
    const s = sampled.speculative;
    assert.equal(
      models.decoder("speculative", { temperature: 1, maxNewTokens: 4, stop: [] }).description,
      `draft-target (K=${s.k}${s.lookup ? ` + lookup ${s.lookup}` : ""})`,
    );
    models.close();
  }
});

Deno.test({
  name: "MEASURED_DEFAULTS' sampling settings match the report's fastest sampled settings",
  ignore: results === undefined || !results.runs.some((r) => r.temperature > 0),
  fn(): void {
    const r = results!;
    const temperature = r.runs.find((x) => x.temperature > 0 && !x.weights)!.temperature;
    for (const method of METHODS) {
      const best = bestSetting(r, method, { temperature });
      const entry = MEASURED_DEFAULTS.f32.sampling?.[method];
      if (best === undefined) {
        assert.equal(entry, undefined, `${method} did not sample in the report`);
        continue;
      }
      const want: { k?: number; tree?: number; lookup?: number } = best.filter.tree !== undefined
        ? { tree: best.filter.tree }
        : { k: best.filter.k! };
      if (best.filter.lookup !== undefined) want.lookup = best.filter.lookup;
      assert.deepEqual(
        entry,
        want,
        `f32 ${method} at temperature ${temperature}: the report's fastest is ${best.name}; ` +
          "update MEASURED_DEFAULTS.f32.sampling in lib/cli/measured_defaults.ts",
      );
    }
  },
});

Deno.test({
  name: "MEASURED_DEFAULTS match the f32 best settings in results/benchmark_results.json",
  ignore: results === undefined,
  fn(): void {
    checkPrecision(results!, "f32");
  },
});

for (const weights of ["q8", "q4"] as const) {
  Deno.test({
    name: `MEASURED_DEFAULTS match the ${weights} best settings in results/benchmark_results.json`,
    // A report without a precision section (or without this precision) measured nothing here.
    ignore: !reportPrecisions.includes(weights),
    fn(): void {
      checkPrecision(results!, weights);
    },
  });
}

/**
 * Each method's table entry is the report's best setting at `weights` (a method the report did
 * not run there: the f32 entry), its drafter precision and lookup branch included, and `fastest`
 * is the method with the highest speedup.
 */
function checkPrecision(results: BenchmarkResults, weights: WeightPrecision): void {
  const row = MEASURED_DEFAULTS[weights];
  let fastest: { method: SpeculativeMethod; speedup: number } | undefined;
  for (const method of METHODS) {
    const best = bestSetting(results, method, { weights });
    const entry: { k?: number; tree?: number; drafter?: WeightPrecision; lookup?: number } =
      best === undefined
        ? { ...MEASURED_DEFAULTS.f32[method] }
        : best.filter.tree !== undefined
        ? { tree: best.filter.tree }
        : { k: best.filter.k! };
    // A drafter faster at another precision than the target's is part of the setting, and so is
    // a lookup branch: each is compared when the report's best or the table has one (results
    // without lookup-branch runs have no best with a branch, so the table must have none).
    if (best?.filter.drafterWeights !== undefined) entry.drafter = best.filter.drafterWeights;
    if (best?.filter.lookup !== undefined) entry.lookup = best.filter.lookup;
    assert.deepEqual(
      row[method],
      entry,
      `${weights} ${method}: the report's best is ${best?.name ?? "unmeasured (f32 value)"}; ` +
        `update lib/cli/measured_defaults.ts`,
    );
    if (best?.speedup !== undefined && (fastest === undefined || best.speedup > fastest.speedup)) {
      fastest = { method, speedup: best.speedup };
    }
  }
  if (fastest !== undefined) {
    assert.equal(row.fastest, fastest.method, `${weights}: fastest in the report`);
  }
}
