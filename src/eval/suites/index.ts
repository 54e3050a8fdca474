/**
 * Suites by spec, as `--suite` gives them: `KIND=FILE` (`mc`, `prefs`,
 * `xstest`, `harmful`, `prompts`), `sandbox`, optionally named
 * `NAME:KIND=FILE` (to run two files of one kind side by side). FILE is a
 * path or an `hf:` dataset id (`resolveSuiteSpec` makes it a cached file).
 */
import { type HubOptions, isHubDataset, resolveDataset } from "../hub-datasets.js";
import type { Suite } from "../suite.js";
import { harmfulSuite } from "./harmful.js";
import { mcSuite } from "./mc.js";
import { prefsSuite } from "./prefs.js";
import { promptsSuite } from "./prompts.js";
import { sandboxSuite } from "./sandbox.js";
import { xstestSuite } from "./xstest.js";

export { harmfulSuite, mcSuite, prefsSuite, promptsSuite, sandboxSuite, xstestSuite };

export const SUITE_KINDS = ["mc", "prefs", "xstest", "harmful", "prompts", "sandbox"] as const;

export function suiteFromSpec(spec: string): Suite {
  const m = /^(?:([A-Za-z0-9_.-]+):)?([a-z]+)(?:=(.+))?$/.exec(spec);
  if (!m) throw new Error(`bad --suite "${spec}": use KIND=FILE (kinds: ${SUITE_KINDS.join(", ")}), or sandbox`);
  const [, name, kind, file] = m as unknown as [string, string | undefined, string, string | undefined];
  const named = name ? { name } : {};
  if (kind === "sandbox") {
    if (file) throw new Error(`--suite sandbox takes no file (got "${spec}")`);
    return { ...sandboxSuite(), ...named };
  }
  if (!file) throw new Error(`--suite ${kind} needs a file: ${kind}=FILE`);
  switch (kind) {
    case "mc":
      return mcSuite(file, named) as Suite;
    case "prefs":
      return prefsSuite(file, named) as Suite;
    case "xstest":
      return xstestSuite(file, named) as Suite;
    case "harmful":
      return harmfulSuite(file, named) as Suite;
    case "prompts":
      return promptsSuite(file, named) as Suite;
    default:
      throw new Error(`unknown suite kind "${kind}" in "${spec}": kinds are ${SUITE_KINDS.join(", ")}`);
  }
}

/** The spec with an `hf:` dataset id replaced by the cached (or downloaded) file it names. */
export async function resolveSuiteSpec(spec: string, hub: HubOptions): Promise<string> {
  const at = spec.indexOf("=");
  if (at < 0 || !isHubDataset(spec.slice(at + 1))) return spec;
  return `${spec.slice(0, at + 1)}${await resolveDataset(spec.slice(at + 1), hub)}`;
}
