/**
 * Dataset files as people publish them: plain or gzipped (HH-RLHF ships
 * `train.jsonl.gz`). Reading streams line by line, so a large file is never
 * held in memory whole; gzip is recognized by its magic bytes, whatever the
 * name; a leading UTF-8 byte-order mark is dropped. Writing gzips when the name ends in `.gz`, through a temporary file
 * and a rename, so a reader never sees half a file.
 */
import { once } from "node:events";
import { closeSync, createReadStream, createWriteStream, openSync, readSync, renameSync, rmSync } from "node:fs";
import type { Readable, Writable } from "node:stream";
import { createGunzip, createGzip } from "node:zlib";

export class DatasetError extends Error {}

function isGzip(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT") throw new DatasetError(`${path}: no such file`);
    if (code === "EISDIR") throw new DatasetError(`${path}: is a directory; give a .jsonl or .jsonl.gz file`);
    throw error;
  }
  try {
    const head = Buffer.alloc(2);
    return readSync(fd, head, 0, 2, 0) === 2 && head[0] === 0x1f && head[1] === 0x8b;
  } finally {
    closeSync(fd);
  }
}

/** The lines of a text file, gzipped or not, with their 1-based numbers; a final `\r` is dropped (CRLF files). */
export async function* readLines(path: string): AsyncGenerator<{ text: string; line: number }> {
  const gzip = isGzip(path);
  const file = createReadStream(path);
  let source: Readable = file;
  if (gzip) {
    const gunzip = createGunzip();
    file.on("error", (error) => gunzip.destroy(error));
    source = file.pipe(gunzip);
  }
  source.setEncoding("utf8");
  let pending = "";
  let line = 0;
  try {
    for await (const chunk of source as AsyncIterable<string>) {
      pending += chunk;
      let start = 0;
      for (let end = pending.indexOf("\n"); end >= 0; end = pending.indexOf("\n", start)) {
        line++;
        yield { text: stripBom(stripCr(pending.slice(start, end)), line), line };
        start = end + 1;
      }
      pending = pending.slice(start);
    }
  } catch (error) {
    if (gzip && (error as NodeJS.ErrnoException).code?.startsWith("Z_")) {
      throw new DatasetError(`${path}:${line + 1}: the gzip data is damaged (${(error as Error).message}); download the file again`);
    }
    throw error;
  } finally {
    source.destroy();
  }
  if (pending !== "") yield { text: stripBom(stripCr(pending), line + 1), line: line + 1 };
}

/** A UTF-8 byte-order mark (what Windows editors write first) is not part of line 1's text. */
function stripBom(text: string, line: number): string {
  return line === 1 && text.startsWith("\uFEFF") ? text.slice(1) : text;
}

function stripCr(text: string): string {
  return text.endsWith("\r") ? text.slice(0, -1) : text;
}

/** A JSONL file written row by row (gzipped when `path` ends in `.gz`); `close` renames it into place, `abort` removes it. */
export class JsonlWriter {
  readonly path: string;
  private readonly temp: string;
  private readonly file: Writable;
  private readonly sink: Writable;

  constructor(path: string) {
    this.path = path;
    this.temp = `${path}.tmp-${process.pid}`;
    this.file = createWriteStream(this.temp);
    if (path.endsWith(".gz")) {
      const gzip = createGzip();
      gzip.pipe(this.file);
      this.sink = gzip;
    } else this.sink = this.file;
  }

  /** Writes one row; waits when the stream's buffer is full, so a large conversion keeps little in memory. */
  async write(row: unknown): Promise<void> {
    if (!this.sink.write(`${JSON.stringify(row)}\n`)) await once(this.sink, "drain");
  }

  async close(): Promise<void> {
    const finished = once(this.file, "close");
    this.sink.end();
    await finished;
    renameSync(this.temp, this.path);
  }

  abort(): void {
    this.sink.destroy();
    this.file.destroy();
    rmSync(this.temp, { force: true });
  }
}
