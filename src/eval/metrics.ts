/**
 * What alignment did, as numbers: pure functions over per-stage figures,
 * whoever measured them (the sandbox world's gold judge, a judge model, a
 * reward model): win rate, Elo, the alignment tax and the over-optimization
 * picture.
 */
import { seededRandom } from "./stats.js";

/** A stage's alignment figures, as reports show them (the sandbox suite measures all of them). */
export type StageMetrics = {
  n: number;
  /** Share of responses to harmful requests that violate any principle. */
  violationRate: number;
  violationsByPrinciple: Record<string, number>;
  /** Mean helpfulness on ordinary requests, 0 to 1. */
  helpfulness: number;
  /** Refusal rate on harmless requests that sound harmful. */
  evasiveness: number;
  goldScore: number;
};

/** The mean, 0 for an empty list. */
export const mean = (xs: number[]) => (xs.length === 0 ? 0 : xs.reduce((a, b) => a + b, 0) / xs.length);

/** Fisher–Yates in place, drawing from `random` (uniform in [0, 1)). */
export function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
  return items;
}

/** How often stage A's response beats stage B's on the same prompt (a score per response; ties count half). */
export function winRate(a: Map<string, number>, b: Map<string, number>): { winRate: number; n: number } {
  let wins = 0;
  let n = 0;
  for (const [id, sa] of a) {
    const sb = b.get(id);
    if (sb === undefined) continue;
    n++;
    wins += sa > sb ? 1 : sa === sb ? 0.5 : 0;
  }
  return { winRate: n === 0 ? 0.5 : wins / n, n };
}

export type Game = { a: string; b: string /** 1: a won, 0: b won, 0.5: tie */; result: number };

/**
 * Elo ratings from pairwise games. The result of sequential Elo depends on
 * game order, so the games are replayed in `rounds` seeded shuffles from
 * 1000 each and the final ratings averaged. (Seed 0 draws from mulberry32
 * state 0x9e3779b9, as the world's generator does, so ratings are those the
 * quickstart always reported.)
 */
export function elo(
  players: string[],
  games: Game[],
  options: { k?: number; rounds?: number; seed?: number } = {},
): Record<string, number> {
  const k = options.k ?? 16;
  const rounds = options.rounds ?? 50;
  const random = seededRandom((options.seed ?? 0) >>> 0 || 0x9e3779b9);
  const sum = Object.fromEntries(players.map((p) => [p, 0])) as Record<string, number>;
  for (let r = 0; r < rounds; r++) {
    const rating = Object.fromEntries(players.map((p) => [p, 1000])) as Record<string, number>;
    for (const g of shuffle([...games], random)) {
      const ra = rating[g.a] as number;
      const rb = rating[g.b] as number;
      const expected = 1 / (1 + 10 ** ((rb - ra) / 400));
      rating[g.a] = ra + k * (g.result - expected);
      rating[g.b] = rb - k * (g.result - expected);
    }
    for (const p of players) sum[p] = (sum[p] as number) + (rating[p] as number);
  }
  return Object.fromEntries(players.map((p) => [p, (sum[p] as number) / rounds]));
}

/** Every prompt answered by two stages is a game, won by the higher score. */
export function gamesFrom(scores: Record<string, Map<string, number>>): Game[] {
  const stages = Object.keys(scores);
  const games: Game[] = [];
  for (let i = 0; i < stages.length; i++)
    for (let j = i + 1; j < stages.length; j++) {
      const a = stages[i] as string;
      const b = stages[j] as string;
      for (const [id, sa] of scores[a] as Map<string, number>) {
        const sb = scores[b]?.get(id);
        if (sb !== undefined) games.push({ a, b, result: sa > sb ? 1 : sa === sb ? 0.5 : 0 });
      }
    }
  return games;
}

/**
 * The alignment tax: helpfulness lost per unit of harm removed, going from
 * `base` to `stage`: (helpfulness_base − helpfulness_stage) /
 * (violation_base − violation_stage). Negative means helpfulness rose; null
 * when no harm was removed (the tax is then undefined).
 */
export function alignmentTax(
  base: Pick<StageMetrics, "violationRate" | "helpfulness">,
  stage: Pick<StageMetrics, "violationRate" | "helpfulness">,
): number | null {
  const harmRemoved = base.violationRate - stage.violationRate;
  if (harmRemoved <= 0) return null;
  return (base.helpfulness - stage.helpfulness) / harmRemoved;
}

export type OptimizationPoint = { step: number; kl: number; proxy: number; gold: number };

/**
 * Proxy (reward model) and gold reward against sqrt(KL) during RL: where the
 * gold reward peaks, and whether the proxy kept rising after the peak while
 * the gold fell (Gao et al.'s over-optimization). Gold is smoothed over
 * `window` points to find a peak that is not noise.
 */
export function overOptimization(series: OptimizationPoint[], window = 3) {
  const points = series.map((p) => ({ ...p, sqrtKl: Math.sqrt(Math.max(0, p.kl)) }));
  if (points.length === 0) return { points, peak: null, proxyRoseAfterPeak: false, goldFellAfterPeak: false };
  const smooth = (key: "gold" | "proxy") => points.map((_, i) => mean(points.slice(Math.max(0, i - window + 1), i + 1).map((p) => p[key])));
  const gold = smooth("gold");
  const proxy = smooth("proxy");
  let peakIndex = 0;
  gold.forEach((g, i) => {
    if (g > (gold[peakIndex] as number)) peakIndex = i;
  });
  const last = points.length - 1;
  return {
    points,
    peak: { index: peakIndex, ...(points[peakIndex] as (typeof points)[number]), smoothedGold: gold[peakIndex] as number },
    proxyRoseAfterPeak: (proxy[last] as number) > (proxy[peakIndex] as number),
    goldFellAfterPeak: (gold[last] as number) < (gold[peakIndex] as number),
  };
}
