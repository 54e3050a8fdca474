/**
 * Command-line options made from a CAI pipeline's config schema
 * (src/cai/configs.ts): one kebab-case flag per setting with its description,
 * placeholder and default, values checked by the schema before any work starts;
 * booleans are switches (`--cot`, or `--no-skip` for one that defaults to true).
 */
import { type Command, InvalidArgumentError, Option } from "commander";
import type { z } from "zod";
import { flagName } from "../cai/configs.js";
import { describeField, parseValue } from "./schema-options.js";

type Meta = { arg?: string; negated?: string };

/** `--clamp 0.4,0.6`: a tuple of numbers written with commas. */
function parseList(raw: string): number[] {
  return raw.split(",").map((part) => (part.trim() === "" ? Number.NaN : Number(part)));
}

export function addPipelineOptions(command: Command, schema: z.ZodObject): Command {
  for (const [key, field] of Object.entries(schema.shape) as [string, z.ZodType][]) {
    const flag = flagName(key);
    const meta = (field.meta() ?? {}) as Meta;
    const { kind, choices, hasDefault, defaultValue, number } = describeField(field);
    const description = field.description ?? "";
    if (kind === "boolean") {
      const negated = hasDefault && defaultValue === true;
      const option = negated ? new Option(`--no-${flag}`, meta.negated ?? `not: ${description}`) : new Option(`--${flag}`, description);
      if (!negated) option.default(hasDefault ? defaultValue : false);
      command.addOption(option);
      continue;
    }
    const option = new Option(`--${flag} <${meta.arg ?? "value"}>`, description).argParser((raw: string) => {
      const value = kind === "tuple" ? parseList(raw) : parseValue(kind, raw, flag, number);
      // The schema's own checks (ranges, the clamp band), so a flag and a recipe field refuse the same values.
      const checked = field.safeParse(value);
      if (!checked.success) throw new InvalidArgumentError(checked.error.issues.map((i) => i.message).join("; "));
      return checked.data;
    });
    if (choices) option.choices(choices);
    if (hasDefault) option.default(defaultValue, JSON.stringify(defaultValue));
    command.addOption(option);
  }
  return command;
}

/** The parsed options under the schema's keys (commander names `--few-shot` fewShot and `--no-skip` skip). */
export function pipelineSettings(schema: z.ZodObject, options: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(schema.shape)) {
    const attribute = flagName(key).replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());
    if (options[attribute] !== undefined) out[key] = options[attribute];
  }
  return out;
}
