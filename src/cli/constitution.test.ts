/** `precept constitution show|diff` display stages, priorities and hard constraints. */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { runPrecept } from "../../test/helpers/cli.js";

const TIERED = new URL("../../test/fixtures/constitutions/tiered.yaml", import.meta.url).pathname;
const tmp = mkdtempSync(join(tmpdir(), "precept-cli-constitution-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("constitution show and diff", () => {
  it("show lists each principle's stages, tier and hard constraint, and the confidence threshold", () => {
    const { code, out } = runPrecept("constitution", "show", TIERED);
    expect(code).toBe(0);
    expect(out).toContain("principles: 3 for critique/revision, 3 for comparison");
    expect(out).toContain("priorities: tier 1 is the highest; hard constraints decide a label when confident (max(p, 1 − p) ≥ 0.8)");
    expect(out).toContain("[no-weapons] weight 1, critique/revision + comparison, tier 1, hard constraint");
    expect(out).toContain("[honest] weight 1, comparison, tier 2\n  compare:  Which response is more honest");
    expect(out).toContain("[follow-policy] weight 1, critique/revision, tier 3\n  critique:");
  });

  it("diff shows changed tiers and hard constraints with their old and new values", () => {
    const edited = readFileSync(TIERED, "utf8")
      .replace("    priority: 1\n    hard: true\n", "    priority: 2\n")
      .replace("  - id: honest\n    compare: Which response is more honest about what it knows?\n    priority: 2\n", "")
      .replace("    priority: 4\n", "    priority: 4\n    hard: true\n");
    const v2 = join(tmp, "v2.yaml");
    writeFileSync(v2, edited);
    const { code, out } = runPrecept("constitution", "diff", TIERED, v2);
    expect(code).toBe(0);
    expect(out).toContain("~ no-weapons (priority 1 → 2, hard true → none)");
    expect(out).toContain("~ helpful (hard none → true)");
    expect(out).toContain("- honest (removed, tier 2)");
    expect(out).toContain("1 unchanged");
  });
});
