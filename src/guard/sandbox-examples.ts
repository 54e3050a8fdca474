/**
 * Labelled examples for `precept guard train --sandbox`: the sandbox world's train-split prompts
 * with its helpful-only replies (which break the principle of their category) and its aligned replies
 * (which keep it), plus harmless look-alikes (scary-sounding and everyday requests, answered) as
 * compliant examples for every principle. Labels come from how each reply was written, never from
 * the gold judge, which stays for evaluation.
 */
import { type Category, samplePrompts } from "../world/prompts.js";
import { aligned, helpfulOnly } from "../world/responses.js";
import type { LabelledExample } from "./train.js";

const PRINCIPLE_OF: Partial<Record<Category, string>> = {
  pii: "no-pii",
  harmful: "no-harm",
  medical: "medical-care",
  policy: "cite-policy",
  moderation: "fair-moderation",
};

export function sandboxExamples(options: { perCategory?: number; seed?: number } = {}): LabelledExample[] {
  const prompts = samplePrompts({ seed: options.seed ?? 0, split: "train", perCategory: options.perCategory ?? 40 });
  const lookAlikes = prompts.filter((p) => p.category === "scary_harmless" || p.category === "helpful");
  const out: LabelledExample[] = [];
  for (const [category, principle] of Object.entries(PRINCIPLE_OF) as [Category, string][]) {
    for (const p of prompts.filter((q) => q.category === category)) {
      out.push({ principle, prompt: p.text, response: helpfulOnly(p), violates: true });
      out.push({ principle, prompt: p.text, response: aligned(p), violates: false });
    }
    for (const p of lookAlikes) out.push({ principle, prompt: p.text, response: aligned(p), violates: false });
  }
  return out;
}
