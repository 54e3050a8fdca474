import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";

/** Debian's interpreter, where `apt-get install python3-torch` puts torch. */
export const PYTHON = "/usr/bin/python3";

/** Whether the PyTorch side of a bench can run here. */
export function torchAvailable(): boolean {
  if (!existsSync(PYTHON)) return false;
  try {
    execFileSync(PYTHON, ["-c", "import torch"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

/**
 * The OpenBLAS core type both sides of a comparison use: the one Precept's
 * addon picks (native/precept-blas.c) from the CPU's instruction sets. Left to
 * itself OpenBLAS names this machine's virtual Xeon Prescott (SSE3 kernels,
 * 20 GFLOP/s at 1024² where SkylakeX's do 140), and a machine may carry
 * OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE settings that slow it; null off x86 Linux.
 */
export function openblasCoreType(): string | null {
  let flags: Set<string>;
  try {
    const line = readFileSync("/proc/cpuinfo", "utf8").match(/^flags\s*:(.*)$/m)?.[1] ?? "";
    flags = new Set(line.trim().split(/\s+/));
  } catch {
    return null;
  }
  if (["avx512f", "avx512bw", "avx512vl"].every((f) => flags.has(f))) return "SkylakeX";
  if (flags.has("avx2") && flags.has("fma")) return "Haswell";
  return null;
}

/** The environment for a bench process, Precept's or PyTorch's: the same OpenBLAS core type, no L2 override. */
export function blasEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extra };
  delete env.OPENBLAS_L2_SIZE;
  const core = openblasCoreType();
  if (core) env.OPENBLAS_CORETYPE = core;
  else delete env.OPENBLAS_CORETYPE;
  return env;
}
