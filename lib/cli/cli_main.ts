/**
 * The process entry of the CLI (`deno run -A mod.ts ...`): runs
 * {@linkcode runCli} on `Deno.args`, wires Ctrl-C to abort the generation
 * (a second Ctrl-C exits at once) and exits with the CLI's code.
 *
 * @module
 */

import { runCli } from "./run_cli.ts";

/**
 * Runs the CLI on the process's arguments and exits the process.
 *
 * @returns Never resolves normally: the process exits with the CLI's code.
 *
 * @example Running the CLI from a script
 * ```ts ignore
 * import { cliMain } from "@specdec/specdec/cli";
 * if (import.meta.main) await cliMain();
 * ```
 */
export async function cliMain(): Promise<void> {
  const controller = new AbortController();
  const onInterrupt = (): void => {
    if (controller.signal.aborted) Deno.exit(130);
    controller.abort();
  };
  let listening = false;
  try {
    Deno.addSignalListener("SIGINT", onInterrupt);
    // `serve` shuts down gracefully on SIGTERM too (service managers, containers).
    Deno.addSignalListener("SIGTERM", onInterrupt);
    listening = true;
  } catch {
    // Signals are not available on every platform; Ctrl-C then ends the process directly.
  }
  const code = await runCli(Deno.args, { signal: controller.signal });
  if (listening) {
    Deno.removeSignalListener("SIGINT", onInterrupt);
    Deno.removeSignalListener("SIGTERM", onInterrupt);
  }
  Deno.exit(code);
}
