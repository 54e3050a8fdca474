/**
 * The package as npm publishes it: the files `npm pack` takes (package.json's
 * "files", with dist/ built fresh from src/), packed by `npm pack` and
 * unpacked into an empty project as `npm install` would place it. The
 * registry is not reachable here, so the package's dependencies are this
 * repository's node_modules, linked in. Then, in that project: the public API
 * imports from "precept" (in Node and in TypeScript against the shipped .d.ts
 * files) and `npx precept --help` runs the installed bin.
 *
 * Building and packing take about 100 s under load, so this runs only with
 * PRECEPT_PACK_TEST=1: .ci/run runs it as its own step after `npm test`, with
 * PRECEPT_PACK_QUICKSTART=1, which also runs `precept quickstart --fast` from
 * the installed package (minutes).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const tmp = mkdtempSync(join(tmpdir(), "precept-pack-"));
const stage = join(tmp, "stage");
const app = join(tmp, "app");
const installed = join(app, "node_modules", "precept");
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")) as {
  version: string;
  dependencies: Record<string, string>;
  bin: Record<string, string>;
};

function run(command: string, args: string[], cwd: string, timeout = 240_000) {
  const r = spawnSync(command, args, { cwd, encoding: "utf8", timeout, env: { ...process.env, PRECEPT_THREADS: "1" } });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const enabled = process.env.PRECEPT_PACK_TEST === "1";

beforeAll(() => {
  if (!enabled) return;
  // What `npm pack` would take from this checkout, except dist/, which is built fresh into the stage.
  const listing = JSON.parse(execFileSync("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: ROOT, encoding: "utf8" })) as {
    files: { path: string }[];
  }[];
  for (const { path } of listing[0]?.files ?? []) {
    if (path.startsWith("dist/")) continue;
    mkdirSync(dirname(join(stage, path)), { recursive: true });
    cpSync(join(ROOT, path), join(stage, path));
  }
  execFileSync(
    process.execPath,
    [join(ROOT, "node_modules/typescript/bin/tsc"), "-p", "tsconfig.build.json", "--outDir", join(stage, "dist")],
    {
      cwd: ROOT,
    },
  );
  execFileSync("npm", ["pack", "--ignore-scripts", "--pack-destination", tmp], { cwd: stage, stdio: "ignore" });

  // `npm install precept-x.tgz` into an empty project: the package under node_modules/precept, its bin linked.
  mkdirSync(installed, { recursive: true });
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  execFileSync("tar", ["-xzf", join(tmp, `precept-${pkg.version}.tgz`), "-C", installed, "--strip-components", "1"]);
  for (const dep of [...Object.keys(pkg.dependencies), "typescript", "@types/node"]) {
    mkdirSync(dirname(join(app, "node_modules", dep)), { recursive: true });
    symlinkSync(join(ROOT, "node_modules", dep), join(app, "node_modules", dep));
  }
  mkdirSync(join(app, "node_modules", ".bin"), { recursive: true });
  for (const [name, path] of Object.entries(pkg.bin)) symlinkSync(join("..", "precept", path), join(app, "node_modules", ".bin", name));
}, 300_000);

describe.runIf(enabled)("npm pack, installed into an empty project (PRECEPT_PACK_TEST=1; .ci/run)", () => {
  it("ships the built API, the bin, the sandbox model and constitutions, and no tests or sources", () => {
    for (const path of [
      "dist/index.js",
      "dist/index.d.ts",
      "bin/precept.js",
      "models/sandbox-base/model.safetensors",
      "constitutions/sandbox.yaml",
    ])
      expect(existsSync(join(installed, path)), path).toBe(true);
    expect(existsSync(join(installed, "src"))).toBe(false);
    expect(existsSync(join(installed, "dist/recipes/quickstart.test.js"))).toBe(false);
  });

  it('imports the public API from "precept" in Node', () => {
    const names = [
      "trainDpo",
      "trainSft",
      "trainRewardModel",
      "trainPpo",
      "runRevise",
      "runLabel",
      "runRecipe",
      "quickstart",
      "openStore",
      "openProvider",
      "loadModel",
      "dpoConfigSchema",
      "cohensKappa",
      "SANDBOX_BASE",
    ];
    writeFileSync(
      join(app, "check.mjs"),
      `import * as precept from "precept";\nconst missing = ${JSON.stringify(names)}.filter((n) => precept[n] === undefined);\nif (missing.length) { console.error("missing: " + missing.join(", ")); process.exit(1); }\nconst { existsSync } = await import("node:fs");\nif (!existsSync(precept.SANDBOX_BASE + "/config.json")) { console.error("SANDBOX_BASE points outside the package: " + precept.SANDBOX_BASE); process.exit(1); }\nconsole.log(Object.keys(precept).length + " exports");\n`,
    );
    const r = run(process.execPath, ["check.mjs"], app);
    expect(r.code, r.err).toBe(0);
    console.log(`installed package: ${r.out.trim()}`);
    expect(Number.parseInt(r.out, 10)).toBeGreaterThan(200);
  });

  it("builds its native matmul addon where it is installed (what postinstall runs) and multiplies on OpenBLAS", () => {
    const build = run(process.execPath, [join(installed, "scripts", "build-native.mjs"), "--required"], app);
    expect(build.code, build.out + build.err).toBe(0);
    writeFileSync(
      join(app, "native.mjs"),
      `import { nativeMatmulStatus, numpy as np } from "precept/engine";\nconst filled = (n, v) => np.array(new Float32Array(n).fill(v));\nconst c = np.matmul(filled(64 * 128, 1).reshape([64, 128]), filled(128 * 96, 2).reshape([128, 96]));\nconst data = await c.data();\nconsole.log(JSON.stringify({ ...nativeMatmulStatus(), first: data[0] }));\n`,
    );
    const r = run(process.execPath, ["native.mjs"], app);
    expect(r.code, r.err).toBe(0);
    const status = JSON.parse(r.out.trim().split("\n").pop() as string);
    expect(status).toMatchObject({ active: true, calls: 1, first: 256 });
    expect(status.detail).toMatch(/OpenBLAS/);
  });

  it("type-checks a TypeScript program against the shipped .d.ts files", () => {
    writeFileSync(
      join(app, "main.ts"),
      `import { dpoConfigSchema, loadModel, openProvider, openStore, runRecipe, runRevise, trainDpo, type Store } from "precept";
const config = dpoConfigSchema.parse({ model_name_or_path: "m", train_file: "t.jsonl", output_dir: "out" });
const beta: number = config.beta;
export async function align(location: string): Promise<number> {
  const store: Store = await openStore(location);
  const model = await loadModel("m");
  void [runRecipe, runRevise, trainDpo, openProvider, model];
  await store.close();
  return beta;
}
`,
    );
    writeFileSync(
      join(app, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "NodeNext",
          moduleResolution: "NodeNext",
          target: "ES2022",
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ["node"],
        },
        files: ["main.ts"],
      }),
    );
    const r = run(process.execPath, [join(app, "node_modules/typescript/bin/tsc"), "-p", "."], app);
    expect(r.code, r.out + r.err).toBe(0);
  });

  it("runs `npx precept --help` from the installed bin", () => {
    const r = run("npx", ["--offline", "precept", "--help"], app);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain("Usage: precept");
    expect(r.out).toContain("quickstart");
  });

  it.runIf(process.env.PRECEPT_PACK_QUICKSTART === "1")(
    "runs `npx precept quickstart --fast` from the installed package",
    () => {
      const r = run("npx", ["--offline", "precept", "quickstart", "--fast", "--out", join(app, "qs")], app, 1_200_000);
      expect(r.code, r.err).toBe(0);
      const summary = JSON.parse(readFileSync(join(app, "qs", "summary.json"), "utf8"));
      expect(Object.keys(summary.stages)).toEqual(["base", "sl-cai", "rl-cai-ppo", "rl-cai-dpo", "ppo-kl0.001"]);
    },
    1_300_000,
  );
});
