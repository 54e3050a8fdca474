/**
 * `hf:` dataset ids for suite files, resolved to a file in the standard
 * Hugging Face cache (`datasets--OWNER--NAME/{refs,snapshots,blobs}`, the
 * layout Python's `huggingface_hub` writes, so its caches are reused):
 * - `hf:OWNER/NAME/PATH` (optionally `@REVISION` after the name): that file;
 * - `hf:OWNER/NAME[@REVISION][/CONFIG][:SPLIT]`: the data file of a split,
 *   found by the Hub's naming rules (a folder named after the split, or the
 *   split as a word of the file name: `data/test-00000-of-00001.parquet`,
 *   `train.jsonl`), inside the config's folder when one is named (the Hub's
 *   `CONFIG/SPLIT/0000.parquet`, `harmless-base/test.jsonl.gz`); without a
 *   split, the only data file there.
 * A cached file is used as it is; a missing one is downloaded through
 * `@huggingface/hub` unless `offline`. Nothing here reads the environment:
 * the CLI passes the cache folder, `offline` and the token.
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { DatasetError } from "../data/files.js";
import { parseHubId } from "../models/hub.js";

export type DatasetId = { repo: string; revision: string; split?: string; path?: string; config?: string };
export type HubOptions = { cacheDir: string; offline: boolean; token?: string; hubUrl?: string };

/** What a suite can read: Parquet, JSONL (plain or gzipped) and CSV. */
const DATA_FILE = /\.(parquet|jsonl|jsonl\.gz|json|csv|csv\.gz)$/i;

export const isHubDataset = (spec: string) => spec.startsWith("hf:");

export function parseDatasetId(id: string): DatasetId {
  const m = /^hf:([^/@:]+)\/([^/@:]+)(?:@([^/:]+))?(?::([\w.-]+)|\/(.+))?$/.exec(id);
  if (!m)
    throw new DatasetError(
      `bad dataset id "${id}": expected hf:OWNER/NAME[:SPLIT] (e.g. hf:walledai/XSTest:test) or hf:OWNER/NAME/PATH/IN/REPO.parquet`,
    );
  const [, owner, name, revision, split, path] = m as unknown as [string, string, string, string?, string?, string?];
  // The model ids' checks of names and revisions (no "..", nothing that climbs out of the cache).
  let hub: { repo: string; revision: string };
  try {
    hub = parseHubId(`hf:${owner}/${name}${revision ? `@${revision}` : ""}`);
  } catch (error) {
    throw new DatasetError((error as Error).message.replace(/^bad model id "[^"]*"/, `bad dataset id "${id}"`));
  }
  const { repo, revision: rev } = hub;
  // A path that is not a data file names a config's folder, optionally with its split: `harmless-base:test`.
  const folder = path && !DATA_FILE.test(path) ? /^(.+?)(?::([\w.-]+))?$/.exec(path) : null;
  const inRepo = folder ? folder[1] : path;
  if (inRepo?.split("/").some((p) => p === "" || p === "." || p === ".."))
    throw new DatasetError(`bad dataset id "${id}": "${inRepo}" is not a ${folder ? "folder" : "file path"} inside the repository`);
  if (folder) return { repo, revision: rev, config: folder[1] as string, ...(folder[2] ? { split: folder[2] } : split ? { split } : {}) };
  return { repo, revision: rev, ...(split ? { split } : {}), ...(path ? { path } : {}) };
}

/** The data files of `split` among a repository's files, by the Hub's naming rules. */
export function splitFiles(files: string[], split: string): string[] {
  const words = (part: string) => part.replace(DATA_FILE, "").split(/[-_.\s]+/);
  return files
    .filter((f) => DATA_FILE.test(f))
    .filter((f) => {
      const parts = f.split("/");
      const base = parts.pop() as string;
      return parts.includes(split) || words(base).includes(split);
    })
    .sort();
}

/** The splits the Hub would see in a list of files (for error messages). */
function splitsIn(files: string[]): string[] {
  const known = ["train", "validation", "valid", "dev", "test", "eval"];
  return known.filter((s) => splitFiles(files, s).length > 0);
}

/** The one file a dataset id names among `files`, or an error saying how to name one. */
export function pickFile(id: string, dataset: DatasetId, files: string[]): string {
  if (dataset.path) {
    if (!files.includes(dataset.path)) throw new DatasetError(`${id}: the repository has no file "${dataset.path}"`);
    return dataset.path;
  }
  const scoped = dataset.config ? files.filter((f) => f.startsWith(`${dataset.config}/`)) : files;
  if (dataset.config && scoped.length === 0) {
    const folders = [...new Set(files.filter((f) => DATA_FILE.test(f) && f.includes("/")).map((f) => f.slice(0, f.indexOf("/"))))];
    throw new DatasetError(
      `${id}: the repository has no folder "${dataset.config}"${folders.length ? `; folders: ${folders.join(", ")}` : ""}`,
    );
  }
  const data = scoped.filter((f) => DATA_FILE.test(f)).sort();
  const candidates = dataset.split ? splitFiles(scoped, dataset.split) : data;
  const base = id.replace(/:[\w.-]+$/, "");
  const repoId = `hf:${dataset.repo}${dataset.revision === "main" ? "" : `@${dataset.revision}`}`;
  if (candidates.length === 1) return candidates[0] as string;
  if (candidates.length === 0) {
    const splits = splitsIn(scoped);
    throw new DatasetError(
      dataset.split
        ? `${id}: no data file for split "${dataset.split}"${splits.length ? `; splits found: ${splits.join(", ")}` : ""} (data files: ${data.join(", ") || "none"})`
        : `${id}: the repository has no data file (.parquet, .jsonl, .csv)`,
    );
  }
  const splits = splitsIn(candidates);
  const folders = [...new Set(candidates.filter((f) => f.includes("/")).map((f) => f.slice(0, f.indexOf("/"))))];
  const hint =
    !dataset.config && folders.length > 1 && folders.length === new Set(candidates.map((f) => f.split("/")[0])).size
      ? `name a folder: ${folders
          .slice(0, 4)
          .map((f) => `${repoId}/${f}${dataset.split ? `:${dataset.split}` : ""}`)
          .join(" or ")}${folders.length > 4 ? " or …" : ""}`
      : !dataset.split && splits.length > 1
        ? `name a split: ${splits.map((s) => `${base}:${s}`).join(" or ")}`
        : `name one file: ${repoId}/${candidates[0]}`;
  throw new DatasetError(
    `${id}: ${candidates.length} data files (${candidates.slice(0, 6).join(", ")}${candidates.length > 6 ? ", …" : ""}); ${hint}`,
  );
}

const cacheRepoDir = (repo: string, cacheDir: string) => join(cacheDir, `datasets--${repo.replace("/", "--")}`);

/** The cached snapshot folder of a revision, or null. */
function cachedSnapshot({ repo, revision }: DatasetId, cacheDir: string): string | null {
  const dir = cacheRepoDir(repo, cacheDir);
  const ref = join(dir, "refs", revision);
  const commit = existsSync(ref) ? readFileSync(ref, "utf8").trim() : /^[0-9a-f]{40}$/.test(revision) ? revision : null;
  const snapshot = commit ? join(dir, "snapshots", commit) : null;
  return snapshot && existsSync(snapshot) ? snapshot : null;
}

function filesUnder(root: string): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir)) {
      const full = join(dir, entry);
      if (statSync(full).isDirectory()) walk(full);
      else out.push(relative(root, full).split("\\").join("/"));
    }
  };
  walk(root);
  return out;
}

/** The local path of the file a dataset id names: from the cache, else downloaded (unless offline). */
export async function resolveDataset(id: string, options: HubOptions): Promise<string> {
  const dataset = parseDatasetId(id);
  const snapshot = cachedSnapshot(dataset, options.cacheDir);
  const fromCache = () => {
    if (!snapshot) return null;
    const files = filesUnder(snapshot);
    const scoped = dataset.config ? files.filter((f) => f.startsWith(`${dataset.config}/`)) : files;
    if (dataset.path ? !files.includes(dataset.path) : scoped.filter((f) => DATA_FILE.test(f)).length === 0) return null;
    return join(snapshot, pickFile(id, dataset, files));
  };
  if (options.offline) {
    const cached = fromCache();
    if (cached) return cached;
    throw new DatasetError(
      `${id} is not in the Hugging Face cache (${options.cacheDir}) and HF_HUB_OFFLINE is set: download it where there is network (huggingface-cli download ${dataset.repo} --repo-type dataset), or give a local file`,
    );
  }
  try {
    return await download(id, dataset, options);
  } catch (error) {
    if (error instanceof DatasetError) throw error;
    const cached = fromCache();
    if (cached) return cached;
    throw new DatasetError(
      `${id}: could not download from the Hugging Face Hub (${(error as Error).message}) and it is not in the cache (${options.cacheDir}); check the network and the dataset name, set HF_TOKEN for gated datasets, or give a local file`,
    );
  }
}

async function download(id: string, dataset: DatasetId, options: HubOptions): Promise<string> {
  const { downloadFileToCacheDir, listFiles } = await import("@huggingface/hub");
  const repo = { type: "dataset" as const, name: dataset.repo };
  const common = {
    repo,
    revision: dataset.revision,
    ...(options.token ? { accessToken: options.token } : {}),
    ...(options.hubUrl ? { hubUrl: options.hubUrl } : {}),
  };
  let path = dataset.path;
  if (!path) {
    const files: string[] = [];
    for await (const entry of listFiles({ ...common, recursive: true })) if (entry.type === "file") files.push(entry.path);
    path = pickFile(id, dataset, files);
  }
  return downloadFileToCacheDir({ ...common, path, cacheDir: options.cacheDir });
}
