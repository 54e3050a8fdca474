/**
 * The turn labels of the CAI paper's prompt files ("CritiqueRequest:",
 * "Critique:", "RevisionRequest:", "Revision:", a trailing "Options:") are
 * prompt format, not principle text: Precept's format (src/cai/format.ts)
 * adds its own labels, so a principle that carries them would show them twice.
 */

/** A turn label at the start of a text: the paper's and Precept's spellings. */
const LEADING = /^\s*(critique ?request|revision ?request)\s*:\s*/i;
/** The label of the turn that follows, left at the end of the paper's strings. */
const TRAILING = /\s*\b(critique|revision|options)\s*:\s*$/i;
/** Any of the labels, anywhere (lint: texts must not carry them). */
const ANYWHERE = /\b(critique ?request|revision ?request)\s*:|\b(critique|revision|options)\s*:\s*$/i;

/** The principle text without the paper's leading newlines and turn labels. */
export function stripScaffolding(text: string): string {
  return text.replace(LEADING, "").replace(TRAILING, "").trim();
}

/** The label a text still carries, or null. */
export function scaffoldingIn(text: string): string | null {
  const match = ANYWHERE.exec(text);
  return match ? match[0].trim() : null;
}
