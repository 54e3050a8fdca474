/**
 * Supervised Constitutional AI (SL-CAI): for each red-team prompt, the
 * policy's first response, then `revisions` rounds of sample a principle →
 * critique → revision. A critique that finds no problem skips its revision
 * (configurable). Helpfulness prompts get only the first response, to be
 * mixed into the SFT data. Every step is a record with its provenance.
 */
import { createHash } from "node:crypto";
import type { LoadedConstitution } from "../constitution/load.js";
import { principlesFor } from "../constitution/stages.js";
import type { Provider } from "../providers/provider.js";
import type { WorkItem } from "../store/store.js";
import { critiqueMessages, critiquePrompt, cutAtTurn, responsePrompt, revisionMessages, revisionPrompt, TURN_STOPS } from "./format.js";
import { itemSeed, samplePrinciple } from "./sample.js";
import type { RecordSteps } from "./steps.js";

export type PromptSet = "red-team" | "helpful";

export type ReviseSettings = {
  constitution: LoadedConstitution;
  /** Critique → revision rounds (default: the constitution's `sampling.revisions`). */
  revisions: number;
  seed: number;
  /** "completion": the paper's Human/Assistant transcript; "chat": the same turns as chat messages. */
  mode: "completion" | "chat";
  /** Skip a revision when the critique matches `noProblem`. */
  skipNoProblem: boolean;
  noProblem: RegExp;
  /** How many of the constitution's few-shot examples to put before each critique (completion mode). */
  fewShot: number;
  maxTokens: number;
  temperature: number;
};

export type PromptPayload = { prompt: string; set: PromptSet; source: string };

/** A prompt's work-item key: a prefix and a hash of its text (an edited file keeps the keys of unchanged prompts). */
export function promptKey(prefix: string, prompt: string): string {
  return `${prefix}:${createHash("sha256").update(prompt).digest("hex").slice(0, 16)}`;
}

export type ReviseResult = { rounds: number; revised: number; final: string };

export async function reviseItem(
  item: WorkItem,
  steps: RecordSteps,
  providers: { policy: Provider; critic: Provider },
  s: ReviseSettings,
): Promise<ReviseResult> {
  const { prompt, set, source } = item.payload as PromptPayload;
  const key = item.key;
  const sampling = { max_tokens: s.maxTokens, temperature: s.temperature };
  const params = (purpose: string) => ({
    maxTokens: s.maxTokens,
    temperature: s.temperature,
    stop: TURN_STOPS,
    seed: itemSeed(s.seed, key, purpose),
  });
  const examples = s.constitution.few_shot.critique_revision.slice(0, s.fewShot);
  const provenance = { constitutionHash: s.constitution.hash, sampling };

  const root = await steps.step("prompt", key, async () => ({ data: { prompt, set, source } }));
  const first = await steps.step("generation", `${key}/initial`, async () => {
    const input = s.mode === "chat" ? [{ role: "user", content: prompt }] : responsePrompt(prompt);
    const completion = await steps.complete(providers.policy, input, params("initial"));
    return {
      parentId: root.id,
      data: { prompt, completion: cutAtTurn(completion.text) },
      modelId: providers.policy.id,
      sampling,
      seed: itemSeed(s.seed, key, "initial"),
    };
  });
  let response = (first.data as { completion: string }).completion;
  if (set === "helpful") return { rounds: 0, revised: 0, final: response };

  // Only critique/revision principles: comparison-only ones have no requests to make.
  const fitting = principlesFor(s.constitution, "critique_revision");
  let parent = first.id;
  let revised = 0;
  for (let round = 0; round < s.revisions; round++) {
    const principle = samplePrinciple(fitting, s.seed, key, round);
    const critiqueRecord = await steps.step("critique", `${key}/r${round}/critique`, async () => {
      const input =
        s.mode === "chat" ? critiqueMessages(prompt, response, principle) : critiquePrompt(prompt, response, principle, examples);
      const completion = await steps.complete(providers.critic, input, params(`r${round}/critique`));
      const critique = cutAtTurn(completion.text);
      return {
        ...provenance,
        parentId: parent,
        principleId: principle.id,
        modelId: providers.critic.id,
        seed: itemSeed(s.seed, key, `r${round}/critique`),
        data: { prompt, response, round, critique_request: principle.critique, critique, no_problem: s.noProblem.test(critique) },
      };
    });
    parent = critiqueRecord.id;
    const { critique, no_problem } = critiqueRecord.data as { critique: string; no_problem: boolean };
    if (s.skipNoProblem && no_problem) continue;
    const revisionRecord = await steps.step("revision", `${key}/r${round}/revision`, async () => {
      const input =
        s.mode === "chat"
          ? revisionMessages(prompt, response, principle, critique)
          : revisionPrompt(prompt, response, principle, critique, examples);
      const completion = await steps.complete(providers.critic, input, params(`r${round}/revision`));
      return {
        ...provenance,
        parentId: parent,
        principleId: principle.id,
        modelId: providers.critic.id,
        seed: itemSeed(s.seed, key, `r${round}/revision`),
        data: { prompt, response, round, revision_request: principle.revision, revision: cutAtTurn(completion.text) },
      };
    });
    parent = revisionRecord.id;
    const revision = (revisionRecord.data as { revision: string }).revision;
    // An empty revision (a model that ran straight into a stop) would erase the answer; keep the last one.
    if (revision.length > 0) {
      response = revision;
      revised++;
    }
  }
  return { rounds: s.revisions, revised, final: response };
}
