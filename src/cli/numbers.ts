/**
 * One validation layer for numeric command-line options: a parser per kind
 * (whole number, number) with its allowed range, given to commander's
 * `.option(flag, description, parser, default)`. A bad value is refused
 * before any work starts, by commander's own message, which names the flag:
 *   error: option '--temperature <t>' argument '-1' is invalid. expected a number ≥ 0
 */
import { InvalidArgumentError } from "commander";

export type Range = {
  min?: number;
  max?: number;
  /** The minimum itself is not allowed (e.g. a lease must be > 0). */
  exclusiveMin?: boolean;
  /** The maximum itself is not allowed (e.g. Adam's β must be < 1). */
  exclusiveMax?: boolean;
};

function rangeText({ min, max, exclusiveMin, exclusiveMax }: Range): string {
  const parts: string[] = [];
  if (min !== undefined) parts.push(`${exclusiveMin ? ">" : "≥"} ${min}`);
  if (max !== undefined) parts.push(`${exclusiveMax ? "<" : "≤"} ${max}`);
  return parts.join(" and ");
}

function check(n: number, raw: string, what: string, range: Range): number {
  const { min, max, exclusiveMin, exclusiveMax } = range;
  const below = min !== undefined && (exclusiveMin ? n <= min : n < min);
  const above = max !== undefined && (exclusiveMax ? n >= max : n > max);
  if (below || above) throw new InvalidArgumentError(`expected ${what} ${rangeText(range)}, got ${raw}`);
  return n;
}

/** A whole number (digits, optionally a leading minus) within `range`. */
export function intIn(range: Range = {}): (raw: string) => number {
  return (raw: string) => {
    if (!/^-?\d+$/.test(raw.trim())) throw new InvalidArgumentError(`expected a whole number${suffix(range)}, got "${raw}"`);
    const n = Number(raw);
    if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected a whole number${suffix(range)}, got "${raw}" (too large)`);
    return check(n, raw, "a whole number", range);
  };
}

/** A finite number within `range`. */
export function numberIn(range: Range = {}): (raw: string) => number {
  return (raw: string) => {
    const n = raw.trim() === "" ? Number.NaN : Number(raw);
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`expected a number${suffix(range)}, got "${raw}"`);
    return check(n, raw, "a number", range);
  };
}

function suffix(range: Range): string {
  const text = rangeText(range);
  return text ? ` ${text}` : "";
}

/** Whole numbers ≥ 0 (counts that may be zero: retries, few-shot examples). */
export const count = intIn({ min: 0 });
/** Whole numbers ≥ 1 (sizes: concurrency, steps, tokens). */
export const positiveInt = intIn({ min: 1 });
/** Any whole number (seeds). */
export const anyInt = intIn();
/** TCP ports (0: any free port). */
export const port = intIn({ min: 0, max: 65535 });
