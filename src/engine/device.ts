/**
 * Choosing where arrays live: WebAssembly on the CPU threads (the default) or
 * a GPU through WebGPU. In Node, WebGPU comes from the optional `webgpu`
 * package (Dawn), which needs a GPU and a Vulkan driver (`libvulkan1`).
 */
import { defaultDevice, init } from "./jax.js";
import { trackBackend } from "./live-buffers.js";
import { engineThreads } from "./threads.js";

export type DeviceChoice = "auto" | "wasm" | "webgpu" | "cpu";
export type EngineInfo = { device: "wasm" | "webgpu" | "cpu"; threads: number };

async function installWebGpu(): Promise<void> {
  const g = globalThis as Record<string, unknown>;
  const nav = (g.navigator ?? {}) as Record<string, unknown>;
  if (nav.gpu) return;
  let mod: { create: (options: string[]) => unknown; globals: object };
  try {
    mod = (await import(/* webpackIgnore: true */ "webgpu" as string)) as typeof mod;
  } catch {
    throw new Error('WebGPU in Node needs the "webgpu" package: run `npm install webgpu` (it also needs a GPU and libvulkan1)');
  }
  Object.assign(globalThis, mod.globals);
  if (!g.navigator) Object.defineProperty(globalThis, "navigator", { value: nav, configurable: true, writable: true });
  nav.gpu = mod.create([]);
}

/**
 * Starts the array engine on the chosen device (`PRECEPT_DEVICE` or wasm).
 * "auto" takes WebGPU when an adapter is found and falls back to wasm.
 */
export async function initEngine(choice: DeviceChoice = (process.env.PRECEPT_DEVICE as DeviceChoice) || "wasm"): Promise<EngineInfo> {
  if (!["auto", "wasm", "webgpu", "cpu"].includes(choice)) {
    throw new Error(`unknown device "${choice}": use wasm, webgpu, cpu or auto`);
  }
  if (choice === "webgpu" || choice === "auto") {
    try {
      await installWebGpu();
      const available = await init("webgpu");
      if (!available.includes("webgpu")) throw new Error("no WebGPU adapter was found (is there a GPU and a Vulkan driver?)");
      defaultDevice("webgpu");
      trackBackend("webgpu");
      return { device: "webgpu", threads: engineThreads };
    } catch (error) {
      if (choice === "webgpu") throw error;
    }
  }
  const device = choice === "cpu" ? "cpu" : "wasm";
  await init(device);
  defaultDevice(device);
  return { device, threads: engineThreads };
}
