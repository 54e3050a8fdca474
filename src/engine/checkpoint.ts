/**
 * Checkpoint files as Hugging Face lays them out: one `model.safetensors`, or
 * shards `model-00001-of-0000N.safetensors` listed in
 * `model.safetensors.index.json` (`{metadata: {total_size}, weight_map}`).
 * `TensorSource` hides which of the two a directory holds.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type HostTensor, SafetensorsError, SafetensorsFile, storedBytes, type TensorInfo, writeSafetensors } from "./safetensors.js";

export interface TensorSource {
  /** Where the tensors come from, for error messages. */
  readonly path: string;
  names(): string[];
  info(name: string): TensorInfo;
  /** Which file holds the tensor. */
  fileOf(name: string): string;
  readFloat32(name: string, expectShape?: number[]): Float32Array;
  readInt32(name: string, expectShape?: number[]): Int32Array;
  close(): void;
}

/** Default shard size of `save_pretrained` (5 GB). */
export const DEFAULT_MAX_SHARD_BYTES = 5 * 1000 ** 3;

class ShardedSource implements TensorSource {
  readonly #files = new Map<string, SafetensorsFile>();
  readonly #fileOf = new Map<string, string>();

  constructor(
    readonly path: string,
    private readonly dir: string,
    weightMap: Record<string, string>,
  ) {
    for (const [name, file] of Object.entries(weightMap)) this.#fileOf.set(name, file);
  }

  #file(name: string): SafetensorsFile {
    const shard = this.#fileOf.get(name);
    if (shard === undefined) throw new SafetensorsError(this.path, name, "not listed in the weight_map");
    let file = this.#files.get(shard);
    if (!file) {
      const shardPath = join(this.dir, shard);
      if (!existsSync(shardPath)) throw new SafetensorsError(this.path, name, `the index puts it in ${shard}, which does not exist`);
      file = SafetensorsFile.open(shardPath);
      this.#files.set(shard, file);
    }
    if (!file.tensors.has(name)) throw new SafetensorsError(file.path, name, `listed in ${this.path} but missing from the shard`);
    return file;
  }

  names(): string[] {
    return [...this.#fileOf.keys()];
  }
  info(name: string): TensorInfo {
    return this.#file(name).info(name);
  }
  fileOf(name: string): string {
    return this.#file(name).path;
  }
  readFloat32(name: string, expectShape?: number[]): Float32Array {
    return this.#file(name).readFloat32(name, expectShape);
  }
  readInt32(name: string, expectShape?: number[]): Int32Array {
    return this.#file(name).readInt32(name, expectShape);
  }
  close(): void {
    for (const file of this.#files.values()) file.close();
    this.#files.clear();
  }
}

class SingleSource implements TensorSource {
  constructor(readonly file: SafetensorsFile) {}
  get path(): string {
    return this.file.path;
  }
  names(): string[] {
    return this.file.names();
  }
  info(name: string): TensorInfo {
    return this.file.info(name);
  }
  fileOf(): string {
    return this.file.path;
  }
  readFloat32(name: string, expectShape?: number[]): Float32Array {
    return this.file.readFloat32(name, expectShape);
  }
  readInt32(name: string, expectShape?: number[]): Int32Array {
    return this.file.readInt32(name, expectShape);
  }
  close(): void {
    this.file.close();
  }
}

/**
 * Opens the weights in `dir`: `<base>.safetensors`, or the shards named by
 * `<base>.safetensors.index.json`. `base` is "model" for models and
 * "adapter_model" for PEFT adapters.
 */
export function openTensors(dir: string, base = "model"): TensorSource {
  const single = join(dir, `${base}.safetensors`);
  const index = join(dir, `${base}.safetensors.index.json`);
  if (existsSync(single)) return new SingleSource(SafetensorsFile.open(single));
  if (!existsSync(index)) {
    throw new Error(`${dir}: no ${base}.safetensors or ${base}.safetensors.index.json (is this a Hugging Face model directory?)`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(index, "utf8"));
  } catch (error) {
    throw new Error(`${index}: bad JSON: ${(error as Error).message}`);
  }
  const weightMap = (parsed as { weight_map?: unknown })?.weight_map;
  if (typeof weightMap !== "object" || weightMap === null || Array.isArray(weightMap)) {
    throw new Error(`${index}: "weight_map" must be an object of tensor name → shard file`);
  }
  for (const [name, file] of Object.entries(weightMap)) {
    if (typeof file !== "string" || file.includes("/") || file.includes("\\")) {
      throw new Error(`${index}: weight_map["${name}"] must be a file name in the same directory, got ${JSON.stringify(file)}`);
    }
  }
  return new ShardedSource(index, dir, weightMap as Record<string, string>);
}

/**
 * Writes tensors to `dir` as `<base>.safetensors`, or as shards plus an index
 * when they exceed `maxShardBytes`. Files from an earlier save with a
 * different layout are removed, so the directory never holds both.
 */
export function saveTensors(
  dir: string,
  tensors: [string, HostTensor][],
  options: { base?: string; maxShardBytes?: number; metadata?: Record<string, string> } = {},
): string[] {
  const base = options.base ?? "model";
  const maxShardBytes = options.maxShardBytes ?? DEFAULT_MAX_SHARD_BYTES;
  mkdirSync(dir, { recursive: true });
  const shards: [string, HostTensor][][] = [[]];
  let shardBytes = 0;
  let total = 0;
  for (const entry of tensors) {
    const bytes = storedBytes(entry[1]);
    const current = shards[shards.length - 1] as [string, HostTensor][];
    if (current.length > 0 && shardBytes + bytes > maxShardBytes) {
      shards.push([entry]);
      shardBytes = bytes;
    } else {
      current.push(entry);
      shardBytes += bytes;
    }
    total += bytes;
  }
  const single = join(dir, `${base}.safetensors`);
  const index = join(dir, `${base}.safetensors.index.json`);
  if (shards.length === 1) {
    writeSafetensors(single, shards[0] as [string, HostTensor][], options.metadata);
    rmSync(index, { force: true });
    return [single];
  }
  const count = String(shards.length).padStart(5, "0");
  const weightMap: Record<string, string> = {};
  const written: string[] = [];
  shards.forEach((shard, i) => {
    const file = `${base}-${String(i + 1).padStart(5, "0")}-of-${count}.safetensors`;
    writeSafetensors(join(dir, file), shard, options.metadata);
    for (const [name] of shard) weightMap[name] = file;
    written.push(join(dir, file));
  });
  writeJsonAtomic(index, { metadata: { total_size: total }, weight_map: weightMap });
  rmSync(single, { force: true });
  written.push(index);
  return written;
}

/** Writes `value` as pretty JSON to `path` through a temporary file and a rename, so readers never see half a file. */
export function writeJsonAtomic(path: string, value: unknown): void {
  const temp = `${path}.tmp-${process.pid}`;
  writeFileSync(temp, `${JSON.stringify(value, null, 2)}\n`);
  renameSync(temp, path);
}
