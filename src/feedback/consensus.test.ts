import { describe, expect, it } from "vitest";
import { agreementWithConsensus, bradleyTerry, itemConsensus, pairMajority, preferred, tallyPairs } from "./consensus.js";

describe("pairwise preferences from answers", () => {
  it("reads a pick (a ranking of one) and a full ranking", () => {
    // Pick response 2 of 3: it beats 0 and 1; 0 vs 1 is unknown.
    expect([preferred([2], 0, 1), preferred([2], 0, 2), preferred([2], 1, 2)]).toEqual([null, 2, 2]);
    expect([preferred([1, 0, 2], 0, 1), preferred([1, 0, 2], 0, 2), preferred([1, 0, 2], 1, 2)]).toEqual([1, 0, 1]);
    expect(preferred([], 0, 1)).toBeNull();
  });

  it("tallies votes per pair and takes the majority with its strength", () => {
    const votes = [
      { annotator: "a", ranking: [0] },
      { annotator: "b", ranking: [0] },
      { annotator: "c", ranking: [1] },
    ];
    const [tally] = tallyPairs(2, votes);
    expect(tally).toEqual({ i: 0, j: 1, forI: 2, forJ: 1, neither: 0, unacceptable: 0 });
    expect(pairMajority(tally as never)).toMatchObject({ winner: 0, strength: 1 / 3 });
    expect(pairMajority({ i: 0, j: 1, forI: 1, forJ: 1 })).toMatchObject({ winner: null, strength: 0 });
  });

  it("counts 'all unacceptable' as a vote for neither response, or as a veto, or not at all", () => {
    // The case: one annotator picks response 0, another marks the item all unacceptable.
    const split = [
      { annotator: "a", ranking: [0] },
      { annotator: "b", ranking: [], unacceptable: true },
    ];
    const [tally] = tallyPairs(2, split) as [never];
    expect(tally).toMatchObject({ forI: 1, forJ: 0, neither: 1, unacceptable: 1 });
    expect(pairMajority(tally)).toMatchObject({ winner: null, strength: 0 }); // 1 for, 1 for neither: a tie
    expect(pairMajority(tally, "veto")).toMatchObject({ winner: null });
    expect(pairMajority(tally, "ignore")).toMatchObject({ winner: 0, strength: 1 }); // the old behaviour
    // Two for response 0 outvote one "neither": decided, strength (2 − 0) / 3; a veto still holds it back.
    const [more] = tallyPairs(2, [...split, { annotator: "c", ranking: [0] }]) as [never];
    expect(pairMajority(more)).toMatchObject({ winner: 0, strength: 2 / 3 });
    expect(pairMajority(more, "veto")).toMatchObject({ winner: null, strength: 0 });
    // An "all unacceptable" answer that still ranks says which it prefers: a vote for it, not for neither.
    const [ranked] = tallyPairs(2, [{ annotator: "a", ranking: [1, 0], unacceptable: true }]) as [never];
    expect(ranked).toMatchObject({ forI: 0, forJ: 1, neither: 0, unacceptable: 1 });
    expect(itemConsensus(2, split).pairs[0]).toMatchObject({ winner: null });
    expect(itemConsensus(2, split, { unacceptable: "ignore" }).pairs[0]).toMatchObject({ winner: 0 });
  });
});

describe("Bradley-Terry", () => {
  it("gives the maximum-likelihood odds for two responses: 3 wins to 1 is odds 3", () => {
    const [s0, s1] = bradleyTerry(2, [{ i: 0, j: 1, forI: 3, forJ: 1 }], { prior: 0 });
    expect((s0 as number) - (s1 as number)).toBeCloseTo(Math.log(3), 9);
  });

  it("satisfies the likelihood equations: each response's expected wins equal its actual wins", () => {
    const tallies = [
      { i: 0, j: 1, forI: 2, forJ: 1 },
      { i: 0, j: 2, forI: 3, forJ: 1 },
      { i: 1, j: 2, forI: 1, forJ: 2 },
    ];
    const p = bradleyTerry(3, tallies, { prior: 0 }).map(Math.exp);
    const wins = [5, 2, 3];
    const expected = [0, 0, 0];
    for (const t of tallies) {
      const games = t.forI + t.forJ;
      const pi = p[t.i] as number;
      const pj = p[t.j] as number;
      expected[t.i] = (expected[t.i] as number) + (games * pi) / (pi + pj);
      expected[t.j] = (expected[t.j] as number) + (games * pj) / (pi + pj);
    }
    for (let i = 0; i < 3; i++) expect(expected[i]).toBeCloseTo(wins[i] as number, 8);
  });

  it("ties a balanced cycle, and with the prior keeps an unbeaten response finite", () => {
    const cycle = [
      { i: 0, j: 1, forI: 2, forJ: 0 },
      { i: 1, j: 2, forI: 2, forJ: 0 },
      { i: 0, j: 2, forI: 0, forJ: 2 },
    ];
    for (const s of bradleyTerry(3, cycle)) expect(s).toBeCloseTo(0, 9);
    const scores = bradleyTerry(2, [{ i: 0, j: 1, forI: 0, forJ: 4 }]);
    expect(scores.every(Number.isFinite)).toBe(true);
    // Prior 0.5 each way: odds (4.5 / 0.5) = 9.
    expect((scores[1] as number) - (scores[0] as number)).toBeCloseTo(Math.log(9), 9);
  });

  it("orders an item's responses from everyone's rankings", () => {
    const consensus = itemConsensus(3, [
      { annotator: "a", ranking: [2, 0, 1] },
      { annotator: "b", ranking: [2, 1, 0] },
      { annotator: "c", ranking: [0, 2, 1] },
    ]);
    expect(consensus.ranking).toEqual([2, 0, 1]);
    expect(consensus.pairs.map((p) => [p.i, p.j, p.winner, p.forI, p.forJ])).toEqual([
      [0, 1, 0, 2, 1],
      [0, 2, 2, 1, 2],
      [1, 2, 2, 0, 3],
    ]);
  });
});

describe("agreement with the others' majority (leave-one-out)", () => {
  it("scores each annotator against the rest, skipping pairs where the rest tie", () => {
    const votes = ["a", "b", "c"].map((annotator) => ({ annotator, ranking: [0] })).concat({ annotator: "d", ranking: [1] });
    const result = Object.fromEntries(agreementWithConsensus([{ n: 2, votes }]).map((r) => [r.annotator, r]));
    expect(result.a).toMatchObject({ agree: 1, n: 1, rate: 1 });
    expect(result.d).toMatchObject({ agree: 0, n: 1, rate: 0 });
    // Two annotators who disagree: each one's "others" is a single opposite vote.
    const split = agreementWithConsensus([
      {
        n: 2,
        votes: [
          { annotator: "x", ranking: [0] },
          { annotator: "y", ranking: [1] },
        ],
      },
    ]);
    expect(split.map((r) => r.rate)).toEqual([0, 0]);
  });
});
