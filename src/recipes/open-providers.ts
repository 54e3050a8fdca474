/** Opening the providers a pipeline stage names by id, with the store as their cache. */
import { initEngine } from "../engine/device.js";
import { BatchingProvider } from "../providers/batching.js";
import { LocalProvider } from "../providers/local.js";
import { isModelDir, openProvider } from "../providers/open.js";
import type { Provider } from "../providers/provider.js";
import { StoreCache } from "../providers/store-cache.js";
import type { Store } from "../store/store.js";

/** Opens each distinct provider id once; local models decode concurrent items as one batch of up to `batch`. */
export async function openProviders(
  ids: string[],
  store: Store,
  batch: number,
  options: { maxRetries?: number } = {},
): Promise<Map<string, Provider>> {
  const providers = new Map<string, Provider>();
  // A bare directory is a local model too (openProvider).
  if (ids.some((id) => /^(local|hf):/.test(id) || isModelDir(id))) await initEngine();
  for (const id of ids) {
    if (providers.has(id)) continue;
    const provider = await openProvider(id, {
      cache: new StoreCache(store),
      ...(options.maxRetries !== undefined ? { maxRetries: options.maxRetries } : {}),
    });
    providers.set(id, provider instanceof LocalProvider ? new BatchingProvider(provider, batch) : provider);
  }
  return providers;
}
