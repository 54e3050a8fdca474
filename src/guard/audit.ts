/**
 * The guard's audit trail: every screening of every request is a `guard_decision` record in the
 * store (request id, stage, principle, score, threshold, action, latency, classifier), keyed so
 * that a decision is stored once. Texts go on the records of broken principles only, as
 * `--store-text` says: `none`, `redacted` (the policy's patterns replaced by `[redacted]`, so a
 * leaked phone number is not kept in the audit log either) or `full`.
 */
import type { Store } from "../store/store.js";
import { type Mode, redact } from "./policy.js";
import type { Verdict } from "./screen.js";

export const STORE_TEXT = ["none", "redacted", "full"] as const;
export type StoreText = (typeof STORE_TEXT)[number];

/** What became of a request: answered as is, answered and recorded, answered with a rewrite, refused, or failed (the upstream broke off a stream). */
export type Outcome = "passed" | "flagged" | "revised" | "blocked" | "error";

export type RequestAudit = {
  requestId: string;
  endpoint: "chat" | "completions";
  stream: boolean;
  /** The user's text as screened (the last user message, or the prompt). */
  prompt: string;
  /** The upstream's reply (null when the request was blocked before it was sent). */
  reply: string | null;
  /** What the client got. */
  shown: string;
  outcome: Outcome;
  verdicts: Verdict[];
  /** From the request's arrival to its last byte. */
  latencyMs: number;
};

export type DecisionData = {
  request_id: string;
  endpoint: string;
  stream: boolean;
  stage: string;
  principle: string;
  score: number;
  threshold: number;
  violated: boolean;
  mode: Mode;
  /** `pass`, or the mode this broken principle called for. */
  action: "pass" | Mode;
  outcome: Outcome;
  classifier: string;
  latency_ms: number;
  request_latency_ms: number;
  text_stored: StoreText;
  prompt?: string;
  reply?: string | null;
  shown?: string;
};

export class DecisionLog {
  constructor(
    readonly store: Store,
    readonly runId: string,
    readonly constitutionHash: string,
    readonly storeText: StoreText,
    readonly redactions: readonly RegExp[],
  ) {}

  #text(text: string): string {
    return this.storeText === "redacted" ? redact(text, this.redactions) : text;
  }

  /** Stores one request's decisions in one transaction; returns how many records it added. */
  async record(audit: RequestAudit): Promise<number> {
    const seen = new Map<string, number>();
    const records = audit.verdicts.map((v) => {
      const base = `${audit.requestId}/${v.stage}/${v.principle}`;
      const n = seen.get(base) ?? 0; // a principle screened again (a revision) gets its own record
      seen.set(base, n + 1);
      const data: DecisionData = {
        request_id: audit.requestId,
        endpoint: audit.endpoint,
        stream: audit.stream,
        stage: v.stage,
        principle: v.principle,
        score: v.score,
        threshold: v.threshold,
        violated: v.violated,
        mode: v.mode,
        action: v.violated ? v.mode : "pass",
        outcome: audit.outcome,
        classifier: v.classifier,
        latency_ms: Math.round(v.latencyMs * 100) / 100,
        request_latency_ms: Math.round(audit.latencyMs * 100) / 100,
        text_stored: this.storeText,
      };
      if (v.violated && this.storeText !== "none") {
        data.prompt = this.#text(audit.prompt);
        data.reply = audit.reply === null ? null : this.#text(audit.reply);
        data.shown = this.#text(audit.shown);
      }
      return {
        kind: "guard_decision" as const,
        key: n === 0 ? base : `${base}#${n}`,
        data,
        constitutionHash: this.constitutionHash,
        principleId: v.principle,
      };
    });
    if (records.length === 0) return 0;
    await this.store.addRecords(this.runId, records);
    return records.length;
  }

  async decisions(): Promise<DecisionData[]> {
    return (await this.store.records(this.runId, "guard_decision")).map((r) => r.data as DecisionData);
  }
}
