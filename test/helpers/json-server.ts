/** A scripted JSON HTTP server for tests (an OpenAI-compatible API, say) on a free port of 127.0.0.1, in this process. */
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";

export type JsonRequest = { method: string; url: string; body: unknown };
export type JsonReply = { status?: number; body: unknown };
export type JsonServer = { url: string; close: () => Promise<void> };

/** Starts a server that answers each request with `respond`'s reply for its method, path and JSON body (status 200 by default). */
export async function startJsonServer(respond: (request: JsonRequest) => JsonReply | Promise<JsonReply>): Promise<JsonServer> {
  const server = createServer((req, res) => {
    let text = "";
    req.on("data", (chunk) => {
      text += chunk;
    });
    req.on("end", async () => {
      // A script that throws answers 500 with its message, so the test sees the failure instead of hanging.
      const reply = await Promise.resolve()
        .then(() => respond({ method: req.method ?? "GET", url: req.url ?? "/", body: JSON.parse(text || "{}") }))
        .catch((error: unknown) => ({ status: 500, body: { error: { message: `test server: ${(error as Error).message}` } } }));
      res.statusCode = reply.status ?? 200;
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify(reply.body));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
