/**
 * Bearer tokens in both servers, over real sockets: the right token passes; a
 * wrong token of the right length and one of another length both get 401
 * (not a 500: the comparison is `timingSafeEqual` over SHA-256 digests, which
 * are always of equal length, so no length check answers early or throws).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import OpenAI, { AuthenticationError } from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ADMIN_TOKEN, call, startAnnotateServer } from "../../test/helpers/annotate-server.js";
import { initEngine } from "../engine/device.js";
import { addAnnotator } from "../feedback/users.js";
import { loadModel } from "../models/io.js";
import type { CausalLM } from "../models/model.js";
import { openStore, type Store } from "../store/store.js";
import { createOpenAiApp } from "./openai.js";

const SANDBOX_BASE = new URL("../../models/sandbox-base", import.meta.url).pathname;

/** `token` with its last character changed: the same length, wrong. */
const sameLength = (token: string) => `${token.slice(0, -1)}${token.endsWith("x") ? "y" : "x"}`;

describe("precept serve's bearer token", () => {
  const token = "serve-token-0123456789abcdef";
  let model: CausalLM;
  let url: string;
  let close: () => Promise<void>;
  beforeAll(async () => {
    await initEngine();
    model = await loadModel(SANDBOX_BASE);
    const app = createOpenAiApp({ model, name: "sandbox-base", token, log: () => {} });
    await new Promise<void>((resolve) => {
      const server = serve({ fetch: app.fetch, port: 0, hostname: "127.0.0.1" }, (info) => {
        url = `http://127.0.0.1:${info.port}/v1`;
        close = () => new Promise((done) => server.close(() => done()));
        resolve();
      });
    });
  }, 60_000);
  afterAll(async () => {
    await close?.();
    model?.dispose();
  });

  it("lets the right token in; a wrong one of the same length or of another length gets 401", async () => {
    const models = (apiKey: string) => new OpenAI({ baseURL: url, apiKey, maxRetries: 0 }).models.list();
    expect((await models(token)).data.map((m) => m.id)).toEqual(["sandbox-base"]);
    for (const wrong of [sameLength(token), `${token}-longer`, "short", "x".repeat(1000)]) {
      const error = await models(wrong).then(
        () => null,
        (e: unknown) => e,
      );
      expect(error, wrong).toBeInstanceOf(AuthenticationError);
      expect((error as AuthenticationError).status).toBe(401);
    }
  });
});

describe("the annotation server's bearer tokens", () => {
  const tmp = mkdtempSync(join(tmpdir(), "precept-bearer-"));
  let store: Store;
  let server: { url: string; close: () => Promise<void> };
  let annotatorToken: string;
  beforeAll(async () => {
    store = await openStore(join(tmp, "annotate.db"));
    server = await startAnnotateServer(store);
    annotatorToken = (await addAnnotator(store, "ann")).token as string;
  });
  afterAll(async () => {
    await server?.close();
    await store?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  it("lets the admin and annotator tokens in; a wrong one of the same length or of another length gets 401", async () => {
    expect((await call(`${server.url}/api/admin/users`, ADMIN_TOKEN)).status).toBe(200);
    expect((await call(`${server.url}/api/me`, annotatorToken)).status).toBe(200);
    for (const real of [ADMIN_TOKEN, annotatorToken]) {
      for (const wrong of [sameLength(real), `${real}0`, real.slice(0, 8), "y".repeat(1000)]) {
        expect(wrong.length === real.length, wrong).toBe(wrong === sameLength(real));
        for (const path of ["/api/me", "/api/admin/users"])
          expect((await call(`${server.url}${path}`, wrong)).status, `${path} ${wrong}`).toBe(401);
      }
    }
  });
});
