/**
 * Command-line options generated from a trainer's zod config schema, so
 * `--help` lists every option with its default and a flag overrides the same
 * key of the YAML/JSON config file (`--learning_rate 1e-4`). Nested objects
 * and lists take JSON (`--lora '{"r": 16}'`).
 */
import { readFileSync } from "node:fs";
import { type Command, Option } from "commander";
import { parse as parseYaml } from "yaml";
import type { z } from "zod";
import { intIn, numberIn, type Range } from "./numbers.js";

type Def = { type: string; defaultValue?: unknown; innerType?: z.ZodType; entries?: Record<string, string> };

/** Strips default/optional/nullable wrappers: the underlying kind, the default, whether null is allowed. */
export function describeField(field: z.ZodType): {
  kind: string;
  choices?: string[];
  hasDefault: boolean;
  defaultValue: unknown;
  number?: { int: boolean; range: Range };
} {
  let current = field as z.ZodType & { def: Def };
  let hasDefault = false;
  let defaultValue: unknown;
  for (;;) {
    const def = current.def;
    if (def.type === "default") {
      hasDefault = true;
      defaultValue = typeof def.defaultValue === "function" ? (def.defaultValue as () => unknown)() : def.defaultValue;
    }
    if (!["default", "optional", "nullable", "pipe", "prefault"].includes(def.type) || !def.innerType) break;
    current = def.innerType as typeof current;
  }
  const kind = current.def.type;
  const choices = kind === "enum" ? Object.values(current.def.entries ?? {}) : undefined;
  const number = kind === "number" ? numberRange(current) : undefined;
  return { kind, ...(choices ? { choices } : {}), hasDefault, defaultValue, ...(number ? { number } : {}) };
}

/** The range a zod number allows (its min/max/positive/lt checks), for numbers.ts's parsers. */
function numberRange(schema: z.ZodType): { int: boolean; range: Range } {
  const range: Range = {};
  const checks = ((schema as unknown as { def: { checks?: { _zod: { def: Record<string, unknown> } }[] } }).def.checks ?? []).map(
    (c) => c._zod.def,
  );
  for (const check of checks) {
    if (check.check === "greater_than") Object.assign(range, { min: check.value, exclusiveMin: !check.inclusive });
    if (check.check === "less_than") Object.assign(range, { max: check.value, exclusiveMax: !check.inclusive });
  }
  return { int: (schema as unknown as { isInt?: boolean }).isInt === true, range };
}

export function parseValue(kind: string, raw: string, flag: string, number?: { int: boolean; range: Range }): unknown {
  if (raw === "null") return null; // the schema decides whether null is allowed
  // Refused by commander naming the flag, before any work starts (numbers.ts).
  if (kind === "number") return (number?.int ? intIn : numberIn)(number?.range ?? {})(raw);
  if (kind === "boolean") {
    if (raw !== "true" && raw !== "false") throw new Error(`--${flag}: expected true or false, got "${raw}"`);
    return raw === "true";
  }
  if (kind === "object" || kind === "array" || kind === "record") {
    try {
      return JSON.parse(raw);
    } catch {
      throw new Error(`--${flag}: expected JSON, got ${raw}`);
    }
  }
  return raw;
}

/** Adds one `--key <value>` option per schema field (descriptions from `.describe()`). */
export function addSchemaOptions(command: Command, schema: z.ZodObject): Command {
  for (const [key, field] of Object.entries(schema.shape)) {
    const { kind, choices, hasDefault, defaultValue, number } = describeField(field as z.ZodType);
    const description = (field as z.ZodType).description ?? "";
    const option = new Option(`--${key} <value>`, description).argParser((raw: string) => parseValue(kind, raw, key, number));
    if (choices) option.choices(choices);
    if (hasDefault) option.default(defaultValue, JSON.stringify(defaultValue));
    else if (!(field as z.ZodType).safeParse(undefined).success) option.description = `${description} (required)`.trim();
    command.addOption(option);
  }
  return command;
}

/** Reads a YAML or JSON config file into an object, naming the file in errors. */
export function readConfigFile(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch {
    throw new Error(`config file ${path} cannot be read`);
  }
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    throw new Error(`${path}: ${(error as Error).message}`);
  }
  if (value === null || value === undefined) return {};
  if (typeof value !== "object" || Array.isArray(value)) throw new Error(`${path}: expected a mapping of option names to values`);
  return value as Record<string, unknown>;
}

/** The config file's values, overridden by flags given on the command line (not by defaults). */
export function mergeFlags(command: Command, schema: z.ZodObject, fromFile: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...fromFile };
  const options = command.opts();
  for (const key of Object.keys(schema.shape)) {
    if (command.getOptionValueSource(key) === "cli") merged[key] = options[key];
  }
  return merged;
}
