/**
 * Learning-rate schedules: step number → learning rate.
 *
 * The shapes follow Hugging Face `transformers` (`get_*_schedule_with_warmup`):
 * the rate rises linearly from 0 over `warmupSteps`, then stays constant or
 * decays linearly or along a half cosine to `minRatio · peak` at `totalSteps`.
 */
import { z } from "zod";

export const scheduleConfigSchema = z.object({
  type: z.enum(["constant", "linear", "cosine"]).default("linear"),
  peak: z.number().positive(),
  warmupSteps: z.number().int().min(0).default(0),
  totalSteps: z.number().int().positive().optional(),
  minRatio: z.number().min(0).max(1).default(0),
});

export type ScheduleConfig = z.input<typeof scheduleConfigSchema>;
export type Schedule = (step: number) => number;

export function makeSchedule(input: ScheduleConfig): Schedule {
  const { type, peak, warmupSteps, totalSteps, minRatio } = scheduleConfigSchema.parse(input);
  if (type !== "constant" && totalSteps === undefined) {
    throw new Error(`schedule "${type}" needs totalSteps`);
  }
  const total = totalSteps ?? Number.POSITIVE_INFINITY;
  return (step: number) => {
    if (step < warmupSteps) return (peak * step) / Math.max(1, warmupSteps);
    if (type === "constant") return peak;
    const progress = Math.min(1, (step - warmupSteps) / Math.max(1, total - warmupSteps));
    const fraction = type === "linear" ? 1 - progress : 0.5 * (1 + Math.cos(Math.PI * progress));
    return peak * (minRatio + (1 - minRatio) * fraction);
  };
}
