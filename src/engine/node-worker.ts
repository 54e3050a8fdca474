/**
 * A Web `Worker` for Node.js, built on `node:worker_threads`.
 *
 * jax-js runs its WebAssembly kernels on a pool of Web Workers that share one
 * `WebAssembly.Memory`. Node has no `Worker` global, so without this adapter
 * every kernel runs on the main thread. The adapter supports exactly what
 * jax-js uses: a module script given as a `blob:` URL, `postMessage`,
 * `onmessage`, `onerror` and `terminate`.
 *
 * The first worker of the pool runs small kernels inline on the main thread
 * (see `InlineWorker`) and hands large ones to a thread of its own; the other
 * workers are threads. Each dispatch to a thread costs a cross-thread round
 * trip (about 80 µs here), which dominates the many tiny kernels of a decode
 * step (a 3.5x slower token), while a large kernel is better split across
 * threads that do nothing else than shared with the main thread.
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
    if ((data as { type?: string }).type === "kernel-sync") {
      // Answered through shared memory while the main thread waits (patch-jax 4): no reply to count.
      this.#thread.postMessage(data);
      return;
    }
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

/** Kernel chunks of at least this many work items go to the offload thread (`PRECEPT_INLINE_MAX_WORK`). */
const INLINE_MAX_WORK = Number(process.env.PRECEPT_INLINE_MAX_WORK ?? 65536);

/**
 * The pool's first worker. It evaluates the same worker script on the calling
 * thread with its own `self` and `postMessage`, and runs kernel chunks smaller
 * than `INLINE_MAX_WORK` there; larger chunks (and only those) go to a thread
 * of its own. An inline message is handled in a microtask, so jax-js finishes
 * posting the other workers their chunks first, and replies also come in a
 * microtask, as a real worker's would come later.
 */
export class InlineWorker {
  onmessage: MessageHandler | null = null;
  onerror: ErrorHandler | null = null;
  #handle: ((data: unknown) => void) | null = null;
  #queued: unknown[] | null = [];
  readonly #offload: NodeWorker;
  /** Replies the offload thread owes for forwarded kernels. */
  #forwarded = 0;
  /**
   * Whether the offload thread has answered `init`. Its first reply is always
   * that answer (a thread replies in order and `init` is its first message),
   * and it must never be taken for a kernel's reply: a large kernel posted
   * before the thread was up used to be reported done when the thread merely
   * became ready, so its output was read half-written (in a fresh process, 7
   * of 12 first kernels came out wrong under load).
   */
  #offloadReady = false;

  constructor(url: string | URL) {
    const blob = resolveObjectURL(String(url));
    if (!blob) throw new Error(`InlineWorker: only blob: URLs made by URL.createObjectURL are supported, got ${String(url)}`);
    this.#offload = new NodeWorker(url);
    this.#offload.onmessage = (event) => {
      if (!this.#offloadReady) {
        this.#offloadReady = true;
        return;
      }
      if (this.#forwarded === 0) throw new Error("InlineWorker: a reply from the offload thread that no kernel was waiting for");
      this.#forwarded--;
      this.onmessage?.(event);
    };
    this.#offload.onerror = (event) => this.onerror?.(event);
    blob.text().then(
      (source) => {
        const scope: { onmessage?: (event: { data: unknown }) => void } = {};
        const reply = (data: unknown) => queueMicrotask(() => this.onmessage?.({ data }));
        new Function("self", "postMessage", source)(scope, reply);
        this.#handle = (data) => scope.onmessage?.({ data });
        for (const data of this.#queued ?? []) this.#deliver(data);
        this.#queued = null;
      },
      (error: Error) => this.onerror?.({ message: `InlineWorker: could not read worker script: ${error.message}`, error }),
    );
  }

  postMessage(data: unknown): void {
    const message = data as { type?: string; begin?: number; end?: number };
    if (message.type === "init") this.#offload.postMessage(data);
    if (message.type === "kernel" && (message.end ?? 0) - (message.begin ?? 0) >= INLINE_MAX_WORK) {
      this.#forwarded++;
      this.#offload.postMessage(data);
      return;
    }
    if (this.#queued) this.#queued.push(data);
    else this.#deliver(data);
  }

  #deliver(data: unknown): void {
    queueMicrotask(() => {
      try {
        this.#handle?.(data);
      } catch (error) {
        this.onerror?.({ message: (error as Error).message, error });
      }
    });
  }

  terminate(): void {
    this.#handle = null;
    this.#offload.terminate();
  }
}

let workersCreated = 0;

/** `PRECEPT_INLINE_WORKER=0` makes every worker a thread (for comparison). */
const inlineFirst = process.env.PRECEPT_INLINE_WORKER !== "0";

/** What `new Worker(url)` makes: the first worker inline, the rest threads. */
class PoolWorker {
  constructor(url: string | URL, options?: { type?: string }) {
    const inline = inlineFirst && workersCreated++ === 0;
    // A constructor may return another object; jax-js only uses the Worker interface.
    // biome-ignore lint/correctness/noConstructorReturn: deliberate factory behind the Web Worker constructor
    return (inline ? new InlineWorker(url) : new NodeWorker(url, options)) as unknown as PoolWorker;
  }
}

/**
 * Makes `Worker` and `navigator.hardwareConcurrency` available so that jax-js
 * starts `threads` kernel threads. Must run before `@jax-js/jax` is imported:
 * jax-js creates its wasm backend, and reads the thread count, at import time.
 * With one thread no pool is started and kernels run on the main thread; with
 * N threads the main thread is one of them and N − 1 are worker threads.
 */
export function installNodeWorkers(threads: number): void {
  if (threads <= 1) return;
  const g = globalThis as Record<string, unknown>;
  if (typeof g.Worker === "undefined") g.Worker = PoolWorker;
  const navigator = (g.navigator ?? {}) as object;
  Object.defineProperty(globalThis, "navigator", {
    value: Object.assign(Object.create(navigator), { hardwareConcurrency: threads }),
    configurable: true,
    writable: true,
  });
}
