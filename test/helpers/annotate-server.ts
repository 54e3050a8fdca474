/** The annotation app on a real loopback socket, for tests. */
import { serve } from "@hono/node-server";
import { createAnnotateApp } from "../../src/server/annotate.js";
import type { Store } from "../../src/store/store.js";

export const ADMIN_TOKEN = "admin-token-for-tests-0123456789";

export async function startAnnotateServer(store: Store, options: { maxBodyBytes?: number } = {}) {
  const app = createAnnotateApp({ store, adminToken: ADMIN_TOKEN, ...options });
  return new Promise<{ url: string; close: () => Promise<void> }>((resolve) => {
    const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) =>
      resolve({
        url: `http://127.0.0.1:${info.port}`,
        close: () => new Promise((done) => server.close(() => done())),
      }),
    );
  });
}

/** fetch with a bearer token and a JSON body. */
export async function call(url: string, token: string | null, method = "GET", body?: unknown) {
  const response = await fetch(url, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(body !== undefined ? { "content-type": "application/json" } : {}),
    },
    body: body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body),
  });
  const text = await response.text();
  let json: unknown = null;
  try {
    json = JSON.parse(text);
  } catch {}
  // biome-ignore lint/suspicious/noExplicitAny: tests read fields of whatever came back
  return { status: response.status, json: json as any, text, headers: response.headers };
}
