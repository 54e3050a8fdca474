/**
 * The pretraining corpus of the sandbox's tiny base model: helpful-only
 * dialogues (so the base model leaks data and complies with harm), plus
 * documents in the exact formats of the CAI pipelines (src/cai/format.ts):
 * critique → revision transcripts and multiple-choice comparisons, written
 * from the gold judge's knowledge. So the base model can act as its own
 * critic and feedback model, as in the paper; what it says as an assistant is
 * still helpful-only. Train-split prompts only.
 */
import { ANSWER_A, ANSWER_B, comparisonPrompt, revisionPrompt, transcript } from "../cai/format.js";
import type { Principle } from "../constitution/schema.js";
import { principleText } from "../constitution/stages.js";
import { judge, type Rule } from "./judge.js";
import { allPrompts, CATEGORIES, type Category, type WorldPrompt } from "./prompts.js";
import { WorldRandom } from "./random.js";
import { aligned, respond, type Style } from "./responses.js";

const FIELD_WORD = { phone: "phone number", email: "email address", address: "home address" } as const;

/** What the critique says about a violated rule (one line). */
function describe(rule: Rule, p: WorldPrompt): string {
  const f = p.facts;
  switch (rule) {
    case "no-pii":
      return f.kind === "pii" ? `The response leaks ${f.customer.name}'s ${FIELD_WORD[f.field]}.` : "The response leaks customer data.";
    case "no-harm":
      return f.kind === "harass" ? "The response insults a person." : "The response gives steps that could hurt people.";
    case "medical-care":
      return "The response diagnoses without a disclaimer or advice to see a doctor.";
    case "cite-policy":
      return f.kind === "policy" ? `The response does not cite the policy document ${f.policy.doc}.` : "The response does not cite policy.";
    case "fair-moderation":
      return "The moderation decision is wrong.";
    case "answer-harmless":
      return "The response refuses a harmless request.";
  }
}

/** The critique of a response: its violations (the principle's own first), or "No problem". */
export function critiqueFor(p: WorldPrompt, response: string, principle: Principle): string {
  const { violations } = judge(p, response);
  const found = (Object.keys(violations) as Rule[]).filter((r) => violations[r]);
  if (found.length === 0) return "No problem, the response is fine.";
  found.sort((a, b) => (a === principle.id ? -1 : b === principle.id ? 1 : 0));
  return describe(found[0] as Rule, p);
}

/** Which of two responses is better: fewer violations (the principle's own rule first), then helpfulness; null on a tie. */
export function betterOf(p: WorldPrompt, a: string, b: string, principle: Principle): "A" | "B" | null {
  const ja = judge(p, a);
  const jb = judge(p, b);
  const own = (j: typeof ja) => (j.violations[principle.id as Rule] ? 1 : 0);
  const count = (j: typeof ja) => Object.values(j.violations).filter(Boolean).length;
  const keys = [own(ja) - own(jb), count(ja) - count(jb), jb.helpfulness - ja.helpfulness];
  for (const k of keys) if (k !== 0) return k < 0 ? "A" : "B";
  return null;
}

export type CorpusOptions = {
  seed: number;
  principles: readonly Principle[];
  dialogues: number;
  critiques: number;
  comparisons: number;
};

export type Corpus = { documents: string[]; stats: { dialogues: number; critiques: number; comparisons: number; bytes: number } };

const CRITIQUE_STYLES: [Style, number][] = [
  ["helpfulOnly", 0.6],
  ["evasive", 0.15],
  ["preachy", 0.1],
  ["aligned", 0.15],
];

function weighted<T>(rng: WorldRandom, items: [T, number][]): T {
  let u = rng.next() * items.reduce((s, [, w]) => s + w, 0);
  for (const [item, w] of items) {
    u -= w;
    if (u < 0) return item;
  }
  return (items[items.length - 1] as [T, number])[0];
}

/** The corpus, deterministic by seed; categories are drawn evenly so the many PII prompts do not dominate. */
export function buildCorpus(o: CorpusOptions): Corpus {
  const rng = new WorldRandom(o.seed);
  const train = new Map<Category, WorldPrompt[]>(
    CATEGORIES.map((c) => [c, allPrompts().filter((p) => p.category === c && p.split === "train")]),
  );
  const anyPrompt = () => rng.pick(train.get(rng.pick(CATEGORIES)) as WorldPrompt[]);
  const documents: string[] = [];
  for (let i = 0; i < o.dialogues; i++) {
    const p = anyPrompt();
    documents.push(transcript(p.text, respond(p, "helpfulOnly")));
  }
  for (let i = 0; i < o.critiques; i++) {
    const p = anyPrompt();
    const response = respond(p, weighted(rng, CRITIQUE_STYLES));
    const principle = rng.pick(o.principles);
    const critique = critiqueFor(p, response, principle);
    const revision = critique.startsWith("No problem") ? response : aligned(p);
    documents.push(`${revisionPrompt(p.text, response, principle, critique)} ${revision}`);
  }
  let comparisons = 0;
  while (comparisons < o.comparisons) {
    const p = anyPrompt();
    const [sa, sb] = rng.shuffle(["helpfulOnly", "aligned", "evasive", "preachy"] as Style[]);
    const a = respond(p, sa as Style);
    const b = respond(p, sb as Style);
    const principle = rng.pick(o.principles);
    const answer = betterOf(p, a, b, principle);
    if (a === b || answer === null) continue;
    documents.push(`${comparisonPrompt(p.text, principleText(principle, "compare"), a, b)}${answer === "A" ? ANSWER_A : ANSWER_B}`);
    comparisons++;
  }
  rng.shuffle(documents);
  return {
    documents,
    stats: {
      dialogues: o.dialogues,
      critiques: o.critiques,
      comparisons: o.comparisons,
      bytes: documents.reduce((s, d) => s + Buffer.byteLength(d), 0),
    },
  };
}
