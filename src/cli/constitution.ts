/** `precept constitution lint|show|diff|import`. */
import { writeFileSync } from "node:fs";
import { stringify } from "yaml";
import { type AnthropicFiles, findAnthropicFiles, importAnthropic } from "../constitution/anthropic.js";
import { diffConstitutions, withAffectedRecords } from "../constitution/diff.js";
import { loadConstitution, type Principle } from "../constitution/load.js";
import { CONFIDENCE_THRESHOLD } from "../constitution/schema.js";
import { stagesOf } from "../constitution/stages.js";
import { openStore } from "../store/store.js";

export function lint(files: string[]): void {
  for (const file of files) {
    const c = loadConstitution(file);
    console.log(`${file}: ok — ${c.name} v${c.version}, ${c.principles.length} principles, hash ${c.hash}`);
  }
}

/** "tier 1, hard constraint" — what ranks a principle, or "" when nothing does. */
function rank(p: Principle): string {
  return [p.priority !== undefined ? `tier ${p.priority}` : "", p.hard ? "hard constraint" : ""].filter(Boolean).join(", ");
}

export function show(file: string): void {
  const c = loadConstitution(file);
  console.log(`${c.name} v${c.version} (hash ${c.hash})${c.description ? `\n${c.description}` : ""}`);
  console.log(
    `sampling: ${c.sampling.revisions} revisions per prompt, ${c.sampling.principles_per_comparison} principle(s) per comparison`,
  );
  const count = (stage: "critique_revision" | "comparison") => c.principles.filter((p) => stagesOf(p).includes(stage)).length;
  console.log(`principles: ${count("critique_revision")} for critique/revision, ${count("comparison")} for comparison`);
  if (c.principles.some((p) => p.priority !== undefined || p.hard))
    console.log(
      `priorities: tier 1 is the highest; hard constraints decide a label when confident (max(p, 1 − p) ≥ ${c.sampling.confidence_threshold ?? CONFIDENCE_THRESHOLD})`,
    );
  const examples = c.few_shot.critique_revision.length + c.few_shot.comparison.length;
  if (examples > 0)
    console.log(`few-shot: ${c.few_shot.critique_revision.length} critique/revision, ${c.few_shot.comparison.length} comparison`);
  for (const p of c.principles) {
    const about = [`weight ${p.weight}`, stagesOf(p).join(" + ").replace("critique_revision", "critique/revision"), rank(p)];
    if (p.tags.length) about.push(`tags: ${p.tags.join(", ")}`);
    console.log(`\n[${p.id}] ${about.filter(Boolean).join(", ")}`);
    if (p.critique !== undefined) console.log(`  critique: ${p.critique}\n  revision: ${p.revision}`);
    if (p.compare !== undefined) console.log(`  compare:  ${p.compare}`);
  }
}

/** A changed field, with old → new values for the short ones (priority, hard, weight). */
function describeChange(field: string, before: Principle, after: Principle): string {
  if (field === "priority" || field === "hard" || field === "weight") {
    const show = (v: unknown) => (v === undefined ? "none" : String(v));
    return `${field} ${show(before[field])} → ${show(after[field])}`;
  }
  return `${field} changed`;
}

export async function diff(a: string, b: string, options: { records: boolean; db: string }): Promise<void> {
  const before = loadConstitution(a);
  const after = loadConstitution(b);
  let result = diffConstitutions(before, after);
  if (options.records) {
    const store = await openStore(options.db);
    result = await withAffectedRecords(result, store);
    await store.close();
  }
  const old = new Map(before.principles.map((p) => [p.id, p]));
  const now = new Map(after.principles.map((p) => [p.id, p]));
  const ranked = (p: Principle | undefined) => (p && rank(p) ? `, ${rank(p)}` : "");
  console.log(`${a} (${result.from}) → ${b} (${result.to})`);
  if (result.from === result.to) console.log("identical content");
  for (const id of result.added) console.log(`+ ${id} (added${ranked(now.get(id))})`);
  for (const id of result.removed)
    console.log(
      `- ${id} (removed${ranked(old.get(id))})${result.affectedRecords ? `: ${result.affectedRecords[id]} stored record(s) produced under it` : ""}`,
    );
  for (const [id, fields] of Object.entries(result.changed)) {
    const changes = fields.map((f) => describeChange(f, old.get(id) as Principle, now.get(id) as Principle));
    console.log(
      `~ ${id} (${changes.join(", ")})${result.affectedRecords ? `: ${result.affectedRecords[id]} stored record(s) produced under the old text` : ""}`,
    );
  }
  console.log(`${result.unchanged.length} unchanged`);
}

export function importFiles(paths: string[], options: AnthropicFiles & { name?: string; version?: string; out: string }): void {
  if (!options.name || !options.version)
    throw new Error("constitution import: give the new constitution's --name and --version (e.g. --name cai-paper --version 1)");
  const fromPaths = findAnthropicFiles(paths);
  // Named files override what a folder holds.
  const files: AnthropicFiles = { ...fromPaths };
  for (const key of ["critiqueRevision", "multipleChoice", "critiqueFewShot", "comparisonFewShot"] as const)
    if (options[key]) files[key] = options[key];
  const c = importAnthropic({ ...files, name: options.name, version: options.version });
  const { hash, source, ...content } = c;
  writeFileSync(options.out, `# Imported by precept from ${source}\n${stringify(content)}`);
  const critique = c.principles.filter((p) => p.critique !== undefined).length;
  const compare = c.principles.filter((p) => p.compare !== undefined).length;
  console.log(
    `wrote ${options.out}: ${c.name} v${c.version}, ${c.principles.length} principles (${critique} critique/revision, ${compare} comparison), ` +
      `examples: ${c.few_shot.critique_revision.length} critique/revision, ${c.few_shot.comparison.length} comparison (hash ${hash})`,
  );
}
