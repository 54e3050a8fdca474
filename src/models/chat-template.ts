/**
 * Chat templates: the Jinja programs Hugging Face tokenizers ship in
 * `tokenizer_config.json` to turn a list of messages into one prompt string.
 * Rendering goes through `@huggingface/jinja`, which (like `transformers`)
 * turns on `trim_blocks` and `lstrip_blocks`.
 */
import { Template } from "@huggingface/jinja";

export interface ChatMessage {
  role: string;
  content: string;
}

export interface RenderChatTemplateOptions {
  /** Append the opening of an assistant turn, so the model answers next. */
  addGenerationPrompt?: boolean;
  /** `bos_token` in the template; "" when the tokenizer has none. */
  bosToken?: string;
  /** `eos_token` in the template; "" when the tokenizer has none. */
  eosToken?: string;
  /** Further template variables (`pad_token`, `tools`, ...), as `transformers` passes its keyword arguments. */
  variables?: Record<string, unknown>;
}

/**
 * ChatML, as Qwen and many from-scratch models use it:
 * `<|im_start|>role\ncontent<|im_end|>\n` per message, then `<|im_start|>assistant\n`.
 */
export const CHATML_TEMPLATE = [
  "{% for message in messages %}",
  "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}",
  "{% endfor %}",
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}",
].join("");

/**
 * Llama-2-chat: `<s>[INST] <<SYS>>\nsystem\n<</SYS>>\n\nuser [/INST] assistant </s>`.
 * The system prompt folds into the first user turn. A prompt that ends with a
 * user turn already ends in `[/INST]`, the point where the model answers, so
 * `add_generation_prompt` adds nothing.
 */
export const LLAMA2_TEMPLATE = [
  "{% if messages | length > 0 and messages[0]['role'] == 'system' %}",
  "{% set system_message = messages[0]['content'] %}{% set turns = messages[1:] %}",
  "{% else %}",
  "{% set system_message = none %}{% set turns = messages %}",
  "{% endif %}",
  "{% for message in turns %}",
  "{% if (message['role'] == 'user') != (loop.index0 % 2 == 0) %}",
  "{{ raise_exception('Llama-2 chat needs turns that alternate user/assistant/user/..., after an optional system message') }}",
  "{% endif %}",
  "{% if message['role'] == 'user' %}",
  "{% if loop.first and system_message is not none %}",
  "{% set content = '<<SYS>>\\n' + system_message + '\\n<</SYS>>\\n\\n' + message['content'] %}",
  "{% else %}",
  "{% set content = message['content'] %}",
  "{% endif %}",
  "{{ bos_token + '[INST] ' + (content | trim) + ' [/INST]' }}",
  "{% else %}",
  "{{ ' ' + (message['content'] | trim) + ' ' + eos_token }}",
  "{% endif %}",
  "{% endfor %}",
].join("");

/**
 * The Human/Assistant transcript of Anthropic's HH-RLHF and the Constitutional AI paper, exactly as
 * Precept's CAI format writes it (`transcript` in src/cai/format.ts) and as the sandbox base model was
 * trained on it: `Human: {prompt}\n\nAssistant: {reply}` then EOS, one exchange per document. The
 * generation prompt is `\n\nAssistant:` (the reply starts with its own space). After EOS the next
 * `Human:` follows directly, as the next document did in training; a system message is plain text
 * before the first turn. Contents are trimmed, as `transcript` trims them.
 */
export const HUMAN_ASSISTANT_TEMPLATE = [
  "{% for message in messages %}",
  "{% if message['role'] == 'system' or message['role'] == 'developer' %}",
  "{{ message['content'] | trim }}",
  "{% elif message['role'] == 'user' %}",
  "{% if not loop.first and messages[loop.index0 - 1]['role'] != 'assistant' %}{{ '\n\n' }}{% endif %}",
  "{{ 'Human: ' + message['content'] | trim }}",
  "{% elif message['role'] == 'assistant' %}",
  "{{ '\n\nAssistant: ' + message['content'] | trim + eos_token }}",
  "{% else %}",
  "{{ raise_exception('The Human/Assistant format has system, user and assistant turns only, not ' + message['role']) }}",
  "{% endif %}",
  "{% endfor %}",
  "{% if add_generation_prompt %}{{ '\n\nAssistant:' }}{% endif %}",
].join("");

/**
 * Where a reply in that format ends besides EOS: a reply is one paragraph, and a blank line is where the
 * next block (`Human:`, `Critique request:`, a comparison question) begins; the same rule as the CAI
 * pipelines' `cutAtTurn`. Saved as `stop_strings` in generation_config.json.
 */
export const HUMAN_ASSISTANT_STOP_STRINGS: readonly string[] = ["\n\n"];

// Parsing a long template costs more than rendering it; tokenizers re-render the same few templates for every example.
const compiled = new Map<string, Template>();
const MAX_COMPILED = 16;

function compile(template: string): Template {
  let program = compiled.get(template);
  if (program === undefined) {
    try {
      program = new Template(template);
    } catch (error) {
      throw new Error(`Chat template does not parse: ${messageOf(error)}`, { cause: error });
    }
    if (compiled.size >= MAX_COMPILED) compiled.clear();
    compiled.set(template, program);
  }
  return program;
}

/**
 * Renders `messages` with a Jinja chat template, passing the variables `transformers`' `apply_chat_template` passes.
 * `variables` cannot redefine the engine's globals (`raise_exception`, `range`, `strftime_now`, `true`, `none`, ...).
 */
export function renderChatTemplate(template: string, messages: readonly ChatMessage[], options: RenderChatTemplateOptions = {}): string {
  const program = compile(template);
  try {
    return program.render({
      ...options.variables,
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? false,
      bos_token: options.bosToken ?? "",
      eos_token: options.eosToken ?? "",
    });
  } catch (error) {
    // The engine's `raise_exception` throws a plain Error carrying the template's message, as do its own
    // runtime errors (which cannot be told apart from it): either way the message is the useful part.
    throw new Error(`Chat template error: ${messageOf(error)}`, { cause: error });
  }
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
