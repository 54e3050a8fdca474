/**
 * Tokenizers as the rest of Precept sees them, and the loader for the files
 * every Hugging Face model ships: `tokenizer.json` (read by
 * `@huggingface/tokenizers`), `tokenizer_config.json` (special tokens, chat
 * template) and, when present, `generation_config.json` (extra EOS ids, stop strings) and
 * `chat_template.jinja`.
 */
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { z } from "zod";
import { type ChatMessage, renderChatTemplate } from "./chat-template.js";

export interface EncodeOptions {
  /** Add what the tokenizer's post-processor adds (e.g. Llama's `<s>`); default true, as in `transformers`. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  /** Leave out special tokens (BOS, EOS, chat markers) from the text. */
  skipSpecialTokens?: boolean;
}

export interface ApplyChatTemplateOptions {
  /** End with the opening of an assistant turn, so the model answers next. */
  addGenerationPrompt?: boolean;
}

export interface Tokenizer {
  encode(text: string, options?: EncodeOptions): number[];
  /** Throws on an id outside the vocabulary; bytes that are not valid UTF-8 decode to U+FFFD. */
  decode(ids: readonly number[], options?: DecodeOptions): string;
  /** One past the largest id, i.e. the embedding rows a model needs. */
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  /** Ids that end a generation; chat models often have several (e.g. `<|im_end|>` and `<|endoftext|>`). */
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | null;
  /**
   * Strings that end a reply in the model's chat format (`stop_strings` in generation_config.json, as in
   * `transformers`), e.g. the blank line before the next `Human:` turn; chat serving stops at them.
   */
  readonly stopStrings: readonly string[];
  tokenToId(token: string): number | undefined;
  idToToken(id: number): string | undefined;
  readonly chatTemplate: string | null;
  /** Renders a conversation with the chat template; throws when the tokenizer has none. */
  applyChatTemplate(messages: readonly ChatMessage[], options?: ApplyChatTemplateOptions): string;
  /** The `tokenizer.json` document (Hugging Face `tokenizers` format). */
  toTokenizerJson(): Record<string, unknown>;
  /** The `tokenizer_config.json` document (`transformers` format). */
  toTokenizerConfig(): Record<string, unknown>;
}

export function noChatTemplateError(): Error {
  return new Error(
    "This tokenizer has no chat template: set chat_template in tokenizer_config.json (e.g. HUMAN_ASSISTANT_TEMPLATE or CHATML_TEMPLATE, whichever format the model was trained on), or send a prompt in the model's own format as a completion",
  );
}

/** Error for an id a tokenizer cannot decode; shared so every tokenizer words it the same way. */
export function idOutOfRangeError(id: number, vocabSize: number): Error {
  return new Error(`Cannot decode token id ${id}: the vocabulary has ${vocabSize} tokens (ids 0 to ${vocabSize - 1})`);
}

// `transformers` writes special tokens either as plain strings or as serialized AddedToken objects.
const specialTokenSchema = z.union([z.string(), z.looseObject({ content: z.string() })]).nullish();
type SpecialTokenField = z.output<typeof specialTokenSchema>;

const namedTemplateSchema = z.object({ name: z.string(), template: z.string() });
const tokenizerConfigSchema = z.looseObject({
  bos_token: specialTokenSchema,
  eos_token: specialTokenSchema,
  pad_token: specialTokenSchema,
  unk_token: specialTokenSchema,
  chat_template: z.union([z.string(), z.array(namedTemplateSchema)]).nullish(),
  clean_up_tokenization_spaces: z.boolean().nullish(),
  additional_special_tokens: z.array(specialTokenSchema).nullish(),
});
type TokenizerConfig = z.output<typeof tokenizerConfigSchema>;

const generationConfigSchema = z.looseObject({
  eos_token_id: z.union([z.number().int().nonnegative(), z.array(z.number().int().nonnegative())]).nullish(),
  stop_strings: z.union([z.string().min(1), z.array(z.string().min(1))]).nullish(),
});

const tokenContent = (field: SpecialTokenField): string | null =>
  field == null ? null : typeof field === "string" ? field : field.content;

/** A tokenizer read from Hugging Face files; encoding and decoding go through `@huggingface/tokenizers`. */
class HuggingFaceTokenizer implements Tokenizer {
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenIds: readonly number[];
  readonly padTokenId: number | null;
  readonly stopStrings: readonly string[];
  readonly chatTemplate: string | null;
  readonly #tokenizer: HfTokenizer;
  readonly #tokenizerJson: Record<string, unknown>;
  readonly #config: TokenizerConfig;
  readonly #cleanUpSpaces: boolean;

  constructor(tokenizer: HfTokenizer, tokenizerJson: Record<string, unknown>, config: TokenizerConfig, ids: SpecialIds) {
    this.#tokenizer = tokenizer;
    this.#tokenizerJson = tokenizerJson;
    this.#config = config;
    this.vocabSize = ids.vocabSize;
    this.bosTokenId = ids.bos;
    this.eosTokenIds = ids.eos;
    this.padTokenId = ids.pad;
    this.stopStrings = ids.stop;
    const template = config.chat_template;
    this.chatTemplate = Array.isArray(template) ? (template.find((t) => t.name === "default")?.template ?? null) : (template ?? null);
    // The library cleans up " ." → "." unless told otherwise; `transformers` no longer does by default, and it breaks round trips.
    this.#cleanUpSpaces = config.clean_up_tokenization_spaces ?? false;
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const { ids, tokens } = this.#tokenizer.encode(text, { add_special_tokens: options.addSpecialTokens ?? true });
    // Typed number[], but a token with no id (no unk_token to fall back on) comes out as undefined.
    const missing = ids.findIndex((id: number | undefined) => id === undefined);
    if (missing >= 0) throw new Error(`Token ${JSON.stringify(tokens[missing])} has no id (the tokenizer has no unk_token)`);
    return ids;
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    // The library maps unknown ids to the unk token (or undefined) instead of failing.
    for (const id of ids) {
      if (!Number.isInteger(id) || this.#tokenizer.id_to_token(id) === undefined) throw idOutOfRangeError(id, this.vocabSize);
    }
    // ...and throws on an empty list.
    if (ids.length === 0) return "";
    return this.#tokenizer.decode([...ids], {
      skip_special_tokens: options.skipSpecialTokens ?? false,
      clean_up_tokenization_spaces: this.#cleanUpSpaces,
    });
  }

  tokenToId(token: string): number | undefined {
    return this.#tokenizer.token_to_id(token);
  }

  idToToken(id: number): string | undefined {
    return Number.isInteger(id) && id >= 0 ? this.#tokenizer.id_to_token(id) : undefined;
  }

  applyChatTemplate(messages: readonly ChatMessage[], options: ApplyChatTemplateOptions = {}): string {
    if (this.chatTemplate === null) throw noChatTemplateError();
    return renderChatTemplate(this.chatTemplate, messages, {
      addGenerationPrompt: options.addGenerationPrompt ?? false,
      bosToken: tokenContent(this.#config.bos_token) ?? "",
      eosToken: tokenContent(this.#config.eos_token) ?? "",
      variables: { pad_token: tokenContent(this.#config.pad_token) ?? "", unk_token: tokenContent(this.#config.unk_token) ?? "" },
    });
  }

  toTokenizerJson(): Record<string, unknown> {
    return structuredClone(this.#tokenizerJson);
  }

  toTokenizerConfig(): Record<string, unknown> {
    return structuredClone(this.#config);
  }
}

interface SpecialIds {
  vocabSize: number;
  bos: number | null;
  eos: number[];
  pad: number | null;
  stop: string[];
}

/**
 * Loads the tokenizer saved in `dir`: `tokenizer.json` is required;
 * `tokenizer_config.json` (special tokens, chat template) is read when present
 * (older checkpoints ship without it); `generation_config.json` adds its `eos_token_id`(s) to the
 * config's EOS; `chat_template.jinja`, as recent `transformers` saves it,
 * overrides the config's `chat_template`.
 */
export async function loadTokenizer(dir: string): Promise<Tokenizer> {
  const tokenizerJson = await readJsonFile(dir, "tokenizer.json");
  const configJson = (await readJsonFile(dir, "tokenizer_config.json", { optional: true })) ?? {};
  const config = parseFile(dir, "tokenizer_config.json", tokenizerConfigSchema, configJson);
  const jinja = await readTextFile(dir, "chat_template.jinja");
  if (jinja !== null) config.chat_template = jinja;
  const generationJson = await readJsonFile(dir, "generation_config.json", { optional: true });
  const generation = generationJson === null ? null : parseFile(dir, "generation_config.json", generationConfigSchema, generationJson);

  if (typeof tokenizerJson !== "object" || tokenizerJson === null || Array.isArray(tokenizerJson)) {
    throw new Error(`tokenizer.json in ${dir} is not a JSON object`);
  }
  let tokenizer: HfTokenizer;
  try {
    tokenizer = new HfTokenizer(withDefaults(tokenizerJson as Record<string, unknown>), libraryConfig(config));
  } catch (error) {
    throw new Error(`tokenizer.json in ${dir} cannot be loaded: ${(error as Error).message}`, { cause: error });
  }

  let vocabSize = 0;
  for (const id of tokenizer.get_vocab(true).values()) vocabSize = Math.max(vocabSize, id + 1);
  const idOf = (field: "bos_token" | "eos_token" | "pad_token"): number | null => {
    const token = tokenContent(config[field]);
    if (token === null) return null;
    const id = tokenizer.token_to_id(token);
    if (id === undefined) throw new Error(`tokenizer_config.json in ${dir}: ${field} ${JSON.stringify(token)} is not in the vocabulary`);
    return id;
  };
  const eos: number[] = [];
  const configEos = idOf("eos_token");
  if (configEos !== null) eos.push(configEos);
  const generationEos = generation?.eos_token_id;
  for (const id of generationEos == null ? [] : Array.isArray(generationEos) ? generationEos : [generationEos]) {
    if (id >= vocabSize)
      throw new Error(`generation_config.json in ${dir}: eos_token_id ${id} is outside the vocabulary of ${vocabSize} tokens`);
    if (!eos.includes(id)) eos.push(id);
  }
  return new HuggingFaceTokenizer(tokenizer, tokenizerJson as Record<string, unknown>, config, {
    vocabSize,
    bos: idOf("bos_token"),
    eos,
    pad: idOf("pad_token"),
    stop: generation?.stop_strings == null ? [] : [generation.stop_strings].flat(),
  });
}

/**
 * Writes `tokenizer.json` and `tokenizer_config.json` (chat template included)
 * into `dir`, each to a temporary name renamed into place.
 */
export async function saveTokenizer(tokenizer: Tokenizer, dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const config = tokenizer.toTokenizerConfig();
  // Kept as the config has it when it has one (a list of named templates stays a list).
  if (config.chat_template == null && tokenizer.chatTemplate !== null) config.chat_template = tokenizer.chatTemplate;
  await writeJsonAtomic(join(dir, "tokenizer.json"), tokenizer.toTokenizerJson());
  await writeJsonAtomic(join(dir, "tokenizer_config.json"), config);
  // A stale chat_template.jinja would override the template just saved, in `transformers` as in loadTokenizer.
  await rm(join(dir, "chat_template.jinja"), { force: true });
}

/** The library requires every component key to be present (null when unused); files written by hand often leave some out. */
function withDefaults(tokenizerJson: Record<string, unknown>): Record<string, unknown> {
  return {
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    ...tokenizerJson,
    added_tokens: tokenizerJson.added_tokens ?? [],
  };
}

/** The library reads special tokens from the config as plain strings. */
function libraryConfig(config: TokenizerConfig): Record<string, unknown> {
  const plain: Record<string, unknown> = { ...config };
  for (const field of ["bos_token", "eos_token", "pad_token", "unk_token"] as const)
    plain[field] = tokenContent(config[field]) ?? undefined;
  plain.additional_special_tokens = (config.additional_special_tokens ?? []).map(tokenContent).filter((t) => t !== null);
  return plain;
}

async function readTextFile(dir: string, name: string): Promise<string | null> {
  try {
    return await readFile(join(dir, name), "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw new Error(`Cannot read ${name} in ${dir}: ${(error as Error).message}`, { cause: error });
  }
}

async function readJsonFile(dir: string, name: string, options: { optional?: boolean } = {}): Promise<unknown> {
  const text = await readTextFile(dir, name);
  if (text === null) {
    if (options.optional) return null;
    throw new Error(`Missing ${name} in ${dir}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error(`${name} in ${dir} is not valid JSON: ${(error as Error).message}`, { cause: error });
  }
}

function parseFile<T extends z.ZodType>(dir: string, name: string, schema: T, json: unknown): z.output<T> {
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => `${issue.path.join(".") || "(top level)"}: ${issue.message}`);
    throw new Error(`${name} in ${dir} is malformed: ${problems.join("; ")}`);
  }
  return parsed.data;
}

async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const temp = `${path}.tmp-${process.pid}`;
  await writeFile(temp, `${JSON.stringify(value, null, 2)}\n`);
  await rename(temp, path);
}
