/** Layer 5: persistence (SQLite and PostgreSQL), migrations and work claiming. */

export type {
  AnnotationStore,
  AnnotatorProgress,
  AnnotatorRow,
  AnswerRow,
  AssignmentRow,
  AssignmentStatus,
  CampaignItemRow,
  CampaignRow,
  NewAnswer,
  NewCampaignItem,
  SubmitResult,
} from "./annotation.js";
export * from "./jsonl.js";
export * from "./store.js";
