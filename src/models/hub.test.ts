/** `hf:` ids: what is a valid repo id and revision, and that neither can reach outside the Hugging Face cache. */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseHubId, resolveHubModel } from "./hub.js";

const tmp = mkdtempSync(join(tmpdir(), "precept-hub-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe("hf: model ids", () => {
  it("accept Hub repo ids with branches, tags, PR refs and commit hashes", () => {
    expect(parseHubId("hf:Qwen/Qwen2.5-0.5B-Instruct")).toEqual({ repo: "Qwen/Qwen2.5-0.5B-Instruct", revision: "main" });
    expect(parseHubId("hf:openai-community/gpt2@v1.0_rc")).toEqual({ repo: "openai-community/gpt2", revision: "v1.0_rc" });
    expect(parseHubId("hf:a/b@refs/pr/12").revision).toBe("refs/pr/12");
    const commit = "0123456789abcdef0123456789abcdef01234567";
    expect(parseHubId(`hf:a/b@${commit}`).revision).toBe(commit);
  });

  it("refuse revisions and names that climb out of the cache, naming what is wrong", () => {
    for (const id of [
      "hf:a/b@../../../../tmp/x",
      "hf:a/b@main/../../x",
      "hf:a/b@.hidden",
      "hf:a/b@main/",
      "hf:a/b@/etc/passwd",
      "hf:a/b@main.lock",
      "hf:a/b@main\\..\\x",
    ])
      expect(() => parseHubId(id), id).toThrow(/revision .* must be a commit hash or a branch or tag name/);
    for (const id of ["hf:../b", "hf:a/..", "hf:.a/b", "hf:a/b-", "hf:a--x/b", "hf:a/b/c"])
      expect(() => parseHubId(id), id).toThrow(/bad model id/);
  });

  it("a ../ revision does not load a model from outside the cache (it used to)", async () => {
    // A cache whose ref, reached through "../", points at a "snapshot" outside it.
    const cache = join(tmp, "cache");
    mkdirSync(join(cache, "models--a--b", "refs"), { recursive: true });
    const outside = join(tmp, "outside");
    mkdirSync(outside);
    writeFileSync(join(outside, "config.json"), "{}");
    writeFileSync(join(tmp, "evil-ref"), "../../../outside");
    const before = process.env.HF_HUB_OFFLINE;
    process.env.HF_HUB_OFFLINE = "1";
    try {
      await expect(resolveHubModel("hf:a/b@../../../evil-ref", cache)).rejects.toThrow(/revision "..\/..\/..\/evil-ref" must be/);
    } finally {
      if (before === undefined) delete process.env.HF_HUB_OFFLINE;
      else process.env.HF_HUB_OFFLINE = before;
    }
  });
});
