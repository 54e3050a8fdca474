import { describe, expect, it } from "vitest";
import { chanceAccuracyGate, holdOut, wilsonLower } from "./accuracy.js";
import { enforceGates, QualityGateError, warnLine, warnLines } from "./gate.js";
import { klBlowupGate } from "./kl.js";
import { labelConfidenceGate, positionBiasGate } from "./labels.js";
import { preferencePairsGate } from "./preferences.js";
import { duplicateResponsesGate, emptyResponsesGate } from "./responses.js";
import { critiquesOfEmptyGate, identicalRevisionsGate } from "./revisions.js";

describe("quality gates", () => {
  it("empty responses: 17 of 20 empty fails, 1 of 20 passes; the WARN line says what to try", () => {
    const texts = [...Array(17).fill(""), "A real answer.", "Another one.", "Third."];
    const failed = emptyResponsesGate(texts, { what: "first responses" });
    expect(failed).toMatchObject({ ok: false, n: 20, value: 0.85 });
    expect(warnLine(failed)).toMatch(/^WARN empty-responses: 17 of 20 first responses are empty or near-empty \(85%; threshold 10%\)/);
    expect(warnLine(failed)).toContain("--critic openai:");
    expect(emptyResponsesGate([" .", ...Array(19).fill("fine answer")]).ok).toBe(true);
    expect(emptyResponsesGate([" .", "  ", "", ...Array(17).fill("fine answer")]).ok).toBe(false); // 3 of 20 > 10%
    expect(emptyResponsesGate([]).ok).toBe(true);
  });

  it("duplicate responses count repeats of an earlier non-empty text, trimmed and case-blind", () => {
    const r = duplicateResponsesGate(["Same.", " same. ", "SAME.", "other", "", ""]);
    expect(r).toMatchObject({ ok: false, n: 4, value: 0.5 });
    expect(duplicateResponsesGate(["a", "b", "c", "d", "e", "a"]).ok).toBe(true); // 1 of 6 ≤ 20%
    // Within groups only: the same text for two prompts is fine, twice for one prompt is not.
    expect(duplicateResponsesGate(["x", "y", "x", "y"], { groups: ["p1", "p1", "p2", "p2"] })).toMatchObject({ ok: true, value: 0 });
    expect(duplicateResponsesGate(["x", "x", "x", "y"], { groups: ["p1", "p1", "p2", "p2"] })).toMatchObject({ ok: false, value: 0.25 });
  });

  it("identical revisions and critiques of empty responses", () => {
    expect(
      identicalRevisionsGate([
        { response: "x", revision: "x " },
        { response: "x", revision: "y" },
        { response: "z", revision: "z" },
      ]),
    ).toMatchObject({
      ok: false,
      value: 2 / 3,
    });
    const critiques = [
      { response: "", critique: "The response leaks Ivan Lee's phone number." },
      { response: "A full answer.", critique: "No problem." },
    ];
    expect(critiquesOfEmptyGate(critiques)).toMatchObject({ ok: false, value: 0.5, n: 2 });
    expect(critiquesOfEmptyGate(critiques.slice(1)).ok).toBe(true);
  });

  it('preference pairs with a " " side or identical sides', () => {
    const rows = [
      { chosen: " A good answer.", rejected: " " },
      { chosen: [{ role: "assistant", content: "same" }], rejected: [{ role: "assistant", content: "same" }] },
      { chosen: " yes please", rejected: " no thanks" },
    ];
    const r = preferencePairsGate(rows);
    expect(r).toMatchObject({ ok: false, value: 2 / 3 });
    expect(r.finding).toContain("empty side (1) or identical sides (1)");
  });

  it("label confidence near 0.5 and a coin's position-bias rate fail; a consistent labeler passes", () => {
    expect(labelConfidenceGate(0.51, 18).ok).toBe(false);
    expect(labelConfidenceGate(0.8, 18).ok).toBe(true);
    expect(positionBiasGate(0.5, 36).ok).toBe(false);
    expect(warnLine(positionBiasGate(0.5, 36))).toContain("--feedback openai:");
    expect(positionBiasGate(0.1, 36).ok).toBe(true);
  });

  it("chance accuracy: Wilson lower bound above 0.5 or not", () => {
    // 15 of 20: p = .75, Wilson 95% lower = (0.75 + 0.09604 − 1.96·√(0.009375 + 0.0024010)) / 1.19208 = 0.5313
    expect(wilsonLower(15, 20)).toBeCloseTo(0.5313, 3);
    expect(chanceAccuracyGate(0.75, 20)).toMatchObject({
      ok: true,
      finding: expect.stringContaining("0.750, above chance (95% interval from 0.531)"),
    });
    expect(chanceAccuracyGate(0.5, 200).ok).toBe(false);
    expect(chanceAccuracyGate(0.6, 20).ok).toBe(false);
    expect(chanceAccuracyGate(0, 0).ok).toBe(false);
    expect(warnLine(chanceAccuracyGate(0.5, 4))).toContain("too few");
  });

  it("holdOut is seeded, stable, disjoint and keeps at least one row on each side", () => {
    const rows = Array.from({ length: 50 }, (_, i) => i);
    const a = holdOut(rows, 0.1, 3);
    expect(a.heldOut).toHaveLength(5);
    expect([...a.train, ...a.heldOut].sort((x, y) => x - y)).toEqual(rows);
    expect(holdOut(rows, 0.1, 3)).toEqual(a);
    expect(holdOut(rows, 0.1, 4).heldOut).not.toEqual(a.heldOut);
    expect(holdOut([1, 2], 0.1, 0).heldOut).toHaveLength(1);
    expect(holdOut([1], 0.5, 0).heldOut).toHaveLength(0);
    expect(holdOut(rows, 0, 0).heldOut).toHaveLength(0);
  });

  it("KL blow-up: above the bound or not finite", () => {
    expect(
      klBlowupGate([
        { step: 1, "objective/kl": 0.5 },
        { step: 2, "objective/kl": 3 },
      ]).ok,
    ).toBe(true);
    const high = klBlowupGate([
      { step: 1, "objective/kl": 0.5 },
      { step: 2, "objective/kl": 40 },
    ]);
    expect(high).toMatchObject({ ok: false, value: 40 });
    expect(high.finding).toContain("at step 2");
    expect(
      klBlowupGate([
        { step: 1, "objective/kl": 0.5 },
        { step: 7, "objective/kl": Number.NaN },
      ]),
    ).toMatchObject({ ok: false });
    expect(klBlowupGate([{ step: 1 }]).ok).toBe(true);
  });

  it("--strict turns a failed gate into an error naming the stage and gates", () => {
    const gates = [emptyResponsesGate(["", ""]), duplicateResponsesGate(["a", "b"])];
    expect(warnLines(gates)).toHaveLength(1);
    expect(() => enforceGates("revise", gates, false)).not.toThrow();
    expect(() => enforceGates("revise", gates, true)).toThrow(QualityGateError);
    expect(() => enforceGates("revise", gates, true)).toThrow(/revise: 1 quality gate\(s\) failed under --strict \(empty-responses\)/);
  });
});
