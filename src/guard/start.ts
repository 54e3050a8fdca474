/**
 * Starting a guard on a socket from its parts: the constitution and policy files, the upstream,
 * the judge and critic providers, the store. Startup fails with one clear line when a file is
 * wrong or a principle could never be screened; closing stops taking requests, lets open streams
 * finish, then closes the store.
 */
import { type ServerType, serve } from "@hono/node-server";
import { loadConstitution } from "../constitution/load.js";
import type { Provider } from "../providers/provider.js";
import type { Store } from "../store/store.js";
import { DecisionLog, type StoreText } from "./audit.js";
import { JudgeClassifier } from "./judge.js";
import { GuardMetrics } from "./metrics.js";
import { buildPolicy, type GuardPolicy, loadPolicy, type Mode, policySchema } from "./policy.js";
import { createGuardApp, type GuardAppOptions } from "./proxy.js";
import { checkScreener } from "./screen.js";
import type { TrainedClassifier } from "./trained.js";
import type { Upstream } from "./upstream.js";

export type GuardSetup = {
  constitution: string;
  policy?: string;
  mode?: Mode;
  upstream: Upstream;
  judge?: Provider;
  /** A classifier from `precept guard train` (replies only). */
  classifier?: TrainedClassifier;
  critic?: Provider;
  store: Store | null;
  run: string;
  storeText: StoreText;
  host: string;
  port: number;
  processMetrics?: boolean;
} & Pick<GuardAppOptions, "token" | "maxBodyBytes" | "maxConcurrent" | "maxQueue" | "rateLimitPerMinute" | "log">;

export type RunningGuard = { port: number; policy: GuardPolicy; decisions: DecisionLog | null; close(): Promise<void> };

export function guardPolicy(constitutionFile: string, policyFile?: string, mode?: Mode): GuardPolicy {
  const constitution = loadConstitution(constitutionFile);
  return policyFile
    ? loadPolicy(policyFile, constitution, mode)
    : buildPolicy(constitution, policySchema.parse({}), "the default policy", mode);
}

export async function startGuard(setup: GuardSetup): Promise<RunningGuard> {
  const policy = guardPolicy(setup.constitution, setup.policy, setup.mode);
  const screener = { policy, judge: setup.judge ? new JudgeClassifier(setup.judge) : null, trained: setup.classifier ?? null };
  checkScreener(screener);
  let decisions: DecisionLog | null = null;
  if (setup.store) {
    await setup.store.putConstitution(policy.constitution.hash, policy.constitution.name, policy.constitution.version, policy.constitution);
    await setup.store.putRun(setup.run, "guard", {
      constitution: policy.constitution.source,
      upstream: setup.upstream.baseUrl,
      principles: policy.principles.map((p) => ({ id: p.principle.id, mode: p.mode, stages: p.stages, threshold: p.threshold })),
    });
    decisions = new DecisionLog(setup.store, setup.run, policy.constitution.hash, setup.storeText, policy.redactions);
  }
  const guard = createGuardApp({
    upstream: setup.upstream,
    screener,
    ...(setup.critic ? { critic: setup.critic } : {}),
    decisions,
    metrics: new GuardMetrics(setup.processMetrics ?? false),
    ...(setup.token ? { token: setup.token } : {}),
    ...(setup.maxBodyBytes ? { maxBodyBytes: setup.maxBodyBytes } : {}),
    ...(setup.maxConcurrent ? { maxConcurrent: setup.maxConcurrent } : {}),
    ...(setup.maxQueue ? { maxQueue: setup.maxQueue } : {}),
    ...(setup.rateLimitPerMinute ? { rateLimitPerMinute: setup.rateLimitPerMinute } : {}),
    ...(setup.log ? { log: setup.log } : {}),
  });
  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = serve({ fetch: guard.app.fetch, port: setup.port, hostname: setup.host }, () => resolve(s));
    s.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        new Error(
          `cannot listen on ${setup.host}:${setup.port}: ${err.code === "EADDRINUSE" ? "the port is in use (choose another with --port)" : err.message}`,
        ),
      ),
    );
  });
  const address = server.address();
  const port = typeof address === "object" && address ? address.port : setup.port;
  return {
    port,
    policy,
    decisions,
    close: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      (server as { closeIdleConnections?: () => void }).closeIdleConnections?.();
      await guard.drain();
      await closed;
    },
  };
}
