import { describe, expect, it } from "vitest";
import { extractPrompt, toConversational, transcriptMessages } from "./implicit-prompt.js";

const H = "\n\nHuman: ";
const A = "\n\nAssistant: ";

describe("extractPrompt (TRL's implicit prompt)", () => {
  it("cuts transcripts after the last shared Assistant: marker, keeping whole completions (not a shared first word)", () => {
    const chosen = `${H}How do I open a jar?${A}Run it under hot water.`;
    const rejected = `${H}How do I open a jar?${A}Run it over with a car.`;
    const split = extractPrompt(chosen, rejected);
    expect(split).toEqual({
      prompt: `${H}How do I open a jar?\n\nAssistant:`,
      chosen: " Run it under hot water.",
      rejected: " Run it over with a car.",
    });
    expect(split.prompt + split.chosen).toBe(chosen);
    expect(split.prompt + split.rejected).toBe(rejected);
  });

  it("multi-turn: the prompt is every shared turn; transcripts that part earlier get multi-turn completions", () => {
    const head = `${H}Hi${A}Hello! What do you need?${H}A recipe.`;
    expect(extractPrompt(`${head}${A}Eggs.`, `${head}${A}No.`).prompt).toBe(`${head}\n\nAssistant:`);
    const early = extractPrompt(`${H}Cook?${A}Start simple.${H}Which?${A}Eggs.`, `${H}Cook?${A}Order in.${H}Which?${A}Any.`);
    expect(early).toEqual({
      prompt: `${H}Cook?\n\nAssistant:`,
      chosen: ` Start simple.${H}Which?${A}Eggs.`,
      rejected: ` Order in.${H}Which?${A}Any.`,
    });
  });

  it("says when two transcripts share no prompt", () => {
    expect(() => extractPrompt(`${H}Joke?${A}Ha.`, `${H}Poem?${A}Roses.`)).toThrow(
      /share no prompt: they differ at character 9, before any "\\n\\nAssistant:" turn/,
    );
    expect(() => extractPrompt("abc", "xyz")).toThrow(/share no prompt: they differ from their first character/);
  });

  it("plain text without turns: TRL's rule, the common prefix less a trailing space", () => {
    expect(extractPrompt("The sky is blue.", "The sky is green.")).toEqual({ prompt: "The sky is", chosen: " blue.", rejected: " green." });
  });

  it("message lists: the shared leading messages, cut back to where both completions start with an assistant turn", () => {
    const user = { role: "user", content: "Hi" };
    const hello = { role: "assistant", content: "Hello" };
    const again = { role: "user", content: "Again?" };
    expect(extractPrompt([user, { role: "assistant", content: "Yo" }], [user, { role: "assistant", content: "No" }])).toEqual({
      prompt: [user],
      chosen: [{ role: "assistant", content: "Yo" }],
      rejected: [{ role: "assistant", content: "No" }],
    });
    // They part at a user turn: the prompt goes back to the last assistant turn both start with.
    const split = extractPrompt([user, hello, again], [user, hello, { role: "user", content: "Bye" }]);
    expect(split.prompt).toEqual([user]);
    expect(split.chosen).toEqual([hello, again]);
    expect(() => extractPrompt([user, hello], [again, hello])).toThrow(/share no prompt: their first messages differ/);
  });
});

describe("Human:/Assistant: transcripts as messages", () => {
  it("parses turns, trimming contents; a completion's leading text is the assistant's", () => {
    expect(transcriptMessages(`${H}Hi there ${A}Hello.${H}Bye`)).toEqual([
      { role: "user", content: "Hi there" },
      { role: "assistant", content: "Hello." },
      { role: "user", content: "Bye" },
    ]);
    expect(transcriptMessages(` Eggs.${H}And?${A}Toast.`, "assistant")).toEqual([
      { role: "assistant", content: "Eggs." },
      { role: "user", content: "And?" },
      { role: "assistant", content: "Toast." },
    ]);
    expect(() => transcriptMessages("Hello\n\nHuman: x")).toThrow(/not a Human:\/Assistant: transcript/);
  });

  it("turns a split row into TRL's conversational preference row, keeping other fields", () => {
    const split = extractPrompt(`${H}Hi${A}Hello.${H}Capital of France?${A}Paris.`, `${H}Hi${A}Hello.${H}Capital of France?${A}Lyon.`);
    expect(toConversational({ ...split, margin: 1 })).toEqual({
      prompt: [
        { role: "user", content: "Hi" },
        { role: "assistant", content: "Hello." },
        { role: "user", content: "Capital of France?" },
      ],
      chosen: [{ role: "assistant", content: "Paris." }],
      rejected: [{ role: "assistant", content: "Lyon." }],
      margin: 1,
    });
    expect(() => toConversational({ prompt: "The sky is", chosen: " blue", rejected: " red" })).toThrow(
      /does not end with "\\n\\nAssistant:"/,
    );
  });
});
