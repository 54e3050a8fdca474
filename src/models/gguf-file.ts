/**
 * The GGUF container (version 3), as llama.cpp reads it: a header, typed
 * key/value metadata, tensor descriptions, then each tensor's data at an
 * offset aligned to `general.alignment` (32 bytes). Little-endian throughout;
 * tensor dimensions are listed innermost first (ggml's `ne`), so a row-major
 * [rows, cols] array is written as [cols, rows].
 *
 * Only what the converter needs: scalar, string and array values, F32 and
 * F16 tensors. Data is written tensor by tensor, so a large model never sits
 * in memory twice.
 */
import { closeSync, openSync, readSync, writeSync } from "node:fs";
import { f32ToF16 } from "../engine/safetensors.js";

const MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const VERSION = 3;
export const GGUF_ALIGNMENT = 32;

/** GGUF value types. */
export enum GgufType {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
}

/** ggml tensor types this writer stores. */
export enum GgmlType {
  F32 = 0,
  F16 = 1,
}

export type GgufValue =
  | { type: GgufType.UINT32 | GgufType.INT32 | GgufType.FLOAT32 | GgufType.UINT64 | GgufType.BOOL; value: number | boolean }
  | { type: GgufType.STRING; value: string }
  | { type: GgufType.ARRAY; itemType: GgufType.STRING; value: readonly string[] }
  | { type: GgufType.ARRAY; itemType: GgufType.INT32 | GgufType.FLOAT32; value: ArrayLike<number> };

export const u32 = (value: number): GgufValue => ({ type: GgufType.UINT32, value });
export const f32 = (value: number): GgufValue => ({ type: GgufType.FLOAT32, value });
export const bool = (value: boolean): GgufValue => ({ type: GgufType.BOOL, value });
export const str = (value: string): GgufValue => ({ type: GgufType.STRING, value });
export const strings = (value: readonly string[]): GgufValue => ({ type: GgufType.ARRAY, itemType: GgufType.STRING, value });
export const i32s = (value: ArrayLike<number>): GgufValue => ({ type: GgufType.ARRAY, itemType: GgufType.INT32, value });
export const f32s = (value: ArrayLike<number>): GgufValue => ({ type: GgufType.ARRAY, itemType: GgufType.FLOAT32, value });

export type GgufTensor = {
  name: string;
  /** Row-major shape, outermost first (as in safetensors). */
  shape: readonly number[];
  type: GgmlType;
  /** Produces the float32 values when the tensor is written (so only one tensor is in memory at a time). */
  data: () => Float32Array;
};

/** Growable little-endian byte buffer for the header. */
class Bytes {
  #buf = Buffer.alloc(1 << 16);
  length = 0;
  #room(n: number): void {
    if (this.length + n <= this.#buf.length) return;
    const next = Buffer.alloc(Math.max(this.#buf.length * 2, this.length + n));
    this.#buf.copy(next, 0, 0, this.length);
    this.#buf = next;
  }
  u32(v: number): void {
    this.#room(4);
    this.#buf.writeUInt32LE(v >>> 0, this.length);
    this.length += 4;
  }
  i32(v: number): void {
    this.#room(4);
    this.#buf.writeInt32LE(v, this.length);
    this.length += 4;
  }
  u64(v: number): void {
    this.#room(8);
    this.#buf.writeBigUInt64LE(BigInt(v), this.length);
    this.length += 8;
  }
  f32(v: number): void {
    this.#room(4);
    this.#buf.writeFloatLE(v, this.length);
    this.length += 4;
  }
  u8(v: number): void {
    this.#room(1);
    this.#buf.writeUInt8(v, this.length);
    this.length += 1;
  }
  string(s: string): void {
    const bytes = Buffer.from(s, "utf8");
    this.u64(bytes.length);
    this.#room(bytes.length);
    bytes.copy(this.#buf, this.length);
    this.length += bytes.length;
  }
  pad(alignment: number): void {
    const n = (alignment - (this.length % alignment)) % alignment;
    this.#room(n);
    this.#buf.fill(0, this.length, this.length + n);
    this.length += n;
  }
  bytes(): Buffer {
    return this.#buf.subarray(0, this.length);
  }
}

function writeValue(out: Bytes, key: string, v: GgufValue): void {
  switch (v.type) {
    case GgufType.UINT32:
      out.u32(Number(v.value));
      return;
    case GgufType.INT32:
      out.i32(Number(v.value));
      return;
    case GgufType.FLOAT32:
      out.f32(Number(v.value));
      return;
    case GgufType.UINT64:
      out.u64(Number(v.value));
      return;
    case GgufType.BOOL:
      out.u8(v.value ? 1 : 0);
      return;
    case GgufType.STRING:
      out.string(v.value);
      return;
    case GgufType.ARRAY: {
      out.u32(v.itemType);
      out.u64(v.value.length);
      for (let i = 0; i < v.value.length; i++) {
        const item = v.value[i] as string | number;
        if (v.itemType === GgufType.STRING) out.string(item as string);
        else if (v.itemType === GgufType.INT32) out.i32(item as number);
        else out.f32(item as number);
      }
      return;
    }
    default:
      throw new Error(`GGUF metadata "${key}": unsupported value type`);
  }
}

const bytesPerElement = (type: GgmlType) => (type === GgmlType.F16 ? 2 : 4);

/** Writes a GGUF file at `path` (the caller renames it into place). */
export function writeGguf(path: string, metadata: ReadonlyMap<string, GgufValue>, tensors: readonly GgufTensor[]): void {
  const header = new Bytes();
  header.u32(MAGIC);
  header.u32(VERSION);
  header.u64(tensors.length);
  header.u64(metadata.size);
  for (const [key, value] of metadata) {
    header.string(key);
    header.u32(value.type);
    writeValue(header, key, value);
  }
  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    header.string(t.name);
    header.u32(t.shape.length);
    for (const d of [...t.shape].reverse()) header.u64(d);
    header.u32(t.type);
    header.u64(offset);
    offsets.push(offset);
    const size = t.shape.reduce((a, b) => a * b, 1) * bytesPerElement(t.type);
    offset += size + ((GGUF_ALIGNMENT - (size % GGUF_ALIGNMENT)) % GGUF_ALIGNMENT);
  }
  header.pad(GGUF_ALIGNMENT);
  const fd = openSync(path, "w");
  try {
    writeSync(fd, header.bytes());
    let position = header.length;
    tensors.forEach((t, i) => {
      const values = t.data();
      const count = t.shape.reduce((a, b) => a * b, 1);
      if (values.length !== count) throw new Error(`GGUF tensor ${t.name}: ${values.length} values for shape [${t.shape.join(", ")}]`);
      const typed = t.type === GgmlType.F16 ? f32ToF16(values) : values;
      const bytes = Buffer.from(typed.buffer, typed.byteOffset, typed.byteLength);
      const start = header.length + (offsets[i] as number);
      if (start > position) writeSync(fd, Buffer.alloc(start - position));
      writeSync(fd, bytes);
      position = start + bytes.length;
    });
    const end = header.length + offset;
    if (end > position) writeSync(fd, Buffer.alloc(end - position));
  } finally {
    closeSync(fd);
  }
}

/** Reads the metadata of a GGUF file (for tests and checks; tensor data is not read). */
export function readGgufMetadata(path: string): {
  metadata: Map<string, unknown>;
  tensors: { name: string; dims: number[]; type: number }[];
} {
  const fd = openSync(path, "r");
  let buf = Buffer.alloc(1 << 20);
  let loaded = readSync(fd, buf, 0, buf.length, 0);
  let at = 0;
  const need = (n: number) => {
    while (at + n > loaded) {
      const next = Buffer.alloc(buf.length * 2);
      buf.copy(next, 0, 0, loaded);
      const got = readSync(fd, next, loaded, next.length - loaded, loaded);
      if (got === 0) throw new Error(`${path}: truncated GGUF header`);
      buf = next;
      loaded += got;
    }
  };
  /** Advances past n bytes and returns where they start. */
  const take = (n: number): number => {
    need(n);
    at += n;
    return at - n;
  };
  const u32r = () => buf.readUInt32LE(take(4));
  const u64r = () => Number(buf.readBigUInt64LE(take(8)));
  const stringr = () => {
    const n = u64r();
    const start = take(n);
    return buf.toString("utf8", start, start + n);
  };
  const scalar = (type: number): unknown => {
    switch (type) {
      case GgufType.UINT8:
        return buf.readUInt8(take(1));
      case GgufType.INT8:
        return buf.readInt8(take(1));
      case GgufType.UINT16:
        return buf.readUInt16LE(take(2));
      case GgufType.INT16:
        return buf.readInt16LE(take(2));
      case GgufType.UINT32:
        return u32r();
      case GgufType.INT32:
        return buf.readInt32LE(take(4));
      case GgufType.FLOAT32:
        return buf.readFloatLE(take(4));
      case GgufType.BOOL:
        return buf.readUInt8(take(1)) !== 0;
      case GgufType.STRING:
        return stringr();
      case GgufType.UINT64:
        return u64r();
      case GgufType.INT64:
        return Number(buf.readBigInt64LE(take(8)));
      case GgufType.FLOAT64:
        return buf.readDoubleLE(take(8));
      case GgufType.ARRAY: {
        const itemType = u32r();
        const n = u64r();
        return Array.from({ length: n }, () => scalar(itemType));
      }
      default:
        throw new Error(`${path}: unknown GGUF value type ${type}`);
    }
  };
  try {
    if (u32r() !== MAGIC) throw new Error(`${path}: not a GGUF file`);
    const version = u32r();
    if (version !== VERSION) throw new Error(`${path}: GGUF version ${version}, expected ${VERSION}`);
    const tensorCount = u64r();
    const kvCount = u64r();
    const metadata = new Map<string, unknown>();
    for (let i = 0; i < kvCount; i++) {
      const key = stringr();
      metadata.set(key, scalar(u32r()));
    }
    const tensors = Array.from({ length: tensorCount }, () => {
      const name = stringr();
      const dims = Array.from({ length: u32r() }, () => u64r());
      const type = u32r();
      u64r(); // offset
      return { name, dims, type };
    });
    return { metadata, tensors };
  } finally {
    closeSync(fd);
  }
}
