import type { Store } from "../store/store.js";
import type { ResponseCache } from "./http.js";

/** The provider response cache kept in the store, so a rerun of a pipeline (or another worker) pays for no request twice. */
export class StoreCache implements ResponseCache {
  constructor(readonly store: Store) {}
  get(key: string) {
    return this.store.cacheGet(key);
  }
  set(key: string, value: unknown) {
    return this.store.cacheSet(key, value);
  }
}
