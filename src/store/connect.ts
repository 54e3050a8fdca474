/**
 * Opens a store location as a Kysely database: a SQLite file (better-sqlite3
 * 12: WAL mode so readers do not block the writer, a busy timeout so several
 * processes can share the file) or a PostgreSQL server (`pg`, a small pool).
 * What differs between the engines beyond SQL lives here: how errors about
 * the location are worded, PostgreSQL handing JSONB and BIGINT back as JSON
 * text and numbers, the way SQLite does, and one SQLite connection per file
 * in a process (see `connectSqlite`).
 */
import { resolve } from "node:path";
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import type { Tables } from "./schema.js";

export type Dialect = "sqlite" | "postgres";
export type Connection = {
  db: Kysely<Tables>;
  dialect: Dialect;
  /** An engine error → one that names the location and says what to do, where it is about the location itself. */
  describeError: (error: unknown) => unknown;
  /** Lets go of the database (closed when its last user lets go); a second call does nothing. */
  close: () => Promise<void>;
};

export const isPostgresUrl = (location: string) => /^postgres(ql)?:\/\//.test(location);

/** `postgres://…` / `postgresql://…` connects to PostgreSQL; anything else is a SQLite file path. */
export async function connect(location: string): Promise<Connection> {
  return isPostgresUrl(location) ? connectPostgres(location) : connectSqlite(location);
}

/** The SQLite files open in this process, each with one connection and a count of the stores using it. */
const openFiles = new Map<string, { db: Promise<Kysely<Tables>>; users: number }>();

/**
 * Stores of one file in one process share its connection, so their queries take turns (Kysely queues them).
 * With a connection each, one store waiting for the file's write lock would block the thread in
 * better-sqlite3's busy wait while the other, holding the lock across an `await` of its transaction, could
 * never finish: "database is locked" after the 10 s timeout. Other processes wait on their own threads.
 */
async function connectSqlite(path: string): Promise<Connection> {
  const key = path === ":memory:" || path === "" ? null : resolve(path);
  let file = key ? openFiles.get(key) : undefined;
  if (!file) {
    file = { db: openSqlite(path), users: 0 };
    if (key) {
      openFiles.set(key, file);
      file.db.catch(() => openFiles.delete(key));
    }
  }
  file.users++;
  const db = await file.db;
  let closed = false;
  const shared = file;
  return {
    db,
    dialect: "sqlite",
    describeError: (e) => fileError(e, path),
    close: async () => {
      if (closed) return;
      closed = true;
      if (--shared.users > 0) return;
      if (key && openFiles.get(key) === shared) openFiles.delete(key);
      await db.destroy();
    },
  };
}

async function openSqlite(path: string): Promise<Kysely<Tables>> {
  const { default: Database } = await import("better-sqlite3");
  let database: InstanceType<typeof Database>;
  try {
    database = new Database(path);
  } catch (error) {
    throw new Error(`cannot open the SQLite store ${path}: ${(error as Error).message}`);
  }
  try {
    database.pragma("journal_mode = WAL");
    database.pragma("busy_timeout = 10000");
    database.pragma("synchronous = NORMAL");
  } catch (error) {
    database.close();
    throw fileError(error, path);
  }
  return new Kysely<Tables>({ dialect: new SqliteDialect({ database }) });
}

const INT8 = 20;
const JSON_OID = 114;
const JSONB = 3802;

async function connectPostgres(url: string): Promise<Connection> {
  const { default: pg } = await import("pg");
  const pool = new pg.Pool({
    connectionString: url,
    max: 4,
    types: {
      getTypeParser: ((oid: number, format?: string) => {
        if (oid === JSONB || oid === JSON_OID) return (text: string) => text;
        if (oid === INT8) return Number; // ids, timestamps in ms and COUNT(*) are far below 2^53
        return pg.types.getTypeParser(oid, format as "text");
      }) as typeof pg.types.getTypeParser,
    },
  });
  // An idle client's error (e.g. the server restarting) must not crash the process; the next query reports it.
  pool.on("error", () => {});
  const connecting = {
    connect: () =>
      pool.connect().catch((error: Error) => {
        throw new Error(`cannot connect to the PostgreSQL store ${redact(url)}: ${error.message}`);
      }),
    end: () => pool.end(),
  };
  const db = new Kysely<Tables>({ dialect: new PostgresDialect({ pool: connecting }) });
  let closed: Promise<void> | undefined;
  return { db, dialect: "postgres", describeError: (e) => e, close: () => (closed ??= db.destroy()) };
}

/** A connection URL without its password, for messages. */
function redact(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@]*@/, "//$1:***@");
}

/** An SQLite error about the file itself (read-only, damaged, not a database, disk full) → one that names the file and says what to do. */
export function fileError(error: unknown, path: string): unknown {
  const code = String((error as { code?: unknown } | null)?.code ?? "");
  const message = (error as Error)?.message ?? String(error);
  if (code.startsWith("SQLITE_READONLY"))
    return new Error(`the SQLite store ${path} is read-only (${message}): make it writable, or give another file with --db`);
  if (code === "SQLITE_NOTADB" || code.startsWith("SQLITE_CORRUPT"))
    return new Error(
      `the SQLite store ${path} is damaged or not an SQLite database (${message}): restore it from a backup, or give another file with --db`,
    );
  if (code.startsWith("SQLITE_IOERR") || code.startsWith("SQLITE_CANTOPEN") || code === "SQLITE_FULL" || code === "SQLITE_PERM")
    return new Error(`the SQLite store ${path}: ${message}`);
  return error;
}
