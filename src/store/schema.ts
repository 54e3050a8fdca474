/**
 * The tables as the store's queries see them (Kysely's typed schema; the DDL
 * is in migrations.ts). Both engines hand rows back in one shape: JSON columns
 * (TEXT in SQLite, JSONB in PostgreSQL) as JSON text, integers as numbers
 * (see connect.ts).
 */
import type { Generated } from "kysely";
import type { AssignmentStatus } from "./annotation.js";
import type { WorkStatus } from "./store.js";

/** A JSON value, as text. */
type JsonText = string;

export interface WorkItemsTable {
  id: Generated<number>;
  run_id: string;
  key: string;
  kind: string;
  payload: JsonText | null;
  status: Generated<WorkStatus>;
  claimed_by: string | null;
  claimed_host: string | null;
  claimed_pid: number | null;
  claim_expires_at: number | null;
  attempts: Generated<number>;
  result: JsonText | null;
  error: string | null;
  created_at: number;
  updated_at: number;
}

export interface RecordsTable {
  id: Generated<number>;
  run_id: string;
  kind: string;
  key: string;
  parent_id: number | null;
  data: JsonText;
  constitution_hash: string | null;
  principle_id: string | null;
  model_id: string | null;
  sampling: JsonText | null;
  seed: number | null;
  created_at: number;
}

export interface AssignmentsTable {
  id: Generated<number>;
  campaign_id: number;
  item_id: number;
  annotator_id: number;
  shown_order: JsonText;
  status: Generated<AssignmentStatus>;
  seq: number;
  assigned_at: number;
}

export interface AnswersTable {
  id: Generated<number>;
  campaign_id: number;
  item_id: number;
  annotator_id: number;
  idempotency_key: string;
  shown_order: JsonText;
  data: JsonText;
  created_at: number;
  undone_at: number | null;
}

export interface Tables {
  schema_migrations: { version: number; name: string; applied_at: number };
  work_items: WorkItemsTable;
  runs: { id: string; kind: string; config: JsonText | null; created_at: number };
  constitutions: { hash: string; name: string; version: string | null; content: JsonText; created_at: number };
  records: RecordsTable;
  metrics: { id: Generated<number>; run_id: string; step: number; data: JsonText; created_at: number };
  provider_cache: { key: string; value: JsonText; created_at: number };
  campaigns: { id: Generated<number>; name: string; settings: JsonText; created_at: number };
  campaign_items: { id: Generated<number>; campaign_id: number; key: string; position: number; data: JsonText };
  annotators: { id: Generated<number>; name: string; token_hash: string; created_at: number; revoked_at: number | null };
  campaign_members: { campaign_id: number; annotator_id: number };
  assignments: AssignmentsTable;
  answers: AnswersTable;
}
