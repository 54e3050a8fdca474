/**
 * The annotation app behind `precept annotate serve`: a JSON API over the
 * store and the static UI in `web/`. Every `/api` route needs a bearer token:
 * the admin token given at start, or an annotator's token from
 * `precept annotate add-user`. Without a valid token: 401; with the wrong
 * role, or for a campaign the annotator is not in: 403. Annotators only ever
 * see their own queue and answers. Inputs are validated (400 naming the
 * field), bodies are bounded (413), and an answer is acknowledged only once
 * its transaction has committed.
 */
import { type Context, Hono } from "hono";
import { bodyLimit } from "hono/body-limit";
import { z } from "zod";
import { type Campaign, campaignSettingsSchema, createCampaign, findCampaign, itemSchema } from "../feedback/campaign.js";
import { consensusRows, rawRows, toJsonl } from "../feedback/export.js";
import { campaignReport } from "../feedback/report.js";
import { answerBodySchema, InputError, nextTask, progressOf, submitAnswer } from "../feedback/tasks.js";
import { addAnnotator, annotatorForToken, revokeAnnotator, rotateToken, sameToken } from "../feedback/users.js";
import type { Store } from "../store/store.js";
import { securityHeaders, staticRoutes } from "./annotate-static.js";

export type AnnotateOptions = {
  store: Store;
  adminToken: string;
  /** Largest accepted request body in bytes (default 256 KiB; campaign uploads through the API need more). */
  maxBodyBytes?: number;
};

type User = { role: "admin" } | { role: "annotator"; id: number; name: string };
type Env = { Variables: { user: User } };
type Status = 400 | 401 | 403 | 404 | 409 | 413 | 500;

function fail(status: Status, message: string, field: string | null = null): Response {
  return Response.json({ error: { message, field } }, { status, headers: { "cache-control": "no-store" } });
}

async function parse<S extends z.ZodType>(request: Request, schema: S): Promise<z.output<S> | Response> {
  let body: unknown;
  try {
    body = await request.json();
  } catch {
    return fail(400, "body: not valid JSON", "body");
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0] as z.core.$ZodIssue;
  const field = issue.path.join(".") || "body";
  return fail(400, `${field}: ${issue.message}`, field);
}

const itemIdBody = z.object({ itemId: z.number().int().positive() });
const newUserBody = z.object({ name: z.string().min(1).max(64), campaigns: z.array(z.number().int().positive()).max(100).default([]) });
const memberBody = z.object({ annotator: z.string().min(1).max(64) });
const newCampaignBody = z.object({
  name: z.string().min(1).max(100),
  settings: campaignSettingsSchema.partial().default({}),
  items: z.array(itemSchema).min(1).max(10_000),
});

export function createAnnotateApp({ store, adminToken, maxBodyBytes = 256 * 1024 }: AnnotateOptions): Hono<Env> {
  if (adminToken.length < 16) throw new Error("the admin token must be at least 16 characters");
  const app = new Hono<Env>();
  app.onError((err) => (err instanceof InputError ? fail(400, err.message, err.field) : fail(500, `internal error: ${err.message}`)));
  app.notFound((c) => fail(404, `no route ${c.req.method} ${c.req.path}`));
  app.use("*", securityHeaders);

  app.use("/api/*", bodyLimit({ maxSize: maxBodyBytes, onError: () => fail(413, `request body larger than ${maxBodyBytes} bytes`) }));
  app.use("/api/*", async (c, next) => {
    const header = c.req.header("authorization") ?? "";
    const token = /^Bearer (\S+)$/.exec(header)?.[1];
    if (!token) return fail(401, "sign in: send Authorization: Bearer <token>");
    if (sameToken(token, adminToken)) c.set("user", { role: "admin" });
    else {
      const annotator = await annotatorForToken(store, token);
      if (!annotator) return fail(401, "unknown or revoked token");
      c.set("user", { role: "annotator", id: annotator.id, name: annotator.name });
    }
    await next();
    c.res.headers.set("cache-control", "no-store");
  });
  app.use("/api/admin/*", async (c, next) => {
    if (c.get("user").role !== "admin") return fail(403, "admin only");
    await next();
  });

  /** The campaign in the path, if this user may work in it; otherwise the error response. */
  async function campaignFor(c: Context<Env>): Promise<Campaign | Response> {
    const id = c.req.param("id") ?? "";
    if (!/^\d{1,12}$/.test(id)) return fail(400, "id: expected a campaign number", "id");
    const user = c.get("user");
    // An annotator learns nothing about campaigns they are not in, not even whether they exist.
    if (user.role === "annotator" && !(await store.annotatorCampaigns(user.id)).includes(Number(id)))
      return fail(403, "you are not an annotator in this campaign");
    const campaign = await findCampaign(store, Number(id));
    return campaign ?? fail(404, `no campaign ${id}`);
  }
  function annotatorOnly(c: Context<Env>): { id: number; name: string } | Response {
    const user = c.get("user");
    return user.role === "annotator" ? user : fail(403, "annotators only (the admin token has no queue)");
  }

  app.get("/api/me", (c) => {
    const user = c.get("user");
    return c.json(user.role === "admin" ? { role: "admin", name: "admin" } : { role: "annotator", name: user.name });
  });

  app.get("/api/campaigns", async (c) => {
    const user = c.get("user");
    const all = await store.campaigns();
    if (user.role === "admin") return c.json(all.map((r) => ({ id: r.id, name: r.name })));
    const mine = new Set(await store.annotatorCampaigns(user.id));
    const out = [];
    for (const row of all.filter((r) => mine.has(r.id))) {
      const campaign = (await findCampaign(store, row.id)) as Campaign;
      out.push({ id: row.id, name: row.name, progress: await progressOf(store, campaign, user.id) });
    }
    return c.json(out);
  });

  app.get("/api/campaigns/:id", async (c) => {
    const campaign = await campaignFor(c);
    if (campaign instanceof Response) return campaign;
    const { mode, flags, guidelines } = campaign.settings;
    // Annotators see what they need to work; overlap, sources and members stay with the admin.
    return c.json({ id: campaign.id, name: campaign.name, mode, flags, guidelines });
  });

  app.get("/api/campaigns/:id/task", async (c) => {
    const user = annotatorOnly(c);
    if (user instanceof Response) return user;
    const campaign = await campaignFor(c);
    if (campaign instanceof Response) return campaign;
    const task = await nextTask(store, campaign, user.id);
    return c.json(task ? { task } : { task: null, progress: await progressOf(store, campaign, user.id) });
  });

  app.post("/api/campaigns/:id/answers", async (c) => {
    const user = annotatorOnly(c);
    if (user instanceof Response) return user;
    const campaign = await campaignFor(c);
    if (campaign instanceof Response) return campaign;
    const body = await parse(c.req.raw, answerBodySchema);
    if (body instanceof Response) return body;
    const outcome = await submitAnswer(store, campaign, user.id, body);
    switch (outcome.status) {
      case "unknown_item":
        return fail(404, `itemId: no item ${body.itemId} in this campaign`, "itemId");
      case "not_assigned":
        return fail(403, `itemId: item ${body.itemId} is not your open task`, "itemId");
      case "expired":
        return fail(
          409,
          `itemId: your task on item ${body.itemId} was open longer than ${campaign.settings.assignmentTimeoutMinutes} minutes and was given back; fetch your next task`,
          "itemId",
        );
      case "already_answered":
        return fail(409, `itemId: you already answered item ${body.itemId} (undo it first)`, "itemId");
      default:
        return c.json({ status: outcome.status, answerId: outcome.answer.id }, outcome.status === "stored" ? 201 : 200);
    }
  });

  app.post("/api/campaigns/:id/skip", async (c) => {
    const user = annotatorOnly(c);
    if (user instanceof Response) return user;
    const campaign = await campaignFor(c);
    if (campaign instanceof Response) return campaign;
    const body = await parse(c.req.raw, itemIdBody);
    if (body instanceof Response) return body;
    if (!(await store.skipAssignment(campaign.id, user.id, body.itemId)))
      return fail(409, `itemId: item ${body.itemId} is not your open task`, "itemId");
    return c.json({ skipped: body.itemId });
  });

  app.post("/api/campaigns/:id/undo", async (c) => {
    const user = annotatorOnly(c);
    if (user instanceof Response) return user;
    const campaign = await campaignFor(c);
    if (campaign instanceof Response) return campaign;
    const undone = await store.undoLastAnswer(campaign.id, user.id);
    return c.json({ undone: undone ? { itemId: undone.itemId, answerId: undone.id } : null });
  });

  app.get("/api/campaigns/:id/answers", async (c) => {
    const user = annotatorOnly(c);
    if (user instanceof Response) return user;
    const campaign = await campaignFor(c);
    if (campaign instanceof Response) return campaign;
    // Only the caller's own answers, whatever the query says.
    const answers = await store.answers(campaign.id, { annotatorId: user.id });
    return c.json(answers.map((a) => ({ id: a.id, itemId: a.itemId, shownOrder: a.shownOrder, data: a.data, createdAt: a.createdAt })));
  });

  app.get("/api/admin/campaigns/:id/report", async (c) => {
    const campaign = await campaignFor(c);
    if (campaign instanceof Response) return campaign;
    return c.json(await campaignReport(store, campaign));
  });

  app.get("/api/admin/campaigns/:id/export", async (c) => {
    const campaign = await campaignFor(c);
    if (campaign instanceof Response) return campaign;
    const kind = c.req.query("kind") ?? "consensus";
    if (kind !== "consensus" && kind !== "raw") return fail(400, "kind: expected consensus or raw", "kind");
    const rows = kind === "consensus" ? await consensusRows(store, campaign) : await rawRows(store, campaign);
    const file = `${campaign.name.replace(/[^\w.-]+/g, "_")}-${kind}.jsonl`;
    return c.body(toJsonl(rows), 200, {
      "content-type": "application/x-ndjson; charset=utf-8",
      "content-disposition": `attachment; filename="${file}"`,
    });
  });

  app.post("/api/admin/campaigns", async (c) => {
    const body = await parse(c.req.raw, newCampaignBody);
    if (body instanceof Response) return body;
    try {
      const campaign = await createCampaign(store, body.name, body.settings, body.items);
      return c.json({ id: campaign.id, name: campaign.name }, 201);
    } catch (error) {
      return fail(409, (error as Error).message, "name");
    }
  });

  app.post("/api/admin/campaigns/:id/members", async (c) => {
    const campaign = await campaignFor(c);
    if (campaign instanceof Response) return campaign;
    const body = await parse(c.req.raw, memberBody);
    if (body instanceof Response) return body;
    const annotator = await store.annotatorByName(body.annotator);
    if (!annotator) return fail(404, `annotator: no annotator named "${body.annotator}"`, "annotator");
    await store.joinCampaign(campaign.id, annotator.id);
    return c.json({ campaign: campaign.id, annotator: annotator.name });
  });

  app.get("/api/admin/users", async (c) => {
    const out = [];
    for (const a of await store.annotators())
      out.push({ name: a.name, campaigns: await store.annotatorCampaigns(a.id), revoked: a.revokedAt !== null });
    return c.json(out);
  });

  // A leaked token: revoke it (it stops working at once), or rotate it (a new one is shown once).
  app.post("/api/admin/users/:name/revoke", async (c) => {
    try {
      const annotator = await revokeAnnotator(store, c.req.param("name"));
      return c.json({ name: annotator.name, revoked: true });
    } catch (error) {
      return fail(404, `name: ${(error as Error).message}`, "name");
    }
  });
  app.post("/api/admin/users/:name/rotate", async (c) => {
    try {
      const { annotator, token } = await rotateToken(store, c.req.param("name"));
      return c.json({ name: annotator.name, token });
    } catch (error) {
      return fail(404, `name: ${(error as Error).message}`, "name");
    }
  });

  app.post("/api/admin/users", async (c) => {
    const body = await parse(c.req.raw, newUserBody);
    if (body instanceof Response) return body;
    for (const id of body.campaigns) if (!(await store.campaign(id))) return fail(404, `campaigns: no campaign ${id}`, "campaigns");
    try {
      const { annotator, token } = await addAnnotator(store, body.name, body.campaigns);
      return c.json({ name: annotator.name, token }, token ? 201 : 200);
    } catch (error) {
      return fail(400, `name: ${(error as Error).message}`, "name");
    }
  });

  staticRoutes(app);
  return app;
}
