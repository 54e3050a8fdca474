/** What `precept annotate …` does; see annotate.ts for the options. */
import { readFileSync } from "node:fs";
import { serve as listen } from "@hono/node-server";
import { writeJsonl } from "../data/dataset.js";
import { type Campaign, createCampaign as create, findCampaign } from "../feedback/campaign.js";
import type { UnacceptablePolicy } from "../feedback/consensus.js";
import { consensusExport, rawRows } from "../feedback/export.js";
import { campaignReport } from "../feedback/report.js";
import { itemsFromComparisons, itemsFromJsonl } from "../feedback/sources.js";
import { addAnnotator, newToken, revokeAnnotator, rotateToken } from "../feedback/users.js";
import { createAnnotateApp } from "../server/annotate.js";
import { openStore, type Store } from "../store/store.js";
import { listenError } from "./listen-error.js";

/** `db`: the store location (--db), passed down from the command line. */
async function withStore<T>(db: string, body: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStore(db);
  try {
    return await body(store);
  } finally {
    await store.close();
  }
}

/** A store location to show: a PostgreSQL URL may hold a password. */
function shown(db: string): string {
  return /^postgres(ql)?:/.test(db) ? "the PostgreSQL store (--db)" : db;
}

async function campaignNamed(store: Store, nameOrId: string, db: string): Promise<Campaign> {
  const campaign = await findCampaign(store, nameOrId);
  if (!campaign) throw new Error(`no campaign "${nameOrId}" in ${shown(db)}`);
  return campaign;
}

/** The admin token: --admin-token-file, --admin-token (with a warning: `ps` shows it), PRECEPT_ADMIN_TOKEN, in that order. */
function adminTokenFrom(options: { adminToken?: string; adminTokenFile?: string }): string | undefined {
  if (options.adminTokenFile) {
    let text: string;
    try {
      text = readFileSync(options.adminTokenFile, "utf8");
    } catch (error) {
      throw new Error(`--admin-token-file ${options.adminTokenFile}: ${(error as Error).message}`);
    }
    const token = text.split(/\r?\n/)[0]?.trim() ?? "";
    if (!token) throw new Error(`--admin-token-file ${options.adminTokenFile}: the file is empty`);
    return token;
  }
  if (options.adminToken) {
    // Hide it from `ps` from now on (Linux shows the rewritten command line), and say how to avoid the window before.
    process.title = "precept annotate serve";
    console.error(
      "precept annotate: a token on the command line is visible to other users (ps, shell history); use PRECEPT_ADMIN_TOKEN or --admin-token-file",
    );
    return options.adminToken;
  }
  return process.env.PRECEPT_ADMIN_TOKEN;
}

export async function serve(
  options: {
    host: string;
    port: number;
    adminToken?: string;
    adminTokenFile?: string;
    maxBody: number;
  },
  db: string,
): Promise<{
  port: number;
  close: () => Promise<void>;
}> {
  const given = adminTokenFrom(options);
  const adminToken = given ?? newToken("admin");
  const store = await openStore(db);
  const app = createAnnotateApp({ store, adminToken, maxBodyBytes: options.maxBody });
  return new Promise((resolve, reject) => {
    const server = listen({ fetch: app.fetch, port: options.port, hostname: options.host }, (info) => {
      console.log(`precept annotate: http://${options.host}:${info.port}/ (store ${shown(db)})`);
      if (!given) console.log(`admin token (sign in with it for the dashboard): ${adminToken}`);
      const close = () => new Promise<void>((done) => server.close(() => store.close().then(done, done)));
      for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => close().then(() => process.exit(0)));
      resolve({ port: info.port, close });
    });
    // A port in use (or a bad host) is one line from the CLI, and the store is closed.
    server.once("error", (error: NodeJS.ErrnoException) => {
      store.close().catch(() => {});
      reject(listenError(error, options.host, options.port));
    });
  });
}

export async function addUser(name: string, options: { campaign: string[] }, db: string): Promise<void> {
  await withStore(db, async (store) => {
    const ids = [];
    for (const c of options.campaign) ids.push((await campaignNamed(store, c, db)).id);
    const { annotator, token } = await addAnnotator(store, name, ids);
    const where = options.campaign.length ? ` in ${options.campaign.join(", ")}` : " (in no campaign yet: add --campaign)";
    if (token) console.log(`added annotator ${annotator.name}${where}\ntoken: ${token}\n(shown once: only its hash is stored)`);
    else console.log(`annotator ${annotator.name} exists; now${where} (token unchanged)`);
  });
}

export async function rotate(name: string, db: string): Promise<void> {
  await withStore(db, async (store) => {
    const { annotator, token } = await rotateToken(store, name);
    console.log(
      `new token for ${annotator.name} (the old one no longer signs in):\ntoken: ${token}\n(shown once: only its hash is stored)`,
    );
  });
}

export async function revoke(name: string, db: string): Promise<void> {
  await withStore(db, async (store) => {
    const annotator = await revokeAnnotator(store, name);
    console.log(
      `revoked ${annotator.name}'s token: it no longer signs in (answers are kept); \`precept annotate rotate-token ${annotator.name}\` issues a new one`,
    );
  });
}

/** A run's comparisons as items; a run that is not there, or holds no comparisons, is an error that says which runs are. */
async function itemsOfRun(store: Store, runId: string, db: string) {
  const runs = await store.runs();
  const run = runs.find((r) => r.id === runId);
  const where = shown(db);
  if (!run) {
    const labelled = runs.filter((r) => (r.records.comparison ?? 0) > 0).map((r) => r.id);
    throw new Error(
      `--from-run ${runId}: no such run in ${where}. ` +
        (labelled.length > 0 ? `Runs with comparisons: ${labelled.slice(0, 10).join(", ")}${labelled.length > 10 ? ", …" : ""}. ` : "") +
        "`precept store runs` lists every run (add --db FILE for another store)",
    );
  }
  if (!run.records.comparison) {
    const held = Object.entries(run.records).map(([kind, n]) => `${n} ${kind}`);
    throw new Error(
      `--from-run ${runId}: the run has no comparison records (it holds ${held.join(", ") || "no records"}); ` +
        "campaigns are made from a `precept cai label` run (or use --from-jsonl FILE)",
    );
  }
  return itemsFromComparisons(await store.records(runId, "comparison"));
}

export async function createCampaign(
  options: {
    fromRun?: string;
    fromJsonl?: string;
    name: string;
    overlap: number;
    mode: "pick" | "rank";
    flags: string;
    guidelines?: string;
    aiRun: string[];
    seed: number;
    assignmentTimeout: number;
  },
  db: string,
): Promise<void> {
  if (!options.fromRun === !options.fromJsonl) throw new Error("give exactly one of --from-run RUN and --from-jsonl FILE");
  const guidelines = options.guidelines ? readFileSync(options.guidelines, "utf8") : "";
  await withStore(db, async (store) => {
    const items = options.fromRun ? await itemsOfRun(store, options.fromRun, db) : await itemsFromJsonl(options.fromJsonl as string);
    if (items.length === 0)
      throw new Error(`${options.fromRun ? `run ${options.fromRun}` : options.fromJsonl}: no prompt with two or more different responses`);
    const campaign = await create(
      store,
      options.name,
      {
        mode: options.mode,
        overlap: options.overlap,
        flags: options.flags
          .split(",")
          .map((f) => f.trim())
          .filter(Boolean),
        guidelines,
        seed: options.seed,
        sourceRun: options.fromRun ?? null,
        aiRuns: options.aiRun,
        assignmentTimeoutMinutes: options.assignmentTimeout,
      },
      items,
    );
    const responses = items.reduce((n, i) => n + i.responses.length, 0);
    console.log(
      `created campaign ${campaign.name} (id ${campaign.id}): ${items.length} items, ${responses} responses, ${options.mode}, overlap ${options.overlap}`,
    );
  });
}

export async function exportCampaign(
  nameOrId: string,
  options: { consensus: boolean; raw: boolean; out: string; marginScale: number; unacceptable?: UnacceptablePolicy },
  db: string,
): Promise<void> {
  if (options.consensus === options.raw) throw new Error("give exactly one of --consensus and --raw");
  await withStore(db, async (store) => {
    const campaign = await campaignNamed(store, nameOrId, db);
    const unacceptable = options.unacceptable ?? "vote";
    const { rows, heldBack } = options.consensus
      ? await consensusExport(store, campaign, { marginScale: options.marginScale, unacceptable })
      : { rows: await rawRows(store, campaign), heldBack: 0 };
    writeJsonl(options.out, rows);
    console.log(
      `wrote ${rows.length} ${options.consensus ? "consensus preference" : "answer"} row(s) of ${campaign.name} to ${options.out}`,
    );
    if (heldBack > 0)
      console.log(
        `  ${heldBack} pair(s) left out: "all unacceptable" answers outvote or tie their winner (--unacceptable ${unacceptable}); ` +
          "rows that still have such answers carry unacceptable_votes. Look at those items before training on them, or use --unacceptable ignore",
      );
  });
}

export async function report(nameOrId: string, options: { json: boolean }, db: string): Promise<void> {
  await withStore(db, async (store) => {
    const r = await campaignReport(store, await campaignNamed(store, nameOrId, db));
    if (options.json) return console.log(JSON.stringify(r, null, 2));
    const f = (x: number | null) => (x === null ? "n/a" : x.toFixed(3));
    console.log(`${r.campaign.name}: ${r.campaign.items} items, ${r.progress.answers} answers, ${r.progress.complete} items complete`);
    for (const a of r.progress.annotators) console.log(`  ${a.name}: ${a.answered} answered, ${a.skipped} skipped, ${a.open} open`);
    console.log(`Krippendorff's alpha: ${f(r.agreement.alpha)} (${r.agreement.alphaN} pairable judgements)`);
    for (const k of r.agreement.kappa) console.log(`  kappa ${k.a} / ${k.b}: ${f(k.kappa)} over ${k.n}`);
    for (const a of r.agreement.withConsensus)
      console.log(`  ${a.annotator} agrees with the others' majority ${a.agree}/${a.n}${a.low ? "  <- low agreement" : ""}`);
    for (const p of r.ai) console.log(`AI vs people, ${p.principle}: ${p.agree}/${p.n} agree (${f(p.rate)})`);
  });
}
