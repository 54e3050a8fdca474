/**
 * The layer order of ../shared/DESIGN.md over the imports of src/ (static,
 * dynamic `import()` and type imports alike): no folder imports a higher
 * layer, and no file reaches itself through the imports that run when it
 * loads (type-only imports are erased, so they make no cycle). Tests are
 * left out: a test may start a higher layer (a server, the CLI) to drive what
 * it tests.
 */
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const SRC = fileURLToPath(new URL("../src", import.meta.url));

/** Each folder's layer (DESIGN.md, "Layers"); the package root (src/index.ts) stands above them all. */
const LAYERS: Record<string, number> = {
  engine: 1,
  models: 2,
  data: 3,
  train: 4,
  store: 5,
  providers: 6,
  constitution: 7,
  cai: 7,
  feedback: 7,
  eval: 7,
  world: 7,
  guard: 7,
  quality: 7,
  recipes: 8,
  cli: 9,
  server: 9,
  web: 9,
};

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.tsx?$/.test(entry.name) && !/\.test\.tsx?$/.test(entry.name) && !entry.name.endsWith(".d.ts") ? [path] : [];
  });
}

type Import = { target: string; typeOnly: boolean };

/** The src/ files a file imports (relative specifiers only; packages are not layers); `typeOnly` ones vanish at runtime. */
function importsOf(file: string): Import[] {
  const source = ts.createSourceFile(file, readFileSync(file, "utf8"), ts.ScriptTarget.Latest, true);
  const found: Import[] = [];
  const add = (specifier: ts.Node | undefined, typeOnly: boolean) => {
    if (!specifier || !ts.isStringLiteralLike(specifier) || !specifier.text.startsWith(".")) return;
    found.push({ target: resolve(dirname(file), specifier.text).replace(/\.js$/, ".ts"), typeOnly });
  };
  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      const clause = node.importClause;
      const named = clause?.namedBindings && ts.isNamedImports(clause.namedBindings) ? clause.namedBindings.elements : undefined;
      const typeOnly = !!clause && (clause.isTypeOnly || (!clause.name && !!named && named.length > 0 && named.every((e) => e.isTypeOnly)));
      add(node.moduleSpecifier, typeOnly);
    } else if (ts.isExportDeclaration(node)) add(node.moduleSpecifier, node.isTypeOnly);
    else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) add(node.argument.literal, true);
    else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) add(node.arguments[0], false);
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function layerOf(file: string): { folder: string; layer: number } {
  const path = relative(SRC, file);
  if (!path.includes("/")) return { folder: "(root)", layer: 10 };
  const folder = path.slice(0, path.indexOf("/"));
  const layer = LAYERS[folder];
  if (layer === undefined)
    throw new Error(`src/${folder}/ has no layer: add it to LAYERS in test/layers.test.ts, as ../shared/DESIGN.md places it`);
  return { folder, layer };
}

/** Every import cycle, each as the list of files around it (Tarjan's strongly connected components). */
function cycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!graph.has(w)) continue;
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop() as string;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || (graph.get(v) ?? []).includes(v)) found.push(component.reverse());
    }
  };
  for (const v of graph.keys()) if (!index.has(v)) visit(v);
  return found;
}

const files = sourceFiles(SRC);
const imports = new Map(files.map((f) => [f, importsOf(f)]));
/** What runs when a file loads: type-only imports make no cycle. */
const runtime = new Map([...imports].map(([f, list]) => [f, list.filter((i) => !i.typeOnly).map((i) => i.target)]));
const name = (f: string) => `src/${relative(SRC, f)}`;

describe("layers (../shared/DESIGN.md)", () => {
  it("scans the source tree", () => {
    // A scan that found nothing would pass every check below.
    expect(files.length).toBeGreaterThan(100);
    expect([...imports.values()].flat().length).toBeGreaterThan(300);
  });

  it("has no import of a higher layer", () => {
    const upward: string[] = [];
    for (const [file, list] of imports) {
      const from = layerOf(file);
      for (const { target } of list) {
        const to = layerOf(target);
        if (to.layer > from.layer)
          upward.push(`${name(file)} (layer ${from.layer}, ${from.folder}/) imports ${name(target)} (layer ${to.layer}, ${to.folder}/)`);
      }
    }
    expect(upward, "move the shared code down a layer, or pass it in as a parameter").toEqual([]);
  });

  it("has no import cycle", () => {
    const found = cycles(runtime).map((c) => c.map(name).join(" → "));
    expect(found, "break the cycle: move what both files need into a third, lower file").toEqual([]);
  });

  it("finds an upward import and a cycle when there is one", () => {
    // The checks above on a made-up graph, so a broken scan cannot pass unnoticed.
    const a = join(SRC, "engine", "a.ts");
    const b = join(SRC, "engine", "b.ts");
    const c = join(SRC, "cli", "c.ts");
    const made = new Map([
      [a, [b]],
      [b, [a, c]],
      [c, []],
    ]);
    expect(cycles(made).map((cycle) => cycle.map(name))).toEqual([["src/engine/a.ts", "src/engine/b.ts"]]);
    expect(layerOf(c).layer).toBeGreaterThan(layerOf(b).layer);
  });
});
