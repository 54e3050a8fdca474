/**
 * `hf:Org/Name@revision` model ids: files come from the standard Hugging Face
 * cache (`$HF_HUB_CACHE`, `$HF_HOME/hub` or `~/.cache/huggingface/hub`, laid out as
 * `models--Org--Name/{refs,snapshots,blobs}`), downloaded through
 * `@huggingface/hub` when missing, so caches made by Python tools are reused.
 * With `HF_HUB_OFFLINE=1`, or when the Hub cannot be reached, only the cache
 * is used, and a model that is not there is a clear error.
 */
import { existsSync, readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

export type HubId = { repo: string; revision: string };

/** A Hub name part (organisation or model): letters, digits, - _ . ; not starting or ending with - or ., no "--" or "..", at most 96. */
const NAME_PART = /^(?![.-])(?!.*(?:--|\.\.))[\w.-]{1,96}(?<![.-])$/;

/**
 * A revision is a commit hash or a branch/tag name by git's rules: path parts
 * of letters, digits, - _ . that do not start with "." (so no "..") or end with
 * ".lock". The revision names a file under `refs/` in the cache, so nothing
 * else may pass: "../" would reach outside it.
 */
function validRevision(revision: string): boolean {
  if (revision.length > 255 || revision.endsWith("/") || revision.startsWith("/")) return false;
  return revision.split("/").every((part) => /^[\w.-]+$/.test(part) && !part.startsWith(".") && !part.endsWith(".lock"));
}

export function parseHubId(id: string): HubId {
  const match = /^hf:([^/@]+)\/([^/@]+)(?:@(.+))?$/.exec(id);
  if (!match) throw new Error(`bad model id "${id}": expected hf:Org/Name or hf:Org/Name@revision`);
  const [, org, name, revision = "main"] = match as unknown as [string, string, string, string?];
  for (const part of [org, name])
    if (!NAME_PART.test(part))
      throw new Error(
        `bad model id "${id}": "${part}" is not a Hub name (letters, digits, - _ . ; no "..", "--", or leading/trailing . or -)`,
      );
  if (!validRevision(revision))
    throw new Error(
      `bad model id "${id}": revision "${revision}" must be a commit hash or a branch or tag name (no "..", no part starting with ".")`,
    );
  return { repo: `${org}/${name}`, revision };
}

/** A file name from a downloaded index (shards): a relative path inside the snapshot, nothing that climbs out. */
function checkRepoPath(path: string, repo: string): string {
  if (path.startsWith("/") || path.includes("\\") || path.split("/").some((p) => p === "" || p === "." || p === ".."))
    throw new Error(`${repo}: model.safetensors.index.json names the shard "${path}", which is not a file inside the repository`);
  return path;
}

export function hubCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.HF_HUB_CACHE) return env.HF_HUB_CACHE;
  if (env.HF_HOME) return join(env.HF_HOME, "hub");
  return join(env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "huggingface", "hub");
}

/** The snapshot directory of a cached revision, or null when it is not in the cache. */
export function cachedSnapshot({ repo, revision }: HubId, cacheDir = hubCacheDir()): string | null {
  const repoDir = join(cacheDir, `models--${repo.replace("/", "--")}`);
  const refFile = join(repoDir, "refs", revision);
  const commit = existsSync(refFile) ? readFileSync(refFile, "utf8").trim() : /^[0-9a-f]{40}$/.test(revision) ? revision : null;
  if (!commit) return null;
  const snapshot = join(repoDir, "snapshots", commit);
  return existsSync(join(snapshot, "config.json")) ? snapshot : null;
}

/**
 * Files a model directory needs; shards are added from the index when there is one. Recent
 * `transformers` saves the chat template as `chat_template.jinja` instead of in `tokenizer_config.json`.
 */
const MODEL_FILES = [
  "config.json",
  "generation_config.json",
  "tokenizer.json",
  "tokenizer_config.json",
  "special_tokens_map.json",
  "chat_template.jinja",
];

/** Downloads (or finds in the cache) what `loadModel` reads, and returns the snapshot directory. */
export async function resolveHubModel(id: string, cacheDir = hubCacheDir()): Promise<string> {
  const hubId = parseHubId(id);
  const offline = ["1", "true", "yes"].includes((process.env.HF_HUB_OFFLINE ?? "").toLowerCase());
  const cached = cachedSnapshot(hubId, cacheDir);
  if (offline) {
    if (cached) return cached;
    throw new Error(
      `${id} is not in the Hugging Face cache (${cacheDir}) and HF_HUB_OFFLINE is set: download it where there is network, or pass a local directory`,
    );
  }
  try {
    return await download(hubId, cacheDir);
  } catch (error) {
    if (cached) return cached;
    throw new Error(
      `${id}: could not download from the Hugging Face Hub (${(error as Error).message}) and it is not in the cache (${cacheDir}); ` +
        "check the network and the model name, set HF_TOKEN for gated models, or pass a local directory",
    );
  }
}

async function download({ repo, revision }: HubId, cacheDir: string): Promise<string> {
  const { downloadFileToCacheDir } = await import("@huggingface/hub");
  const accessToken = process.env.HF_TOKEN;
  const fetchFile = async (path: string, required: boolean): Promise<string | null> => {
    try {
      return await downloadFileToCacheDir({ repo, path, revision, cacheDir, ...(accessToken ? { accessToken } : {}) });
    } catch (error) {
      if (required) throw error;
      return null;
    }
  };
  const config = (await fetchFile("config.json", true)) as string;
  for (const file of MODEL_FILES.slice(1)) await fetchFile(file, false);
  const single = await fetchFile("model.safetensors", false);
  if (!single) {
    const indexPath = await fetchFile("model.safetensors.index.json", false);
    if (!indexPath)
      throw new Error(`${repo}@${revision} has no model.safetensors or model.safetensors.index.json (Precept reads safetensors only)`);
    const index = JSON.parse(readFileSync(indexPath, "utf8")) as { weight_map: Record<string, string> };
    for (const shard of new Set(Object.values(index.weight_map))) await fetchFile(checkRepoPath(shard, repo), true);
  }
  return config.slice(0, -"/config.json".length);
}
