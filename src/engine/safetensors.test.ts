import { mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { openTensors, saveTensors } from "./checkpoint.js";
import { f16ToF32, f32ToBf16, f32ToF16, type HostTensor, SafetensorsFile, writeSafetensors } from "./safetensors.js";

const dir = mkdtempSync(join(tmpdir(), "precept-st-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fixtures = new URL("../../test/fixtures/engine/", import.meta.url);

function rawFile(name: string, header: object | string, data: Uint8Array = new Uint8Array(0)): string {
  const json = Buffer.from(typeof header === "string" ? header : JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  const path = join(dir, name);
  writeFileSync(path, Buffer.concat([length, json, data]));
  return path;
}

describe("safetensors round trip", () => {
  it("is bit-exact for F32, I32, I64, U8, and for F16/BF16 bit patterns", () => {
    const f32 = new Float32Array([0, -0, 1.5, -3.25e-7, 3.4e38, Number.NaN, Number.POSITIVE_INFINITY, 1 / 3]);
    const i64 = new BigInt64Array([0n, -1n, 2147483647n, -2147483648n]);
    const tensors: [string, HostTensor][] = [
      ["a.f32", { shape: [2, 4], data: f32 }],
      ["b.i32", { shape: [3], data: new Int32Array([-7, 0, 123456789]) }],
      ["c.i64", { shape: [2, 2], data: i64 }],
      ["d.u8", { shape: [2], data: new Uint8Array([0, 255]) }],
      ["e.f16bits", { dtype: "F16", shape: [3], data: new Uint16Array([0x3c00, 0x8001, 0x7bff]) }],
      ["f.scalar", { shape: [], data: new Float32Array([42]) }],
      ["g.empty", { shape: [0, 3], data: new Float32Array(0) }],
    ];
    const path = join(dir, "round.safetensors");
    writeSafetensors(path, tensors, { format: "pt", note: "round trip" });
    const file = SafetensorsFile.open(path);
    expect(file.metadata).toEqual({ format: "pt", note: "round trip" });
    expect(file.names()).toEqual(tensors.map(([n]) => n));
    expect(new Uint8Array(file.readFloat32("a.f32").buffer)).toEqual(new Uint8Array(f32.buffer));
    expect([...file.readInt32("b.i32")]).toEqual([-7, 0, 123456789]);
    expect(file.readBytes("c.i64")).toEqual(new Uint8Array(i64.buffer));
    expect([...file.readInt32("c.i64")]).toEqual([0, -1, 2147483647, -2147483648]);
    expect([...file.readInt32("d.u8")]).toEqual([0, 255]);
    expect(new Uint16Array(file.readBytes("e.f16bits").buffer)).toEqual(new Uint16Array([0x3c00, 0x8001, 0x7bff]));
    expect([...file.readFloat32("f.scalar")]).toEqual([42]);
    expect(file.readFloat32("g.empty").length).toBe(0);
    // The data section starts 8-byte aligned, as the reference writer lays it out.
    const headerLength = Number(readFileSync(path).readBigUInt64LE(0));
    expect((8 + headerLength) % 8).toBe(0);
    file.close();
  });

  it("F16 and BF16 conversions are exact on representable values and round to nearest even", () => {
    const values = new Float32Array([0, 1, -2.5, 65504, 2 ** -24, 0.1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, 1e6]);
    const halves = f16ToF32(f32ToF16(values));
    expect([...halves.slice(0, 5)]).toEqual([0, 1, -2.5, 65504, 2 ** -24]);
    expect(halves[5]).toBe(0.0999755859375); // nearest half to 0.1
    expect(halves[6]).toBe(1); // tie → even
    expect(halves[7]).toBe(1 + 2 * 2 ** -10); // tie → even (up)
    expect(halves[8]).toBe(Number.POSITIVE_INFINITY); // overflow
    const bf = f32ToBf16(new Float32Array([1, -3.140625, 1 + 2 ** -8]));
    expect([...bf]).toEqual([0x3f80, 0xc049, 0x3f80]);
  });
});

describe("files written by Python", () => {
  it("reads every dtype of a file written from the spec with numpy (tensors sorted by alignment)", () => {
    const expected = JSON.parse(readFileSync(new URL("python-written.json", fixtures), "utf8")) as Record<
      string,
      { shape: number[]; values: (number | string)[]; bits?: number[] }
    >;
    const file = SafetensorsFile.open(new URL("python-written.safetensors", fixtures).pathname);
    expect(file.metadata.format).toBe("pt");
    const toNumber = (v: number | string) => (v === "inf" ? Number.POSITIVE_INFINITY : v === "-inf" ? Number.NEGATIVE_INFINITY : Number(v));
    for (const name of ["weights.f32", "weights.f16", "weights.f64", "scalar", "empty"]) {
      const want = expected[name] as { shape: number[]; values: (number | string)[] };
      expect(file.info(name).shape).toEqual(want.shape);
      expect([...file.readFloat32(name, want.shape)]).toEqual(want.values.map((v) => Math.fround(toNumber(v))));
    }
    for (const name of ["ids.i64", "ids.i32"]) {
      const want = expected[name] as { shape: number[]; values: number[] };
      expect([...file.readInt32(name, want.shape)]).toEqual(want.values);
    }
    file.close();
    const bf16 = SafetensorsFile.open(new URL("python-bf16.safetensors", fixtures).pathname);
    expect([...bf16.readFloat32("x")]).toEqual(expected.bf16?.values.map((v) => Math.fround(Number(v))));
    bf16.close();
  });
});

describe("bad files name the file and the tensor", () => {
  const good = (): string => {
    const path = join(dir, "good.safetensors");
    writeSafetensors(path, [
      ["w", { shape: [4, 4], data: new Float32Array(16).fill(1) }],
      ["ids", { shape: [2], data: new Int32Array([1, 2]) }],
    ]);
    return path;
  };

  it("truncated in the data section", () => {
    const path = good();
    truncateSync(path, statSync(path).size - 3);
    expect(() => SafetensorsFile.open(path)).toThrow(new RegExp(`${path}: tensor "ids": offsets out of range.*truncated`));
  });

  it("truncated inside the header or the length", () => {
    const path = good();
    truncateSync(path, 20);
    expect(() => SafetensorsFile.open(path)).toThrow(new RegExp(`${path}: truncated: the header claims \\d+ bytes`));
    truncateSync(path, 5);
    expect(() => SafetensorsFile.open(path)).toThrow(/truncated: the file is 5 bytes/);
  });

  it("bad header JSON", () => {
    const path = rawFile("badjson.safetensors", '{"w": {"dtype": "F32", ');
    expect(() => SafetensorsFile.open(path)).toThrow(new RegExp(`${path}: bad header JSON`));
  });

  it("offsets that do not match dtype × shape", () => {
    const path = rawFile("mismatch.safetensors", { w: { dtype: "F32", shape: [2, 3], data_offsets: [0, 20] } }, new Uint8Array(24));
    expect(() => SafetensorsFile.open(path)).toThrow(
      /tensor "w": dtype\/shape mismatch: F32\[2, 3\] needs 24 bytes but data_offsets span 20/,
    );
  });

  it("unknown dtype and malformed offsets", () => {
    const a = rawFile("dtype.safetensors", { w: { dtype: "Q4", shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1));
    expect(() => SafetensorsFile.open(a)).toThrow(/tensor "w": unknown dtype "Q4"/);
    const b = rawFile("offsets.safetensors", { w: { dtype: "U8", shape: [1], data_offsets: [1, 0] } }, new Uint8Array(1));
    expect(() => SafetensorsFile.open(b)).toThrow(/tensor "w": data_offsets must be \[begin, end\]/);
  });

  it("a shape different from the one the caller expects", () => {
    const file = SafetensorsFile.open(good());
    expect(() => file.readFloat32("w", [4, 5])).toThrow(/tensor "w": shape mismatch: expected \[4, 5\], the file has \[4, 4\]/);
    expect(() => file.readFloat32("ids")).toThrow(/tensor "ids": expected a floating-point tensor/);
    expect(() => file.readFloat32("nope")).toThrow(/tensor "nope": no such tensor/);
    file.close();
  });

  it("an I64 value that does not fit int32", () => {
    const path = join(dir, "big.safetensors");
    writeSafetensors(path, [["ids", { shape: [1], data: new BigInt64Array([2n ** 40n]) }]]);
    const file = SafetensorsFile.open(path);
    expect(() => file.readInt32("ids")).toThrow(/tensor "ids": value 1099511627776 at index 0 does not fit in int32/);
    file.close();
  });
});

describe("sharded checkpoints", () => {
  const tensors: [string, HostTensor][] = Array.from({ length: 5 }, (_, i) => [
    `layers.${i}.weight`,
    { shape: [8, 8], data: Float32Array.from({ length: 64 }, (_, j) => i * 100 + j) },
  ]);

  it("splits at the shard size, writes an index in the HF layout, and reads back through it", () => {
    const out = join(dir, "sharded");
    const written = saveTensors(out, tensors, { maxShardBytes: 600 });
    expect(written.map((p) => p.slice(out.length + 1))).toEqual([
      "model-00001-of-00003.safetensors",
      "model-00002-of-00003.safetensors",
      "model-00003-of-00003.safetensors",
      "model.safetensors.index.json",
    ]);
    const index = JSON.parse(readFileSync(join(out, "model.safetensors.index.json"), "utf8"));
    expect(index.metadata.total_size).toBe(5 * 64 * 4);
    expect(index.weight_map["layers.4.weight"]).toBe("model-00003-of-00003.safetensors");
    const source = openTensors(out);
    expect(source.names()).toEqual(tensors.map(([n]) => n));
    for (const [name, tensor] of tensors) expect(source.readFloat32(name, [8, 8])).toEqual(tensor.data);
    source.close();
    // Saving again unsharded replaces the shards' index, so a loader never sees both layouts.
    saveTensors(out, tensors);
    expect(() => statSync(join(out, "model.safetensors.index.json"))).toThrow();
    expect(openTensors(out).readFloat32("layers.2.weight")).toEqual(tensors[2]?.[1].data);
  });

  it("a missing shard or a bad index is an error naming it", () => {
    const out = join(dir, "broken");
    saveTensors(out, tensors, { maxShardBytes: 600 });
    rmSync(join(out, "model-00002-of-00003.safetensors"));
    const source = openTensors(out);
    expect(() => source.readFloat32("layers.2.weight")).toThrow(
      /tensor "layers.2.weight": the index puts it in model-00002-of-00003.safetensors, which does not exist/,
    );
    writeFileSync(join(out, "model.safetensors.index.json"), "{ nope");
    expect(() => openTensors(out)).toThrow(/model.safetensors.index.json: bad JSON/);
    expect(() => openTensors(join(dir, "empty-dir-that-does-not-exist"))).toThrow(/no model.safetensors or model.safetensors.index.json/);
  });
});
