/**
 * A lock file shared by processes (the native build, hub downloads): created with `createNew`,
 * holding the owner's pid. A lock whose owner is gone (a process killed mid-build or mid-download)
 * or that is older than `staleMs` is broken, so an interrupted run never blocks the next one.
 *
 * @module
 */

const LINUX_PROC = Deno.build.os === "linux";

function ownerGone(path: string, staleMs: number): boolean {
  try {
    const info = Deno.statSync(path);
    if (Date.now() - (info.mtime?.getTime() ?? 0) > staleMs) return true;
    const pid = Number(Deno.readTextFileSync(path).trim());
    if (!LINUX_PROC || !Number.isInteger(pid) || pid <= 0 || pid === Deno.pid) return false;
    try {
      Deno.statSync(`/proc/${pid}`);
      return false;
    } catch {
      return true;
    }
  } catch {
    return false; // removed meanwhile, or not yet written: try again
  }
}

function tryTake(path: string): boolean {
  try {
    const file = Deno.openSync(path, { write: true, createNew: true });
    file.writeSync(new TextEncoder().encode(`${Deno.pid}\n`));
    file.close();
    return true;
  } catch (err) {
    if (err instanceof Deno.errors.AlreadyExists) return false;
    throw err;
  }
}

function release(path: string): void {
  try {
    Deno.removeSync(path);
  } catch { /* already gone */ }
}

/**
 * Takes the lock, waiting (synchronously) while a live process holds it.
 *
 * @param path The lock file.
 * @param staleMs Age after which a lock is broken whoever holds it.
 * @returns Releases the lock.
 */
export function lockSync(path: string, staleMs: number): () => void {
  for (;;) {
    if (tryTake(path)) return () => release(path);
    if (ownerGone(path, staleMs)) {
      release(path);
      continue;
    }
    Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 200);
  }
}

/**
 * Takes the lock, waiting (asynchronously) while a live process holds it.
 *
 * @param path The lock file.
 * @param staleMs Age after which a lock is broken whoever holds it.
 * @returns Releases the lock.
 */
export async function lock(path: string, staleMs: number): Promise<() => void> {
  for (;;) {
    if (tryTake(path)) return () => release(path);
    if (ownerGone(path, staleMs)) {
      release(path);
      continue;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/**
 * Whether the process that wrote `pid` into a name is gone (Linux: no `/proc/<pid>`).
 *
 * @param pid A process id.
 * @returns `true` only when it is known to be gone.
 */
export function processGone(pid: number): boolean {
  if (!LINUX_PROC || pid === Deno.pid) return false;
  try {
    Deno.statSync(`/proc/${pid}`);
    return false;
  } catch {
    return true;
  }
}
