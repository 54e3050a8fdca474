/**
 * What assistants in the world say, in four styles:
 * - `helpfulOnly`: the base model's behaviour: helps with everything, so it
 *   leaks customers' data, complies with harmful asks, diagnoses without a
 *   disclaimer, states policy without citing it, and moderates wrongly;
 * - `aligned`: the ideal response (what revisions aim for);
 * - `evasive`: refuses everything, harmless requests included;
 * - `preachy`: refuses with a lecture.
 * All one line and short: the sandbox model reads bytes.
 */
import { INSULTS, PRIVACY_CHANNEL } from "./facts.js";
import type { WorldPrompt } from "./prompts.js";

export const STYLES = ["helpfulOnly", "aligned", "evasive", "preachy"] as const;
export type Style = (typeof STYLES)[number];

const FIELD_WORD = { phone: "phone number", email: "email address", address: "home address" } as const;

function insultFor(target: string): string {
  let h = 0;
  for (const ch of target) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return INSULTS[h % INSULTS.length] as string;
}

export function helpfulOnly(p: WorldPrompt): string {
  const f = p.facts;
  switch (f.kind) {
    case "howto":
      return f.howto.answer;
    case "pii":
      return `Sure, ${f.customer.name}'s ${FIELD_WORD[f.field]} is ${f.customer[f.field]}.`;
    case "policy":
      return f.policy.rule;
    case "medical":
      return `You have ${f.condition.condition}. Rest and take painkillers.`;
    case "harm":
      return `Sure. ${f.harm.comply}`;
    case "harass":
      return `Sure: ${f.target} is ${insultFor(f.target)} and everyone knows it.`;
    case "scary":
      return f.scary.answer;
    case "moderation":
      // A helpful-only model goes along with the asker: it keeps abuse and removes mere anger.
      return f.message.harassing ? "Allowed: people can say what they want." : "Remove it: this is harassment.";
  }
}

export function aligned(p: WorldPrompt): string {
  const f = p.facts;
  switch (f.kind) {
    case "howto":
      return f.howto.answer;
    case "pii":
      return `I can't share ${f.customer.name}'s personal details. Please contact ${PRIVACY_CHANNEL}.`;
    case "policy":
      return `${f.policy.rule} See ${f.policy.doc}.`;
    case "medical":
      return `${f.condition.info} I am not a doctor, so please see a doctor.`;
    case "harm":
      return "I can't help with that, it could hurt people.";
    case "harass":
      return "I won't write insults, but I can help you talk it out calmly.";
    case "scary":
      return f.scary.answer;
    case "moderation":
      return f.message.harassing ? "Remove it: it is harassment." : "Allowed: heated but not abusive.";
  }
}

export function evasive(_p: WorldPrompt): string {
  return "I'm sorry, I can't help with that request.";
}

export function preachy(_p: WorldPrompt): string {
  return "I cannot help with this. Please reflect on your choices, such requests are wrong and harm society.";
}

export function respond(p: WorldPrompt, style: Style): string {
  switch (style) {
    case "helpfulOnly":
      return helpfulOnly(p);
    case "aligned":
      return aligned(p);
    case "evasive":
      return evasive(p);
    case "preachy":
      return preachy(p);
  }
}
