/** The set-up the CAI test files share: a scratch folder for the file, and the test constitution's principles. */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { type LoadedConstitution, parseConstitution } from "../../src/constitution/load.js";

/** A fresh folder under the system's temp dir, removed after the calling file's tests. */
export function scratchFolder(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

const PRINCIPLES = {
  privacy: {
    critique: "Does the response leak private data?",
    revision: "Rewrite it without private data.",
    compare: "Which response keeps private data private?",
  },
  kind: { critique: "Is the response unkind to anyone?", revision: "Rewrite it to be kind.", compare: "Which response is kinder?" },
  helpful: { critique: "Does the response fail to help?", revision: "Rewrite it to help more.", compare: "Which response helps more?" },
};

/** The constitution "test" (version 1, file test.yaml) with the named principles in that order, some with a weight. */
export function testConstitution(
  ids: (keyof typeof PRINCIPLES)[],
  weights: Partial<Record<keyof typeof PRINCIPLES, number>> = {},
): LoadedConstitution {
  const principles = ids.map((id) => {
    const { critique, revision, compare } = PRINCIPLES[id];
    const weight = weights[id] === undefined ? "" : `    weight: ${weights[id]}\n`;
    return `  - id: ${id}\n    critique: ${critique}\n    revision: ${revision}\n    compare: ${compare}\n${weight}`;
  });
  return parseConstitution(`name: test\nversion: "1"\nprinciples:\n${principles.join("")}`, "test.yaml");
}
