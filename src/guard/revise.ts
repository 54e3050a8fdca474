/**
 * `revise` mode: the critic provider critiques the reply against the first broken principle and
 * rewrites it, with the constitution's own critique and revision requests (the SL-CAI turns of
 * `cai revise`), and the rewrite is screened again; up to `rounds` times. A rewrite that is still
 * broken after the last round, or an empty one, means the reply is blocked.
 */
import { critiqueMessages, cutAtTurn, revisionMessages } from "../cai/format.js";
import type { Provider } from "../providers/provider.js";
import { actionOf, type Screener, screen, type Verdict } from "./screen.js";

export type Revision = {
  /** The rewrite that passed, or null when the reply must be blocked. */
  text: string | null;
  rounds: number;
  /** The verdicts of every screening of a rewrite, in order. */
  verdicts: Verdict[];
};

export async function reviseReply(
  screener: Screener,
  critic: Provider,
  prompt: string,
  reply: string,
  broken: readonly Verdict[],
  options: { rounds: number; maxTokens?: number },
): Promise<Revision> {
  const byId = new Map(screener.policy.principles.map((p) => [p.principle.id, p.principle]));
  const params = { maxTokens: options.maxTokens ?? 128, temperature: 0, seed: 0 };
  let text = reply;
  let current = broken.filter((v) => v.violated);
  const verdicts: Verdict[] = [];
  for (let round = 1; round <= options.rounds; round++) {
    const principle = byId.get((current[0] as Verdict).principle);
    if (!principle?.critique) return { text: null, rounds: round - 1, verdicts }; // a comparison-only principle cannot be revised against
    const [critique] = await critic.chat([critiqueMessages(prompt, text, principle)], params);
    const critiqueText = cutAtTurn(critique?.text ?? "");
    const [revision] = await critic.chat([revisionMessages(prompt, text, principle, critiqueText)], params);
    text = cutAtTurn(revision?.text ?? "").trim();
    if (text === "") return { text: null, rounds: round, verdicts };
    const again = await screen(screener, "output", prompt, text);
    verdicts.push(...again);
    const action = actionOf(again);
    if (action === null || action === "flag") return { text, rounds: round, verdicts };
    current = again.filter((v) => v.violated);
  }
  return { text: null, rounds: options.rounds, verdicts };
}
