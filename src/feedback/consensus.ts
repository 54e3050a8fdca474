/**
 * From annotators' answers on one item (2..N responses) to a consensus:
 * every answer becomes pairwise preferences (a ranked response beats every
 * response ranked below it and every unranked one; a "pick one" answer is a
 * ranking of length 1), each pair gets a majority with a strength, and the
 * item's responses get Bradley–Terry scores over all answers. An "all
 * unacceptable" answer that ranks nothing is a vote for neither response
 * (see `UnacceptablePolicy`). Pure functions, no I/O.
 */

/** One annotator's answer: response indices, best first; `unacceptable`: they marked every response unacceptable. */
export type Vote = { annotator: string; ranking: readonly number[]; unacceptable?: boolean };

/**
 * What "all unacceptable" answers do to a pair's majority:
 * - "vote" (default): each is a vote for neither response; a pair is decided only when its winner has more
 *   votes than the loser and than "neither", and they count in the strength's denominator;
 * - "veto": any one leaves every pair of the item undecided;
 * - "ignore": they are left out (only the order people gave counts).
 */
export type UnacceptablePolicy = "vote" | "veto" | "ignore";
export const UNACCEPTABLE_POLICIES: readonly UnacceptablePolicy[] = ["vote", "veto", "ignore"];

/** Votes on the pair (i, j), i < j; `neither`: "all unacceptable" answers that prefer neither; `unacceptable`: all such answers on the item. */
export type PairTally = { i: number; j: number; forI: number; forJ: number; neither?: number; unacceptable?: number };

/** A pair's majority: the winning response (null on a tie or no votes) and the strength (winner − loser) / votes, in [0, 1]. */
export type PairConsensus = PairTally & { winner: number | null; strength: number };

export type ItemConsensus = {
  /** Bradley–Terry log-strengths, mean 0. */
  scores: number[];
  /** Responses, best first by Bradley–Terry score. */
  ranking: number[];
  pairs: PairConsensus[];
};

/** Pairs (i < j) of `n` responses, in a fixed order: (0,1), (0,2), ..., (1,2), ... */
export function pairsOf(n: number): [number, number][] {
  const out: [number, number][] = [];
  for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) out.push([i, j]);
  return out;
}

/** What a ranking says about the pair (i, j): the preferred response, or null when it says nothing. */
export function preferred(ranking: readonly number[], i: number, j: number): number | null {
  const ri = ranking.indexOf(i);
  const rj = ranking.indexOf(j);
  if (ri < 0 && rj < 0) return null;
  if (rj < 0) return i;
  if (ri < 0) return j;
  return ri < rj ? i : j;
}

export function tallyPairs(n: number, votes: readonly Vote[]): PairTally[] {
  return pairsOf(n).map(([i, j]) => {
    let forI = 0;
    let forJ = 0;
    let neither = 0;
    for (const vote of votes) {
      const p = preferred(vote.ranking, i, j);
      if (p === i) forI++;
      else if (p === j) forJ++;
      else if (vote.unacceptable) neither++;
    }
    return { i, j, forI, forJ, neither, unacceptable: votes.filter((v) => v.unacceptable).length };
  });
}

export function pairMajority(t: PairTally, policy: UnacceptablePolicy = "vote"): PairConsensus {
  const neither = policy === "vote" ? (t.neither ?? 0) : 0;
  const total = t.forI + t.forJ + neither;
  const top = Math.max(t.forI, t.forJ);
  const undecided = (policy === "veto" && (t.unacceptable ?? 0) > 0) || top <= neither;
  const winner = undecided ? null : t.forI > t.forJ ? t.i : t.forJ > t.forI ? t.j : null;
  return { ...t, winner, strength: total === 0 || undecided ? 0 : Math.abs(t.forI - t.forJ) / total };
}

/**
 * Bradley–Terry strengths by Hunter's MM iteration (Hunter 2004, "MM
 * algorithms for generalized Bradley-Terry models"): p_i ← W_i / Σ_j n_ij/(p_i + p_j).
 * `prior` adds that many virtual wins each way to every pair, so a response
 * that never lost (or never won) keeps a finite score and unconnected
 * responses tie. Returns log-strengths with mean 0.
 */
export function bradleyTerry(
  n: number,
  tallies: readonly PairTally[],
  { prior = 0.5, iterations = 1000, tolerance = 1e-12 } = {},
): number[] {
  // wins[i * n + j]: how often i beat j, plus the prior.
  const wins = new Float64Array(n * n).map((_, k) => (Math.floor(k / n) === k % n ? 0 : prior));
  for (const t of tallies) {
    wins[t.i * n + t.j] = (wins[t.i * n + t.j] as number) + t.forI;
    wins[t.j * n + t.i] = (wins[t.j * n + t.i] as number) + t.forJ;
  }
  const w = (i: number, j: number) => wins[i * n + j] as number;
  let p = new Float64Array(n).fill(1);
  for (let step = 0; step < iterations; step++) {
    const next = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      let won = 0;
      let denominator = 0;
      for (let j = 0; j < n; j++) {
        if (j === i) continue;
        won += w(i, j);
        const games = w(i, j) + w(j, i);
        if (games > 0) denominator += games / ((p[i] as number) + (p[j] as number));
      }
      next[i] = denominator > 0 ? won / denominator : (p[i] as number);
    }
    // Strengths are defined up to a scale: fix the geometric mean at 1.
    const logMean = next.reduce((s, v) => s + Math.log(v), 0) / n;
    for (let i = 0; i < n; i++) next[i] = (next[i] as number) / Math.exp(logMean);
    const change = Math.max(...next.map((v, i) => Math.abs(v - (p[i] as number))));
    p = next;
    if (change < tolerance) break;
  }
  return Array.from(p, (v) => Math.log(v));
}

/** The consensus on one item of `n` responses from everyone's votes. */
export function itemConsensus(
  n: number,
  votes: readonly Vote[],
  options: { prior?: number; unacceptable?: UnacceptablePolicy } = {},
): ItemConsensus {
  const tallies = tallyPairs(n, votes);
  const scores = bradleyTerry(n, tallies, options.prior === undefined ? {} : { prior: options.prior });
  const ranking = scores
    .map((s, i) => ({ s, i }))
    .sort((a, b) => b.s - a.s || a.i - b.i)
    .map((x) => x.i);
  return { scores, ranking, pairs: tallies.map((t) => pairMajority(t, options.unacceptable)) };
}

export type ConsensusAgreement = { annotator: string; agree: number; n: number; rate: number | null };

/**
 * How often each annotator's pairwise preferences match the majority of the
 * *other* annotators on the same pair (leave-one-out, so an annotator's own
 * vote never props up their score); pairs where the others tie or are absent
 * are not counted.
 */
export function agreementWithConsensus(items: readonly { n: number; votes: readonly Vote[] }[]): ConsensusAgreement[] {
  const totals = new Map<string, { agree: number; n: number }>();
  for (const { n, votes } of items) {
    for (const vote of votes) {
      const entry = totals.get(vote.annotator) ?? { agree: 0, n: 0 };
      totals.set(vote.annotator, entry);
      const others = votes.filter((v) => v !== vote);
      for (const tally of tallyPairs(n, others)) {
        const { winner } = pairMajority(tally);
        const own = preferred(vote.ranking, tally.i, tally.j);
        if (winner === null || own === null) continue;
        entry.n++;
        if (own === winner) entry.agree++;
      }
    }
  }
  return [...totals].map(([annotator, { agree, n }]) => ({ annotator, agree, n, rate: n === 0 ? null : agree / n }));
}
