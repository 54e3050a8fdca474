/**
 * Checks every request to `precept serve` passes before it reaches the model. Without them any web
 * page a user opens could drive a model served on localhost: a `text/plain` POST needs no CORS
 * preflight, and DNS rebinding makes a foreign name point at 127.0.0.1 (the `Host:` header still
 * says the foreign name).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import type { MiddlewareHandler } from "hono";
import { errorResponse } from "./http-errors.js";

/** Names a local server answers to whatever it is told: the loopback names. */
export const LOOPBACK_HOSTS = ["localhost", "127.0.0.1", "::1"];

const bare = (host: string) => host.toLowerCase().replace(/^\[(.*)\]$/, "$1");

/** The host name of a `Host:` header (`[::1]:8000` → `::1`), or null when it is not one. */
function hostName(header: string): string | null {
  try {
    return bare(new URL(`http://${header}`).hostname);
  } catch {
    return null;
  }
}

/** Answers 403 unless the `Host:` header names one of `allowed` (`*` allows any). */
export function allowHosts(allowed: readonly string[]): MiddlewareHandler {
  const names = new Set(allowed.map(bare));
  return async (c, next) => {
    if (names.has("*")) return next();
    // No Host header: a request made in-process (app.request), whose URL says where it goes.
    const header = c.req.header("host") ?? new URL(c.req.url).host;
    const name = hostName(header);
    if (name === null || !names.has(name))
      return errorResponse(
        403,
        `Host ${JSON.stringify(header)} is not allowed: this server answers to ${[...names].join(", ")} (add names with --allowed-hosts)`,
      );
    return next();
  };
}

/** Answers 415 to a request with a body that is not `application/json` (what browsers can send cross-site unasked). */
export function requireJson(): MiddlewareHandler {
  return async (c, next) => {
    if (c.req.method === "GET" || c.req.method === "HEAD" || c.req.method === "OPTIONS") return next();
    const type = (c.req.header("content-type") ?? "").split(";")[0]?.trim().toLowerCase();
    if (type !== "application/json")
      return errorResponse(415, `Content-Type must be application/json (got ${type ? JSON.stringify(type) : "none"})`);
    return next();
  };
}

const digest = (s: string) => createHash("sha256").update(s).digest();

/** Answers 401 unless `Authorization: Bearer <token>` carries the token, compared in constant time (any characters allowed). */
export function requireBearer(token: string): MiddlewareHandler {
  const expected = digest(token);
  return async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const given = /^Bearer +(.*)$/i.exec(header)?.[1] ?? "";
    if (!timingSafeEqual(digest(given), expected))
      return errorResponse(401, "missing or wrong bearer token (Authorization: Bearer <token>)", null, { "WWW-Authenticate": "Bearer" });
    return next();
  };
}
