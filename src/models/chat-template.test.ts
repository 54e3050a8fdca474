import { describe, expect, it } from "vitest";
import { transcript } from "../cai/format.js";
import { CHATML_TEMPLATE, type ChatMessage, HUMAN_ASSISTANT_TEMPLATE, LLAMA2_TEMPLATE, renderChatTemplate } from "./chat-template.js";

const conversation: ChatMessage[] = [
  { role: "system", content: "You are terse." },
  { role: "user", content: "Hi there" },
  { role: "assistant", content: "Hello!" },
  { role: "user", content: "How are you?" },
];

describe("CHATML_TEMPLATE", () => {
  it("wraps each message in <|im_start|>role\\n...<|im_end|>\\n and opens an assistant turn on request", () => {
    expect(renderChatTemplate(CHATML_TEMPLATE, conversation, { addGenerationPrompt: true })).toBe(
      "<|im_start|>system\nYou are terse.<|im_end|>\n" +
        "<|im_start|>user\nHi there<|im_end|>\n" +
        "<|im_start|>assistant\nHello!<|im_end|>\n" +
        "<|im_start|>user\nHow are you?<|im_end|>\n" +
        "<|im_start|>assistant\n",
    );
  });

  it("adds no generation prompt by default and keeps content verbatim", () => {
    const messages = [{ role: "user", content: "  spaced\n{{ not jinja }}  " }];
    expect(renderChatTemplate(CHATML_TEMPLATE, messages)).toBe("<|im_start|>user\n  spaced\n{{ not jinja }}  <|im_end|>\n");
  });

  it("renders an empty conversation as the generation prompt alone", () => {
    expect(renderChatTemplate(CHATML_TEMPLATE, [], { addGenerationPrompt: true })).toBe("<|im_start|>assistant\n");
  });
});

describe("LLAMA2_TEMPLATE", () => {
  const tokens = { bosToken: "<s>", eosToken: "</s>" };

  it("folds the system prompt into the first [INST] and ends each answer with EOS", () => {
    expect(renderChatTemplate(LLAMA2_TEMPLATE, conversation, tokens)).toBe(
      "<s>[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi there [/INST] Hello! </s><s>[INST] How are you? [/INST]",
    );
  });

  it("ends at [/INST] whether or not a generation prompt is asked for", () => {
    const withPrompt = renderChatTemplate(LLAMA2_TEMPLATE, conversation, { ...tokens, addGenerationPrompt: true });
    expect(withPrompt).toBe(renderChatTemplate(LLAMA2_TEMPLATE, conversation, tokens));
    expect(withPrompt.endsWith("[/INST]")).toBe(true);
  });

  it("works without a system prompt and trims each turn", () => {
    const messages = [
      { role: "user", content: "  Hi  " },
      { role: "assistant", content: " Hello. " },
    ];
    expect(renderChatTemplate(LLAMA2_TEMPLATE, messages, tokens)).toBe("<s>[INST] Hi [/INST] Hello. </s>");
  });

  it("raises the template's error when turns do not alternate", () => {
    const messages = [
      { role: "user", content: "a" },
      { role: "user", content: "b" },
    ];
    expect(() => renderChatTemplate(LLAMA2_TEMPLATE, messages, tokens)).toThrow(
      "Chat template error: Llama-2 chat needs turns that alternate user/assistant/user/..., after an optional system message",
    );
  });
});

describe("HUMAN_ASSISTANT_TEMPLATE", () => {
  const eos = { eosToken: "<|endoftext|>" };
  const render = (messages: ChatMessage[], addGenerationPrompt = false) =>
    renderChatTemplate(HUMAN_ASSISTANT_TEMPLATE, messages, { ...eos, addGenerationPrompt });

  it("renders a turn exactly as the CAI format's transcript (the sandbox model's training text), then EOS", () => {
    const prompt = "  What is the capital of France? ";
    expect(render([{ role: "user", content: prompt }], true)).toBe(transcript(prompt));
    const reply = " Paris. ";
    expect(
      render([
        { role: "user", content: prompt },
        { role: "assistant", content: reply },
      ]),
    ).toBe(`${transcript(prompt, reply)}<|endoftext|>`);
  });

  it("starts the next exchange after EOS, puts a system message first, and keeps user turns apart", () => {
    expect(render(conversation, true)).toBe(
      `You are terse.\n\n${transcript("Hi there", "Hello!")}<|endoftext|>${transcript("How are you?")}`,
    );
    expect(
      render(
        [
          { role: "user", content: "a" },
          { role: "user", content: "b" },
        ],
        true,
      ),
    ).toBe("Human: a\n\nHuman: b\n\nAssistant:");
  });

  it("renders each prefix of a conversation as a prefix of the whole (so SFT can mask assistant turns)", () => {
    const whole = render(conversation);
    for (let i = 1; i < conversation.length; i++) {
      if (conversation[i]?.role === "assistant") expect(whole.startsWith(render(conversation.slice(0, i), true))).toBe(true);
    }
  });

  it("refuses roles the format has no turn for", () => {
    expect(() => render([{ role: "tool", content: "42" }])).toThrow("turns only, not tool");
  });
});

describe("renderChatTemplate", () => {
  it("turns raise_exception into a thrown Error carrying the template's message", () => {
    const template = "{% if messages | length == 0 %}{{ raise_exception('nothing to render') }}{% endif %}ok";
    expect(renderChatTemplate(template, [{ role: "user", content: "x" }])).toBe("ok");
    expect(() => renderChatTemplate(template, [])).toThrow(Error);
    expect(() => renderChatTemplate(template, [])).toThrow("Chat template error: nothing to render");
  });

  it("says when a template does not parse", () => {
    expect(() => renderChatTemplate("{% for %}", [])).toThrow(/^Chat template does not parse: /);
  });

  it("passes bos_token, eos_token, add_generation_prompt and extra variables", () => {
    const template = "{{ bos_token }}|{{ eos_token }}|{% if add_generation_prompt %}prompt{% endif %}|{{ tools | length }}";
    expect(
      renderChatTemplate(template, [], { bosToken: "<s>", eosToken: "</s>", addGenerationPrompt: true, variables: { tools: [1, 2] } }),
    ).toBe("<s>|</s>|prompt|2");
    expect(renderChatTemplate("[{{ bos_token }}][{{ eos_token }}]", [])).toBe("[][]");
  });
});
