/** Lint messages a user can act on: "missing field", and duplicate ids reported in the same pass as other errors. */
import { describe, expect, it } from "vitest";
import { ConstitutionError, parseConstitution } from "./load.js";

function errorOf(text: string): string {
  try {
    parseConstitution(text, "c.yaml");
  } catch (error) {
    expect(error).toBeInstanceOf(ConstitutionError);
    return (error as Error).message;
  }
  throw new Error("expected the constitution to be refused");
}

describe("constitution lint messages", () => {
  it('says "missing field" with the type it expects', () => {
    expect(errorOf("name: t\nprinciples:\n  - {id: a, compare: Which one is better?}\n")).toBe(
      'c.yaml:1: field "version": missing field (expected string)',
    );
  });

  it("reports a duplicate id together with the other errors, in file order", () => {
    const message = errorOf(`name: t
version: "1"
principles:
  - {id: a, critique: Is it bad at all?, revision: Make it good please.}
  - {id: a, compare: Which one is better?}
  - {id: b, critique: short}
`);
    expect(message.split("\n")).toEqual([
      'c.yaml:5: field "principles.1.id": duplicate principle id "a" (first at principles.0)',
      'c.yaml:6: field "principles.2.critique": a critique request needs a full sentence',
      'c.yaml:6: field "principles.2.revision": a critique request needs its revision request',
    ]);
  });

  it("reports a duplicate id once when it is the only error", () => {
    expect(
      errorOf(
        'name: t\nversion: "1"\nprinciples:\n  - {id: a, compare: Which one is better?}\n  - {id: a, compare: Which one is kinder?}\n',
      ),
    ).toBe('c.yaml:5: field "principles.1.id": duplicate principle id "a" (first at principles.0)');
  });
});
