/**
 * The guard's `/metrics` in Prometheus text format (prom-client, one registry per guard so that
 * several guards in one process do not share counters): requests by endpoint and outcome, broken
 * principles by principle, stage and action, and latency histograms of whole requests and of
 * screening.
 */
import { Counter, collectDefaultMetrics, Histogram, Registry } from "prom-client";
import type { Outcome } from "./audit.js";
import type { Verdict } from "./screen.js";

const SECONDS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class GuardMetrics {
  readonly registry = new Registry();
  readonly #requests = new Counter({
    name: "precept_guard_requests_total",
    help: "Requests answered, by endpoint and outcome (passed, flagged, revised, blocked) or error status",
    labelNames: ["endpoint", "outcome"],
    registers: [this.registry],
  });
  readonly #violations = new Counter({
    name: "precept_guard_violations_total",
    help: "Screenings that found a principle broken, by principle, stage and the action its mode calls for (block, revise, flag)",
    labelNames: ["principle", "stage", "action"],
    registers: [this.registry],
  });
  readonly #latency = new Histogram({
    name: "precept_guard_request_seconds",
    help: "Time from a request's arrival to its last byte",
    labelNames: ["endpoint", "stream"],
    buckets: SECONDS,
    registers: [this.registry],
  });
  readonly #screening = new Histogram({
    name: "precept_guard_screening_seconds",
    help: "Time to screen one text against one principle, by stage and classifier",
    labelNames: ["stage", "classifier"],
    buckets: SECONDS,
    registers: [this.registry],
  });

  constructor(processMetrics = false) {
    if (processMetrics) collectDefaultMetrics({ register: this.registry });
  }

  request(endpoint: string, outcome: Outcome | string, stream: boolean, seconds: number): void {
    this.#requests.inc({ endpoint, outcome });
    this.#latency.observe({ endpoint, stream: String(stream) }, seconds);
  }

  verdicts(verdicts: readonly Verdict[]): void {
    for (const v of verdicts) {
      this.#screening.observe({ stage: v.stage, classifier: v.classifier }, v.latencyMs / 1000);
      if (v.violated) this.#violations.inc({ principle: v.principle, stage: v.stage, action: v.mode });
    }
  }

  async text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
