/** `precept demo`: runs the library demo with a progress bar. */
import cliProgress from "cli-progress";
import { type DemoOptions, runDemo as demo } from "../recipes/demo.js";

export async function runDemo(o: Omit<DemoOptions, "log" | "onStep">): Promise<void> {
  const bar = new cliProgress.SingleBar(
    {
      format: "training [{bar}] {value}/{total} steps | loss {loss} | {speed} tok/s",
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 2000,
    },
    cliProgress.Presets.shades_classic,
  );
  let running = false;
  await demo({
    ...o,
    // The bar starts with the first step, after the model's line is printed, as before.
    log: (line) => {
      if (running) bar.stop();
      running = false;
      console.log(line);
    },
    onStep: (step, loss, speed) => {
      if (step === 1) {
        bar.start(o.steps, 0, { loss: "-", speed: "-" });
        running = true;
      }
      bar.update(step, { loss: loss.toFixed(3), speed: Math.round(speed) });
    },
  });
}
