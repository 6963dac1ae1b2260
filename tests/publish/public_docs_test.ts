import assert from "node:assert/strict";
import { ROOT } from "./_published_files.ts";

const ENTRY_POINTS = ["mod.ts", "cli.ts"];

interface DocJson {
  nodes: Record<string, { symbols: { name: string; declarations: unknown[] }[] }>;
}

/** `deno doc --json` of the package's entry points: what JSR shows a package user. */
async function packageDocs(): Promise<DocJson> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["doc", "--json", ...ENTRY_POINTS],
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(out.success, new TextDecoder().decode(out.stderr));
  return JSON.parse(new TextDecoder().decode(out.stdout));
}

/** Calls `visit` on every object under `value`, with the path of keys that led there. */
function walk(
  value: unknown,
  path: string,
  visit: (o: Record<string, unknown>, at: string) => void,
): void {
  if (Array.isArray(value)) {
    value.forEach((v, i) => walk(v, `${path}[${i}]`, visit));
  } else if (value !== null && typeof value === "object") {
    const o = value as Record<string, unknown>;
    visit(o, path);
    for (const [k, v] of Object.entries(o)) walk(v, `${path}.${k}`, visit);
  }
}

Deno.test("the package docs show no private constructors or members", async () => {
  const docs = await packageDocs();
  const found: string[] = [];
  for (const node of Object.values(docs.nodes)) {
    for (const symbol of node.symbols) {
      walk(symbol.declarations, symbol.name, (o, at) => {
        if (o.accessibility === "private") found.push(`${at} (${String(o.name ?? "constructor")})`);
      });
    }
  }
  assert.deepEqual(found, [], "private declarations in the docs");
});

Deno.test("every type the package docs name is exported by the package", async () => {
  const docs = await packageDocs();
  const exported = new Set<string>();
  for (const node of Object.values(docs.nodes)) {
    for (const symbol of node.symbols) exported.add(symbol.name);
  }
  const unexported = new Map<string, Set<string>>();
  for (const node of Object.values(docs.nodes)) {
    for (const symbol of node.symbols) {
      walk(symbol.declarations, symbol.name, (o) => {
        if (o.kind !== "typeRef" || o.value === null || typeof o.value !== "object") return;
        const ref = o.value as { typeName?: string; resolution?: { kind?: string } };
        // Unresolved names are globals (Promise, Float32Array, Deno.*); type parameters are local.
        const kind = ref.resolution?.kind;
        if (ref.typeName === undefined || (kind !== "local" && kind !== "import")) return;
        if (exported.has(ref.typeName)) return;
        const users = unexported.get(ref.typeName) ?? new Set<string>();
        users.add(symbol.name);
        unexported.set(ref.typeName, users);
      });
    }
  }
  assert.deepEqual(
    Object.fromEntries([...unexported].map(([name, users]) => [name, [...users].sort()])),
    {},
    "types named in the docs but not exported (name: the symbols whose docs show it)",
  );
});
