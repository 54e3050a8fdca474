/**
 * Errors of the OpenAI-compatible server, in OpenAI's shape
 * (`{"error":{"message","type","param","code"}}`): one mapping from what went wrong to a status.
 * A client's mistake is a 4xx naming the field (SDKs do not retry those); anything else is a 500
 * (SDKs retry it), logged here.
 */
import { HTTPException } from "hono/http-exception";
import type { z } from "zod";

export type ErrorStatus = 400 | 401 | 403 | 404 | 413 | 415 | 429 | 500;

/** A request the server refuses, with the status and the request field (OpenAI's `param`) it is about. */
export class ApiError extends Error {
  constructor(
    readonly status: ErrorStatus,
    message: string,
    readonly param: string | null = null,
  ) {
    super(message);
  }
}

const TYPES: Partial<Record<ErrorStatus, string>> = {
  401: "authentication_error",
  403: "permission_error",
  404: "not_found_error",
  429: "rate_limit_error",
  500: "server_error",
};

/** The body OpenAI's API and SDKs use for an error (also sent as a stream's last event). */
export function errorBody(status: ErrorStatus, message: string, param: string | null = null) {
  return { error: { message, type: TYPES[status] ?? "invalid_request_error", param, code: null } };
}

export function errorResponse(
  status: ErrorStatus,
  message: string,
  param: string | null = null,
  headers?: Record<string, string>,
): Response {
  return Response.json(errorBody(status, message, param), { status, ...(headers ? { headers } : {}) });
}

/** What any thrown error becomes: an ApiError its own status, Hono's HTTP exceptions theirs, the rest a logged 500. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err instanceof HTTPException && err.status < 500) return new ApiError(err.status as ErrorStatus, err.message || "bad request");
  console.error("precept serve: internal error:", err);
  return new ApiError(500, `internal error: ${err instanceof Error ? err.message : String(err)}`);
}

/** `messages[0].content[1].type`: a field path as OpenAI's errors write it. */
export function fieldPath(path: readonly PropertyKey[]): string {
  return path.map((key, i) => (typeof key === "number" ? `[${key}]` : i === 0 ? String(key) : `.${String(key)}`)).join("");
}

/**
 * The first problem zod found, as one clean 400 naming the field. In a union (`stop`: a string or a
 * list of strings) the branch of the right type says what is wrong; when no branch has the right
 * type, the message lists the types accepted.
 */
export function zodError(error: z.ZodError): ApiError {
  const describe = (issue: z.core.$ZodIssue, prefix: PropertyKey[]): { path: PropertyKey[]; message: string } => {
    const path = [...prefix, ...issue.path];
    if (issue.code === "invalid_union") {
      const branch = issue.errors.find((b) => b[0] && !(b[0].code === "invalid_type" && b[0].path.length === 0));
      if (branch?.[0]) return describe(branch[0], path);
      const expected = issue.errors.flatMap((b) => (b[0]?.code === "invalid_type" ? [b[0].expected] : []));
      return { path, message: expected.length > 0 ? `expected ${expected.join(" or ")}` : issue.message };
    }
    return { path, message: issue.message };
  };
  const { path, message } = describe(error.issues[0] as z.core.$ZodIssue, []);
  const field = fieldPath(path);
  return new ApiError(400, `${field || "body"}: ${message}`, field || null);
}
