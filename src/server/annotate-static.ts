/**
 * The annotation UI: a fixed list of files from `web/` (no directory
 * listing, no path from the request ever reaches the file system), read once
 * at start, with headers that forbid inline scripts and framing, so even a
 * response text that slipped into the page as HTML could not run.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { Env, Hono, MiddlewareHandler } from "hono";

/** `web/` sits two levels above this file both in `src/server/` and in the built `dist/server/`. */
export const WEB_DIR = fileURLToPath(new URL("../../web/", import.meta.url));

const FILES: Record<string, string> = {
  "index.html": "text/html; charset=utf-8",
  "style.css": "text/css; charset=utf-8",
  "app.js": "text/javascript; charset=utf-8",
  "api.js": "text/javascript; charset=utf-8",
  "dom.js": "text/javascript; charset=utf-8",
  "markdown.js": "text/javascript; charset=utf-8",
  "task.js": "text/javascript; charset=utf-8",
  "admin.js": "text/javascript; charset=utf-8",
};

export const SECURITY_HEADERS: Record<string, string> = {
  "content-security-policy":
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
};

/** Register first: middleware only wraps the routes added after it. */
export const securityHeaders: MiddlewareHandler = async (c, next) => {
  await next();
  for (const [k, v] of Object.entries(SECURITY_HEADERS)) c.res.headers.set(k, v);
};

export function staticRoutes<E extends Env>(app: Hono<E>, dir = WEB_DIR): void {
  const files = new Map(Object.entries(FILES).map(([name, type]) => [name, { body: readFileSync(`${dir}${name}`), type }]));
  const serve = (name: string) => {
    const file = files.get(name);
    if (!file) return null;
    return new Response(file.body, { headers: { "content-type": file.type, "cache-control": "no-cache" } });
  };
  app.get("/", () => serve("index.html") as Response);
  app.get("/static/:name", (c) => serve(c.req.param("name")) ?? c.notFound());
}
