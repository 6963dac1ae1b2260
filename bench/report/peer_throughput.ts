/**
 * `peerThroughput`: pooled tokens/s of a peer engine's runs.
 *
 * @module
 */

import type { PeerResults, PeerRun, PromptKind } from "./results.ts";

/** Pooled peer throughput of one method (and K), optionally for one prompt kind. */
export function peerThroughput(
  peers: PeerResults,
  method: PeerRun["method"],
  kind?: PromptKind,
): number | undefined {
  const runs = peers.runs.filter((r) =>
    r.method === method && (kind === undefined || r.promptKind === kind)
  );
  const ms = runs.reduce((s, r) => s + r.wallTimeMs, 0);
  const tokens = runs.reduce((s, r) => s + r.newTokens, 0);
  return runs.length > 0 && ms > 0 ? (1000 * tokens) / ms : undefined;
}
