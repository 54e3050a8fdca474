import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";

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
