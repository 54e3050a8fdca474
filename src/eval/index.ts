/** Evaluation: generic suites, judges, metrics and statistics; the sandbox world is one suite among the benchmarks. */
export * from "./agreement.js";
export * from "./classify.js";
export * from "./compare.js";
export * from "./compare-report.js";
export * from "./eval-report.js";
export * from "./hub-datasets.js";
export * from "./judge.js";
export * from "./metrics.js";
export * from "./rates.js";
export * from "./refusal.js";
export * from "./respond.js";
export * from "./reward-model.js";
export * from "./run.js";
export * from "./scoring.js";
export * from "./stats.js";
export * from "./suite.js";
export * from "./suites/index.js";
