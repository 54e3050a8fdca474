/** A progress bar with rate and ETA for pipelines that work through store items (silent when stderr is not a terminal). */
import cliProgress from "cli-progress";

export type ItemProgress = {
  onProgress: (p: { done: number; total: number; failed: number }) => void;
  onWait: (claimedElsewhere: number) => void;
  stop: () => void;
};

export function itemProgress(label: string): ItemProgress {
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} {bar} {value}/{total} items | {rate} items/s | ETA {eta_formatted}{note}`,
      etaBuffer: 20,
      hideCursor: true,
      clearOnComplete: false,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = Date.now();
  let first: number | null = null;
  let running = false;
  let waitedNote = false;
  return {
    onProgress({ done, total, failed }) {
      if (first === null) first = done;
      const seconds = (Date.now() - started) / 1000;
      const rate = seconds > 0 ? ((done - first) / seconds).toFixed(2) : "0";
      const payload = { rate, note: failed > 0 ? ` | ${failed} failed` : "" };
      if (!running) {
        bar.start(total, done, payload);
        running = true;
      } else {
        bar.setTotal(total);
        bar.update(done, payload);
      }
    },
    onWait(claimedElsewhere) {
      if (waitedNote) return;
      waitedNote = true;
      process.stderr.write(
        `\n${label}: waiting for ${claimedElsewhere} item(s) claimed by another process (if it was killed, its lease runs out after --lease seconds)\n`,
      );
    },
    stop() {
      if (running) bar.stop();
    },
  };
}
