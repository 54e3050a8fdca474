/**
 * The safetensors format (https://github.com/huggingface/safetensors), read and
 * written by hand: an 8-byte little-endian header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__: {...}}`,
 * then the raw tensor bytes (offsets count from the end of the header).
 *
 * Reading opens the file and reads the header only; each tensor is read on
 * demand with one positioned read straight into the typed array it is
 * returned in, so a large checkpoint is never held in memory twice.
 * Writing goes to a temporary file that is renamed into place when complete,
 * so a crash never leaves a half-written checkpoint under the final name.
 */
import { closeSync, fstatSync, fsyncSync, openSync, readSync, renameSync, rmSync, writeSync } from "node:fs";

export type SafetensorsDType = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

const BYTES: Record<SafetensorsDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

/** The spec caps the header at 100 MB; a larger length means a corrupt file. */
const MAX_HEADER_BYTES = 100_000_000;

export type TensorInfo = {
  dtype: SafetensorsDType;
  shape: number[];
  /** Byte range in the file (absolute, not relative to the data section). */
  begin: number;
  end: number;
};

export class SafetensorsError extends Error {
  constructor(
    readonly file: string,
    readonly tensor: string | null,
    problem: string,
  ) {
    super(`${file}${tensor ? `: tensor "${tensor}"` : ""}: ${problem}`);
    this.name = "SafetensorsError";
  }
}

function elementCount(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function isDType(value: unknown): value is SafetensorsDType {
  return typeof value === "string" && value in BYTES;
}

/** An open safetensors file: header parsed and checked, data read on demand. */
export class SafetensorsFile {
  readonly tensors = new Map<string, TensorInfo>();
  readonly metadata: Record<string, string> = {};
  #fd: number | null;

  private constructor(
    readonly path: string,
    fd: number,
  ) {
    this.#fd = fd;
  }

  static open(path: string): SafetensorsFile {
    const fd = openSync(path, "r");
    const file = new SafetensorsFile(path, fd);
    try {
      file.#parseHeader(fstatSync(fd).size);
    } catch (error) {
      file.close();
      throw error;
    }
    return file;
  }

  #parseHeader(fileSize: number): void {
    const fail = (problem: string, tensor: string | null = null) => new SafetensorsError(this.path, tensor, problem);
    if (fileSize < 8) throw fail(`truncated: the file is ${fileSize} bytes, shorter than the 8-byte header length`);
    const lengthBytes = Buffer.alloc(8);
    readSync(this.#fd as number, lengthBytes, 0, 8, 0);
    const headerLength = Number(lengthBytes.readBigUInt64LE(0));
    if (headerLength > MAX_HEADER_BYTES)
      throw fail(`header length ${headerLength} exceeds the 100 MB limit (not a safetensors file, or corrupt)`);
    if (8 + headerLength > fileSize) {
      throw fail(`truncated: the header claims ${headerLength} bytes but the file has only ${fileSize - 8} after the length`);
    }
    const headerBytes = Buffer.alloc(headerLength);
    readSync(this.#fd as number, headerBytes, 0, headerLength, 8);
    let header: unknown;
    try {
      header = JSON.parse(headerBytes.toString("utf8"));
    } catch (error) {
      throw fail(`bad header JSON: ${(error as Error).message}`);
    }
    if (typeof header !== "object" || header === null || Array.isArray(header)) throw fail("bad header JSON: expected an object");
    const dataStart = 8 + headerLength;
    const dataBytes = fileSize - dataStart;
    for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
      if (name === "__metadata__") {
        for (const [key, value] of Object.entries((entry ?? {}) as Record<string, unknown>)) {
          if (typeof value !== "string") throw fail(`__metadata__.${key} must be a string`);
          this.metadata[key] = value;
        }
        continue;
      }
      const { dtype, shape, data_offsets: offsets } = (entry ?? {}) as Record<string, unknown>;
      if (!isDType(dtype)) throw fail(`unknown dtype ${JSON.stringify(dtype)}`, name);
      if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
        throw fail(`shape must be a list of non-negative integers, got ${JSON.stringify(shape)}`, name);
      }
      if (
        !Array.isArray(offsets) ||
        offsets.length !== 2 ||
        !offsets.every((o) => Number.isInteger(o) && o >= 0) ||
        offsets[0] > offsets[1]
      ) {
        throw fail(`data_offsets must be [begin, end] with 0 ≤ begin ≤ end, got ${JSON.stringify(offsets)}`, name);
      }
      const [begin, end] = offsets as [number, number];
      const expected = elementCount(shape) * BYTES[dtype];
      if (end - begin !== expected) {
        throw fail(
          `dtype/shape mismatch: ${dtype}[${shape.join(", ")}] needs ${expected} bytes but data_offsets span ${end - begin}`,
          name,
        );
      }
      if (end > dataBytes) {
        throw fail(
          `offsets out of range: the tensor ends at byte ${end} of the data section, which holds only ${dataBytes} bytes (truncated file?)`,
          name,
        );
      }
      this.tensors.set(name, { dtype, shape, begin: dataStart + begin, end: dataStart + end });
    }
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  info(name: string): TensorInfo {
    const info = this.tensors.get(name);
    if (!info) throw new SafetensorsError(this.path, name, "no such tensor in this file");
    return info;
  }

  /** Reads a tensor's bytes into `target` (which must be exactly the tensor's size). */
  #readInto(name: string, target: Uint8Array): void {
    if (this.#fd === null) throw new SafetensorsError(this.path, name, "the file is closed");
    const { begin, end } = this.info(name);
    let done = 0;
    while (done < end - begin) {
      const n = readSync(this.#fd, target, done, end - begin - done, begin + done);
      if (n === 0) throw new SafetensorsError(this.path, name, "truncated: the file ended while reading the tensor");
      done += n;
    }
  }

  /** The raw bytes of a tensor, in a fresh buffer. */
  readBytes(name: string): Uint8Array {
    const { begin, end } = this.info(name);
    const bytes = new Uint8Array(end - begin);
    this.#readInto(name, bytes);
    return bytes;
  }

  /**
   * A floating-point tensor as float32 (F32 read in place; F16, BF16 and F64
   * converted). With `expectShape`, a different shape is an error naming the tensor.
   */
  readFloat32(name: string, expectShape?: number[]): Float32Array {
    const info = this.info(name);
    this.#checkShape(name, info, expectShape);
    const n = elementCount(info.shape);
    switch (info.dtype) {
      case "F32": {
        const out = new Float32Array(n);
        this.#readInto(name, new Uint8Array(out.buffer));
        return out;
      }
      case "F16": {
        const half = new Uint16Array(n);
        this.#readInto(name, new Uint8Array(half.buffer));
        return f16ToF32(half);
      }
      case "BF16": {
        const half = new Uint16Array(n);
        this.#readInto(name, new Uint8Array(half.buffer));
        return bf16ToF32(half);
      }
      case "F64": {
        const wide = new Float64Array(n);
        this.#readInto(name, new Uint8Array(wide.buffer));
        return Float32Array.from(wide);
      }
      default:
        throw new SafetensorsError(this.path, name, `expected a floating-point tensor (F32, F16, BF16, F64), got ${info.dtype}`);
    }
  }

  /** An integer tensor (I64, I32, I16, I8, U8, BOOL) as int32; I64 values outside int32 are an error. */
  readInt32(name: string, expectShape?: number[]): Int32Array {
    const info = this.info(name);
    this.#checkShape(name, info, expectShape);
    const n = elementCount(info.shape);
    const bytes = this.readBytes(name);
    switch (info.dtype) {
      case "I32":
        return new Int32Array(bytes.buffer, 0, n);
      case "I64": {
        const wide = new BigInt64Array(bytes.buffer, 0, n);
        const out = new Int32Array(n);
        for (let i = 0; i < n; i++) {
          const v = wide[i] as bigint;
          if (v > 2147483647n || v < -2147483648n)
            throw new SafetensorsError(this.path, name, `value ${v} at index ${i} does not fit in int32`);
          out[i] = Number(v);
        }
        return out;
      }
      case "I16":
        return Int32Array.from(new Int16Array(bytes.buffer, 0, n));
      case "I8":
        return Int32Array.from(new Int8Array(bytes.buffer, 0, n));
      case "U8":
      case "BOOL":
        return Int32Array.from(bytes);
      default:
        throw new SafetensorsError(this.path, name, `expected an integer tensor, got ${info.dtype}`);
    }
  }

  #checkShape(name: string, info: TensorInfo, expectShape?: number[]): void {
    if (expectShape && (expectShape.length !== info.shape.length || expectShape.some((d, i) => d !== info.shape[i]))) {
      throw new SafetensorsError(
        this.path,
        name,
        `shape mismatch: expected [${expectShape.join(", ")}], the file has [${info.shape.join(", ")}]`,
      );
    }
  }

  close(): void {
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }
}

/** A tensor to write: float data may be stored as F32, F16 or BF16; integer data as I32 or I64. */
export type HostTensor = {
  dtype?: SafetensorsDType;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | BigInt64Array | Uint8Array | Uint16Array;
};

function encode(name: string, tensor: HostTensor): { dtype: SafetensorsDType; bytes: Uint8Array } {
  const { data, shape } = tensor;
  const dtype: SafetensorsDType = tensor.dtype ?? defaultDType(data);
  if (data.length !== elementCount(shape)) {
    throw new Error(`safetensors: tensor "${name}" has ${data.length} values but shape [${shape.join(", ")}] needs ${elementCount(shape)}`);
  }
  const view = (a: ArrayBufferView) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  const kind = data.constructor.name;
  const floats = kind === "Float32Array" || kind === "Float64Array";
  if (floats && dtype === "F32")
    return { dtype, bytes: view(data instanceof Float32Array ? data : Float32Array.from(data as Float64Array)) };
  if (floats && dtype === "F64")
    return { dtype, bytes: view(data instanceof Float64Array ? data : Float64Array.from(data as Float32Array)) };
  if (floats && dtype === "F16") return { dtype, bytes: view(f32ToF16(Float32Array.from(data as Float32Array))) };
  if (floats && dtype === "BF16") return { dtype, bytes: view(f32ToBf16(Float32Array.from(data as Float32Array))) };
  if (data instanceof Int32Array && dtype === "I32") return { dtype, bytes: view(data) };
  if (data instanceof Int32Array && dtype === "I64") return { dtype, bytes: view(BigInt64Array.from(data, (v) => BigInt(v))) };
  if (data instanceof BigInt64Array && dtype === "I64") return { dtype, bytes: view(data) };
  if (data instanceof Uint8Array && (dtype === "U8" || dtype === "BOOL")) return { dtype, bytes: data };
  if (data instanceof Uint16Array && (dtype === "F16" || dtype === "BF16")) return { dtype, bytes: view(data) };
  throw new Error(`safetensors: tensor "${name}": cannot store ${kind} as ${dtype}`);
}

function defaultDType(data: HostTensor["data"]): SafetensorsDType {
  if (data instanceof Float32Array) return "F32";
  if (data instanceof Float64Array) return "F64";
  if (data instanceof Int32Array) return "I32";
  if (data instanceof BigInt64Array) return "I64";
  if (data instanceof Uint8Array) return "U8";
  return "F16";
}

/** Size in bytes that `tensor` takes in a file. */
export function storedBytes(tensor: HostTensor): number {
  return elementCount(tensor.shape) * BYTES[tensor.dtype ?? defaultDType(tensor.data)];
}

/**
 * Writes tensors (in the given order) to `path` atomically. `metadata`
 * defaults to `{format: "pt"}`, which `transformers` requires to load a file.
 */
export function writeSafetensors(
  path: string,
  tensors: Iterable<[string, HostTensor]>,
  metadata: Record<string, string> = { format: "pt" },
): void {
  const encoded: [string, SafetensorsDType, number[], Uint8Array][] = [];
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, tensor] of tensors) {
    if (name in header) throw new Error(`safetensors: duplicate tensor name "${name}"`);
    const { dtype, bytes } = encode(name, tensor);
    header[name] = { dtype, shape: tensor.shape, data_offsets: [offset, offset + bytes.byteLength] };
    encoded.push([name, dtype, tensor.shape, bytes]);
    offset += bytes.byteLength;
  }
  let json = JSON.stringify(header);
  // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
  json += " ".repeat((8 - ((Buffer.byteLength(json) + 8) % 8)) % 8);
  const headerBytes = Buffer.from(json, "utf8");
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(headerBytes.byteLength));

  const temp = `${path}.tmp-${process.pid}`;
  const fd = openSync(temp, "w");
  try {
    writeAll(fd, length);
    writeAll(fd, headerBytes);
    for (const [, , , bytes] of encoded) writeAll(fd, bytes);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temp, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(temp, path);
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.byteLength) done += writeSync(fd, bytes, done, bytes.byteLength - done);
}

let f16Table: Float32Array | null = null;

/** IEEE half → float32, through a 65536-entry table built on first use. */
export function f16ToF32(half: Uint16Array): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) {
      const sign = h & 0x8000 ? -1 : 1;
      const exponent = (h >> 10) & 0x1f;
      const mantissa = h & 0x3ff;
      if (exponent === 0) f16Table[h] = sign * 2 ** -14 * (mantissa / 1024);
      else if (exponent === 31) f16Table[h] = mantissa ? Number.NaN : sign * Number.POSITIVE_INFINITY;
      else f16Table[h] = sign * 2 ** (exponent - 15) * (1 + mantissa / 1024);
    }
  }
  const out = new Float32Array(half.length);
  for (let i = 0; i < half.length; i++) out[i] = f16Table[half[i] as number] as number;
  return out;
}

/** bfloat16 is the top half of a float32. */
export function bf16ToF32(half: Uint16Array): Float32Array {
  const bits = new Uint32Array(half.length);
  for (let i = 0; i < half.length; i++) bits[i] = (half[i] as number) << 16;
  return new Float32Array(bits.buffer);
}

/** float32 → bfloat16 with round-to-nearest-even (NaN kept NaN). */
export function f32ToBf16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const b = bits[i] as number;
    if ((b & 0x7fffffff) > 0x7f800000) out[i] = (b >>> 16) | 0x40;
    else out[i] = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16;
  }
  return out;
}

/** float32 → IEEE half with round-to-nearest-even, overflow to ±Inf, subnormals kept. */
export function f32ToF16(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const b = bits[i] as number;
    const sign = (b >>> 16) & 0x8000;
    const exponent = (b >>> 23) & 0xff;
    let mantissa = b & 0x7fffff;
    if (exponent === 0xff) {
      out[i] = sign | 0x7c00 | (mantissa ? 0x200 : 0);
      continue;
    }
    const e = exponent - 127 + 15;
    if (e >= 31) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mantissa |= 0x800000;
      const shift = 14 - e;
      const half = mantissa >>> shift;
      const rest = mantissa & ((1 << shift) - 1);
      const halfway = 1 << (shift - 1);
      out[i] = sign | (half + (rest > halfway || (rest === halfway && half & 1) ? 1 : 0));
      continue;
    }
    const half = (e << 10) | (mantissa >>> 13);
    const rest = mantissa & 0x1fff;
    out[i] = sign | (half + (rest > 0x1000 || (rest === 0x1000 && half & 1) ? 1 : 0));
  }
  return out;
}
