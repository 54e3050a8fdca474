/** Layer 7: the constitution at run time (`precept guard`): screening, the proxy, the audit trail, the trained classifier. */
export { type DecisionData, DecisionLog, type Outcome as GuardOutcome, type RequestAudit, STORE_TEXT, type StoreText } from "./audit.js";
export { type Flagged, flaggedCampaign, flaggedRequests, writeFlagged, writePrompts } from "./export.js";
export {
  type GeneratedExamples,
  type GenerateOptions as GenerateGuardExamplesOptions,
  generateExamples as generateGuardExamples,
} from "./generate-examples.js";
export { JudgeClassifier, judgeQuestion } from "./judge.js";
export { GuardMetrics } from "./metrics.js";
export {
  buildPolicy as buildGuardPolicy,
  type GuardPolicy,
  loadPolicy as loadGuardPolicy,
  MODES as GUARD_MODES,
  type Mode as GuardMode,
  PolicyError as GuardPolicyError,
  policySchema as guardPolicySchema,
  redact,
  type ScreenedPrinciple,
} from "./policy.js";
export { createGuardApp, type GuardApp, type GuardAppOptions } from "./proxy.js";
export { reviseReply } from "./revise.js";
export { sandboxExamples as sandboxGuardExamples } from "./sandbox-examples.js";
export { actionOf, checkScreener, type Screener, screen as screenText, type Verdict as GuardVerdict } from "./screen.js";
export { type GuardSetup, guardPolicy, type RunningGuard, startGuard } from "./start.js";
export { WindowedText } from "./stream-window.js";
export { type LabelledExample, labelledExampleSchema, readLabelledExamples, thresholdFor, trainGuardClassifier } from "./train.js";
export { TrainedClassifier } from "./trained.js";
export { Upstream, UpstreamError, type UpstreamOptions } from "./upstream.js";
