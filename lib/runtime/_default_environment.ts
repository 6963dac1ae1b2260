/**
 * The environment that models loaded without one share (`CausalLM.load`, `MedusaHeads.load`,
 * ...): ONNX Runtime keeps one per process, so one is made on first use and kept open.
 *
 * @module
 */

import { Environment } from "./environment.ts";

let shared: Environment | undefined;

/**
 * The process's default environment (log level 3: errors), made on first use and again after
 * someone closed it.
 *
 * @returns The open environment.
 * @throws {SpecDecError} When the native library cannot load.
 */
export function defaultEnvironment(): Environment {
  if (shared === undefined || shared.closed) shared = new Environment({ logLevel: 3 });
  return shared;
}
