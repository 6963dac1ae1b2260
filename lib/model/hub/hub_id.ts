/**
 * Model names on a Hugging Face-compatible hub: `org/name`, optionally a subfolder of the repository
 * (`org/name/medusa`) and a revision (`org/name@v1`, `org/name@<commit>`).
 *
 * @module
 */

/** A parsed hub model id. */
export interface HubId {
  /** The repository, `org/name`. */
  repo: string;
  /** Branch, tag or commit (default `main`). */
  revision: string;
  /** Folder inside the repository (`""` for its root). */
  subfolder: string;
}

const PART = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Parses `org/name[/subfolder...][@revision]`; paths that cannot be hub ids (absolute, `./x`,
 * `../x`, `~/x`, a single name, `..` or empty parts) give `undefined`.
 *
 * @param text What the user passed as a model.
 * @returns The id, or `undefined` when `text` is not shaped like one.
 *
 * @example Ids with a subfolder and a revision
 * ```ts
 * import { parseHubId } from "@specdec/specdec";
 * const id = parseHubId("org/model/medusa@v1.0");
 * if (id?.repo !== "org/model" || id.subfolder !== "medusa" || id.revision !== "v1.0") {
 *   throw new Error("unexpected");
 * }
 * if (parseHubId("./models/x") !== undefined) throw new Error("a relative path is no id");
 * ```
 */
export function parseHubId(text: string): HubId | undefined {
  const at = text.indexOf("@");
  const path = at >= 0 ? text.slice(0, at) : text;
  const revision = at >= 0 ? text.slice(at + 1) : "main";
  if (revision === "" || !/^[A-Za-z0-9._/-]+$/.test(revision) || revision.includes("..")) {
    return undefined;
  }
  const parts = path.split("/");
  if (parts.length < 2 || !parts.every((p) => PART.test(p) && !p.includes(".."))) {
    return undefined;
  }
  return {
    repo: `${parts[0]}/${parts[1]}`,
    revision,
    subfolder: parts.slice(2).join("/"),
  };
}
