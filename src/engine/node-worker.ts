/**
 * A Web `Worker` for Node.js, built on `node:worker_threads`.
 *
 * jax-js runs its WebAssembly kernels on a pool of Web Workers that share one
 * `WebAssembly.Memory`. Node has no `Worker` global, so without this adapter
 * every kernel runs on the main thread. The adapter supports exactly what
 * jax-js uses: a module script given as a `blob:` URL, `postMessage`,
 * `onmessage`, `onerror` and `terminate`.
 *
 * Exit handling: an idle thread must not keep the process alive, but a thread
 * that is computing must (otherwise `await x.data()` at the top level of a
 * script could see the process exit under it). Every message jax-js posts gets
 * exactly one reply, so the adapter counts outstanding messages and holds a
 * reference on the thread only while that count is above zero.
 */
import { resolveObjectURL } from "node:buffer";
import { Worker as ThreadWorker } from "node:worker_threads";

/** Runs inside the thread: gives the script a Web-worker-like global scope. */
const BOOTSTRAP = `
const { parentPort } = require("node:worker_threads");
globalThis.self = globalThis;
globalThis.postMessage = (data) => parentPort.postMessage(data);
let loaded = false;
parentPort.on("message", (data) => {
  if (!loaded) {
    loaded = true;
    (0, eval)(data.source);
    return;
  }
  if (typeof globalThis.onmessage === "function") globalThis.onmessage({ data });
});
`;

type MessageHandler = (event: { data: unknown }) => void;
type ErrorHandler = (event: { message: string; error: unknown }) => void;

let liveThreads = 0;

/** Number of adapter threads that have been started and not terminated. */
export function liveWorkerThreads(): number {
  return liveThreads;
}

export class NodeWorker {
  onmessage: MessageHandler | null = null;
  onerror: ErrorHandler | null = null;
  readonly #thread: ThreadWorker;
  #outstanding = 0;
  #queued: unknown[] | null = [];
  #terminated = false;

  constructor(url: string | URL, _options?: { type?: string }) {
    const blob = resolveObjectURL(String(url));
    if (!blob) {
      throw new Error(`NodeWorker: only blob: URLs made by URL.createObjectURL are supported, got ${String(url)}`);
    }
    this.#thread = new ThreadWorker(BOOTSTRAP, { eval: true });
    liveThreads++;
    this.#thread.unref();
    this.#thread.on("message", (data: unknown) => {
      this.#outstanding--;
      if (this.#outstanding === 0) this.#thread.unref();
      this.onmessage?.({ data });
    });
    this.#thread.on("error", (error: Error) => {
      this.onerror?.({ message: error.message, error });
    });
    this.#thread.on("exit", () => {
      if (!this.#terminated) liveThreads--;
      this.#terminated = true;
    });
    blob.text().then(
      (source) => {
        this.#thread.postMessage({ source });
        for (const data of this.#queued ?? []) this.#thread.postMessage(data);
        this.#queued = null;
      },
      (error: Error) => this.onerror?.({ message: `NodeWorker: could not read worker script: ${error.message}`, error }),
    );
  }

  postMessage(data: unknown): void {
    this.#outstanding++;
    this.#thread.ref();
    if (this.#queued) this.#queued.push(data);
    else this.#thread.postMessage(data);
  }

  terminate(): void {
    if (!this.#terminated) liveThreads--;
    this.#terminated = true;
    void this.#thread.terminate();
  }
}

/**
 * Makes `Worker` and `navigator.hardwareConcurrency` available so that jax-js
 * starts `threads` kernel threads. Must run before `@jax-js/jax` is imported:
 * jax-js creates its wasm backend, and reads the thread count, at import time.
 * With one thread no pool is started and kernels run on the main thread.
 */
export function installNodeWorkers(threads: number): void {
  if (threads <= 1) return;
  const g = globalThis as Record<string, unknown>;
  if (typeof g.Worker === "undefined") g.Worker = NodeWorker;
  const navigator = (g.navigator ?? {}) as object;
  Object.defineProperty(globalThis, "navigator", {
    value: Object.assign(Object.create(navigator), { hardwareConcurrency: threads }),
    configurable: true,
    writable: true,
  });
}
