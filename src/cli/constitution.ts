/** `precept constitution lint|show|diff|import`. */
import { writeFileSync } from "node:fs";
import { stringify } from "yaml";
import { importAnthropic } from "../constitution/anthropic.js";
import { diffConstitutions, withAffectedRecords } from "../constitution/diff.js";
import { loadConstitution } from "../constitution/load.js";
import { openStore } from "../store/store.js";

export function lint(files: string[]): void {
  for (const file of files) {
    const c = loadConstitution(file);
    console.log(`${file}: ok — ${c.name} v${c.version}, ${c.principles.length} principles, hash ${c.hash}`);
  }
}

export function show(file: string): void {
  const c = loadConstitution(file);
  console.log(`${c.name} v${c.version} (hash ${c.hash})${c.description ? `\n${c.description}` : ""}`);
  console.log(
    `sampling: ${c.sampling.revisions} revisions per prompt, ${c.sampling.principles_per_comparison} principle(s) per comparison`,
  );
  for (const p of c.principles) {
    console.log(`\n[${p.id}] weight ${p.weight}${p.tags.length ? `, tags: ${p.tags.join(", ")}` : ""}`);
    console.log(`  critique: ${p.critique}\n  revision: ${p.revision}\n  compare:  ${p.compare}`);
  }
}

export async function diff(a: string, b: string, options: { records: boolean }): Promise<void> {
  let result = diffConstitutions(loadConstitution(a), loadConstitution(b));
  if (options.records) {
    const store = await openStore();
    result = await withAffectedRecords(result, store);
    await store.close();
  }
  console.log(`${a} (${result.from}) → ${b} (${result.to})`);
  if (result.from === result.to) console.log("identical content");
  for (const id of result.added) console.log(`+ ${id} (added)`);
  for (const id of result.removed)
    console.log(`- ${id} (removed)${result.affectedRecords ? `: ${result.affectedRecords[id]} stored record(s) produced under it` : ""}`);
  for (const [id, fields] of Object.entries(result.changed)) {
    console.log(
      `~ ${id} (${fields.join(", ")} changed)${result.affectedRecords ? `: ${result.affectedRecords[id]} stored record(s) produced under the old text` : ""}`,
    );
  }
  console.log(`${result.unchanged.length} unchanged`);
}

export function importFiles(options: { critiqueRevision?: string; multipleChoice?: string; out: string; name?: string }): void {
  const c = importAnthropic(options);
  const { hash, source, ...content } = c;
  writeFileSync(options.out, `# Imported by precept from ${source}\n${stringify(content)}`);
  console.log(`wrote ${options.out}: ${c.principles.length} principles (hash ${hash})`);
}
