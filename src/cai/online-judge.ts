/**
 * The constitution as online DPO's judge: each pair of fresh samples goes
 * through `cai label`'s own machinery (labelItem: sampled principles plus the
 * hard constraints, both orders to cancel position bias, priorities), so every
 * judgement is a stored record with its provenance, exactly as in a labelling
 * pass. A pair already judged in this run (same prompt and responses, e.g.
 * after a resume) is read back, not asked again.
 */
import { createHash } from "node:crypto";
import type { LoadedConstitution } from "../constitution/load.js";
import type { Provider } from "../providers/provider.js";
import type { Store, WorkItem } from "../store/store.js";
import type { PairJudge } from "../train/online-dpo.js";
import { type LabelPayload, type LabelSettings, labelItem, labelMethodFor } from "./label.js";
import { completionField } from "./outputs.js";
import { RecordSteps } from "./steps.js";

export type ConstitutionJudgeOptions = {
  store: Store;
  runId: string;
  feedback: Provider;
  constitution: LoadedConstitution;
} & Partial<Omit<LabelSettings, "constitution" | "method" | "responses">>;

/** A pair judge for `trainOnlineDpo` that applies the constitution through `feedback`; needs the responses' text. */
export async function constitutionJudge(o: ConstitutionJudgeOptions): Promise<PairJudge> {
  const mode = o.mode ?? "completion";
  const settings: LabelSettings = {
    constitution: o.constitution,
    seed: o.seed ?? 0,
    mode,
    responses: 2,
    principles: o.principles ?? o.constitution.sampling.principles_per_comparison,
    chainOfThought: o.chainOfThought ?? false,
    clamp: o.clamp ?? [0.4, 0.6],
    method: mode === "chat" ? "sampling" : await labelMethodFor(o.feedback),
    samples: o.samples ?? 8,
    maxTokens: o.maxTokens ?? 128,
    temperature: o.temperature ?? 1,
    reasoningTokens: o.reasoningTokens ?? 96,
  };
  await o.store.putConstitution(o.constitution.hash, o.constitution.name, o.constitution.version, o.constitution);
  const { constitution: _, ...recorded } = settings;
  await o.store.putRun(o.runId, "online-dpo-judge", { feedback: o.feedback.id, constitution: o.constitution.hash, settings: recorded });
  const steps = await RecordSteps.open(o.store, o.runId);

  return async ({ promptTexts, firstTexts, secondTexts }) => {
    if (!promptTexts || !firstTexts || !secondTexts)
      throw new Error("online-dpo: a constitution judge needs text; the policy has no tokenizer");
    return Promise.all(
      promptTexts.map(async (prompt, i) => {
        const a = firstTexts[i] as string;
        const b = secondTexts[i] as string;
        const key = createHash("sha256").update(`${prompt}\u0000${a}\u0000${b}`).digest("hex").slice(0, 24);
        const payload: LabelPayload = { prompt, responses: [a, b], source: "online-dpo" };
        await labelItem(workItem(o.runId, key, payload), steps, { policy: o.feedback, feedback: o.feedback }, settings);
        // Identical responses are not compared: no preference.
        const comparison = steps.get("comparison", `${key}/0-1`);
        if (!comparison) return 0.5;
        const { chosen, label } = comparison.data as { chosen: unknown; label: number };
        return JSON.stringify(chosen) === JSON.stringify(completionField(a, mode)) ? label : 1 - label;
      }),
    );
  };
}

/** The work item labelItem reads (its key and payload); judged inline, not claimed from the queue. */
function workItem(runId: string, key: string, payload: LabelPayload): WorkItem {
  // Only key and payload are read; the queue fields say it is being worked on now.
  return {
    id: 0,
    runId,
    key,
    kind: "label",
    payload,
    status: "claimed",
    claimedBy: null,
    claimExpiresAt: null,
    attempts: 1,
    result: null,
    error: null,
  } as WorkItem;
}
