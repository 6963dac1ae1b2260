import assert from "node:assert/strict";
import { lock, lockSync } from "../../lib/runtime/_file_lock.ts";

const DEAD_PID = 2_000_000_000; // above any Linux pid_max: no such process

Deno.test("lockSync() breaks a lock whose owner process is gone and writes its own pid", () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/x.lock`;
  Deno.writeTextFileSync(path, `${DEAD_PID}\n`);
  const release = lockSync(path, 60 * 60_000);
  assert.equal(Deno.readTextFileSync(path).trim(), String(Deno.pid));
  release();
  assert.throws(() => Deno.statSync(path), Deno.errors.NotFound);
});

Deno.test("lock() breaks a lock older than staleMs even when its owner lives", async () => {
  const dir = Deno.makeTempDirSync();
  const path = `${dir}/x.lock`;
  Deno.writeTextFileSync(path, `${Deno.ppid}\n`);
  const old = new Date(Date.now() - 2 * 60 * 60_000);
  Deno.utimeSync(path, old, old);
  const release = await lock(path, 60 * 60_000);
  assert.equal(Deno.readTextFileSync(path).trim(), String(Deno.pid));
  release();
});
