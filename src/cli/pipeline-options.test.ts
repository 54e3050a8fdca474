/** `cai revise|label` flags come from the pipelines' config schemas: every setting is a flag with the schema's default, values are checked by the schema. */
import { Command } from "commander";
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { flagName, labelConfigSchema, parsePipelineConfig, reviseConfigSchema } from "../cai/configs.js";
import { addPipelineOptions, pipelineSettings } from "./pipeline-options.js";

function parse(schema: z.ZodObject, args: string[]): Record<string, unknown> {
  const command = addPipelineOptions(new Command("test").exitOverride().configureOutput({ writeErr: () => {} }), schema);
  command.parse(args, { from: "user" });
  return parsePipelineConfig(schema, pipelineSettings(schema, command.opts()), "test");
}

describe("pipeline options", () => {
  for (const [name, schema] of [
    ["revise", reviseConfigSchema],
    ["label", labelConfigSchema],
  ] as const) {
    it(`${name}: every setting is a flag, and no flags give the library's defaults`, () => {
      const command = addPipelineOptions(new Command("test"), schema);
      const flags = command.options.map((o) => o.long);
      for (const key of Object.keys(schema.shape)) {
        const flag = flagName(key);
        expect(flags.includes(`--${flag}`) || flags.includes(`--no-${flag}`), key).toBe(true);
      }
      expect(parse(schema, [])).toEqual(schema.parse({}));
    });
  }

  it("flags land on the library's keys, including the two named differently (--no-skip, --cot)", () => {
    const revise = parse(reviseConfigSchema, ["--max-tokens", "7", "--no-skip", "--few-shot", "0", "--mode", "chat", "--lease", "2.5"]);
    expect(revise).toMatchObject({ maxTokens: 7, skipNoProblem: false, fewShot: 0, mode: "chat", lease: 2.5 });
    const label = parse(labelConfigSchema, ["--cot", "--clamp", "0.3,0.7", "--reasoning-tokens", "12", "--retries", "0"]);
    expect(label).toMatchObject({ chainOfThought: true, clamp: [0.3, 0.7], reasoningTokens: 12, retries: 0 });
  });

  it("refuses values the schema refuses, naming the flag and the rule", () => {
    expect(() => parse(labelConfigSchema, ["--clamp", "0.7,0.3"])).toThrow(
      /--clamp <lo,hi>' argument '0.7,0.3' is invalid\. expected LOW,HIGH with 0 <= LOW < HIGH <= 1/,
    );
    expect(() => parse(labelConfigSchema, ["--clamp", "0.4"])).toThrow(/--clamp <lo,hi>' argument '0.4' is invalid/);
    expect(() => parse(labelConfigSchema, ["--responses", "0"])).toThrow(
      /--responses <k>' argument '0' is invalid\. expected a whole number ≥ 1/,
    );
    expect(() => parse(reviseConfigSchema, ["--mode", "chatty"])).toThrow(/--mode <mode>' argument 'chatty' is invalid/);
  });
});
