/**
 * Every ```ts block in README.md type-checks against the package ("precept"
 * is src/index.ts, "precept/engine" src/engine/index.ts), and the blocks
 * fenced ```ts run are also run (each must be short: seconds).
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
// Inside node_modules, so the blocks' own imports (openai, ...) resolve as a user's would.
const DIR = join(ROOT, "node_modules", ".cache", `precept-readme-${process.pid}`);
afterAll(() => rmSync(DIR, { recursive: true, force: true }));

type Block = { line: number; run: boolean; code: string };

/** The README's TypeScript blocks with the line each starts on (fences may be indented, as in lists). */
function tsBlocks(markdown: string): Block[] {
  const lines = markdown.split("\n");
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)```(ts|typescript)\b(.*)$/.exec(lines[i] as string);
    if (!open) continue;
    const indent = (open[1] as string).length;
    const body: string[] = [];
    let j = i + 1;
    while (j < lines.length && !/^\s*```\s*$/.test(lines[j] as string)) body.push((lines[j++] as string).slice(indent));
    blocks.push({ line: i + 1, run: /\brun\b/.test(open[3] as string), code: body.join("\n") });
    i = j;
  }
  return blocks;
}

const blocks = tsBlocks(readFileSync(join(ROOT, "README.md"), "utf8"));
const fileOf = (b: Block) => join(DIR, `readme-line-${b.line}.mts`);

function typeErrors(): string[] {
  mkdirSync(DIR, { recursive: true });
  for (const b of blocks) writeFileSync(fileOf(b), `${b.code}\nexport {};\n`);
  const options: ts.CompilerOptions = {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    lib: ["lib.es2023.d.ts"],
    types: ["node"],
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    baseUrl: ROOT,
    paths: { precept: ["src/index.ts"], "precept/engine": ["src/engine/index.ts"] },
  };
  const program = ts.createProgram(blocks.map(fileOf), options);
  // Only the blocks are checked (the sources they import are checked by tsc --noEmit -p .).
  return blocks
    .flatMap((b) => ts.getPreEmitDiagnostics(program, program.getSourceFile(fileOf(b))))
    .map((d) => {
      const file = d.file as ts.SourceFile;
      const { line } = file.getLineAndCharacterOfPosition(d.start ?? 0);
      const block = blocks.find((b) => fileOf(b) === file.fileName) as Block;
      return `README.md:${block.line + 1 + line}: ${ts.flattenDiagnosticMessageText(d.messageText, "\n")}`;
    });
}

describe("README.md's TypeScript", () => {
  it("finds the blocks", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(3);
    expect(blocks.some((b) => b.run)).toBe(true);
  });

  it("type-checks every block against the package", () => {
    expect(typeErrors()).toEqual([]);
  }, 300_000);

  it("runs the blocks fenced ```ts run", () => {
    mkdirSync(DIR, { recursive: true });
    // tsx leaves import paths inside node_modules alone, so the package names are spelled as files here.
    const local = (code: string) =>
      code
        .replaceAll('from "precept/engine"', `from ${JSON.stringify(join(ROOT, "src/engine/index.ts"))}`)
        .replaceAll('from "precept"', `from ${JSON.stringify(join(ROOT, "src/index.ts"))}`);
    for (const b of blocks.filter((x) => x.run)) {
      const file = join(DIR, `run-line-${b.line}.mts`);
      writeFileSync(file, `${local(b.code)}\nexport {};\n`);
      const r = spawnSync(process.execPath, ["--import", "tsx", file], {
        cwd: ROOT,
        encoding: "utf8",
        timeout: 240_000,
        env: { ...process.env, PRECEPT_THREADS: "1" },
      });
      expect(r.status, `README.md:${b.line}: ${r.stderr}`).toBe(0);
    }
  }, 300_000);
});
