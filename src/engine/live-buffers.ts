/**
 * Counting live device buffers, the way to catch reference-counting leaks.
 *
 * jax-js keeps no public count of allocated buffers, so this module wraps the
 * `malloc`/`incRef`/`decRef` methods of each backend instance and keeps its own
 * reference counts. The backends live in an internal chunk of the pinned
 * jax-js build; importing that same file gives the same module instance.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import "./threads.js";

type Slot = number;
type Backend = {
  type: string;
  malloc(size: number, initialData?: Uint8Array): Slot;
  incRef(slot: Slot): void;
  decRef(slot: Slot): void;
};

const counts = new Map<string, Map<Slot, number>>();
const tracked = new WeakSet<Backend>();

/** Bytes of live wasm buffers, as the allocator rounds them (to 64). */
const bytes = { live: 0, peakLive: 0, sizes: new Map<Slot, number>() };

function onMalloc(device: string, slot: Slot, size: number): void {
  if (device !== "wasm" || size === 0) return;
  const rounded = Math.ceil(size / 64) * 64;
  bytes.sizes.set(slot, rounded);
  bytes.live += rounded;
  bytes.peakLive = Math.max(bytes.peakLive, bytes.live);
}

function onFree(device: string, slot: Slot): void {
  if (device !== "wasm") return;
  const size = bytes.sizes.get(slot);
  if (size === undefined) return;
  bytes.sizes.delete(slot);
  bytes.live -= size;
}

/** The wasm allocator, which scripts/patch-jax.mjs leaves on globalThis. */
function allocatorHeap(): number | null {
  const allocator = (globalThis as { __jaxWasmAllocator?: { getStats(): { totalAllocated: number } } }).__jaxWasmAllocator;
  return allocator ? allocator.getStats().totalAllocated : null;
}

export type HeapStats = {
  /** Bytes of the wasm buffers allocated now (size-class rounded). */
  liveBytes: number;
  /** The most bytes live at once since the start (or the last `resetPeakLiveBytes`). */
  peakLiveBytes: number;
  /** The wasm heap the allocator has grown to: what the 4 GiB limit applies to. It never shrinks. (The peak of live bytes without the patched allocator.) */
  heapBytes: number;
};

/** The wasm engine's memory: bytes live now and at most, and the heap's size. */
export function heapStats(): HeapStats {
  return { liveBytes: bytes.live, peakLiveBytes: bytes.peakLive, heapBytes: allocatorHeap() ?? bytes.peakLive };
}

/** Starts a new peak of live bytes from what is live now (to measure one step). */
export function resetPeakLiveBytes(): void {
  bytes.peakLive = bytes.live;
}

function track(backend: Backend): void {
  if (tracked.has(backend)) return;
  tracked.add(backend);
  const slots = new Map<Slot, number>();
  counts.set(backend.type, slots);
  const { malloc, incRef, decRef } = backend;
  const device = backend.type;
  backend.malloc = function (size, initialData) {
    const slot = malloc.call(this, size, initialData);
    slots.set(slot, 1);
    onMalloc(device, slot, size);
    return slot;
  };
  backend.incRef = function (slot) {
    incRef.call(this, slot);
    const n = slots.get(slot);
    if (n !== undefined) slots.set(slot, n + 1);
  };
  backend.decRef = function (slot) {
    decRef.call(this, slot);
    const n = slots.get(slot);
    if (n === undefined) return;
    if (n <= 1) {
      slots.delete(slot);
      onFree(device, slot);
    } else slots.set(slot, n - 1);
  };
}

async function loadGetBackend(): Promise<(device: string) => Backend | undefined> {
  const require = createRequire(import.meta.url);
  const indexPath = require.resolve("@jax-js/jax").replace(/index\.cjs$/, "index.js");
  const dist = dirname(indexPath);
  const source = readFileSync(join(dist, "index.js"), "utf8");
  const chunk = /from "\.\/(backend-[\w-]+\.js)"/.exec(source)?.[1];
  const getter = source.match(/\bs as getBackend\b/);
  if (!chunk || !getter) {
    throw new Error("live-buffers: this @jax-js/jax build has an unexpected layout; pin the version in package.json");
  }
  const mod = (await import(pathToFileURL(join(dist, chunk)).href)) as Record<string, unknown>;
  return mod.s as (device: string) => Backend | undefined;
}

const getBackend = await loadGetBackend();

/** Starts counting buffers on a backend; done for wasm and cpu at import and by `initEngine` for others. */
export function trackBackend(device: string): void {
  let backend: Backend | undefined;
  try {
    backend = getBackend(device);
  } catch {
    return;
  }
  if (backend) track(backend);
}

trackBackend("wasm");
trackBackend("cpu");

/**
 * Number of device buffers allocated and not yet freed, over all tracked
 * backends (or one device). Views that share a buffer count once.
 */
export function liveBuffers(device?: string): number {
  if (device) return counts.get(device)?.size ?? 0;
  let total = 0;
  for (const slots of counts.values()) total += slots.size;
  return total;
}
