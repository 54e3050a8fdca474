/**
 * Opens a store location as a Kysely database: a SQLite file (better-sqlite3
 * 12: WAL mode so readers do not block the writer, a busy timeout so several
 * processes can share the file) or a PostgreSQL server (`pg`, a small pool).
 * What differs between the engines beyond SQL lives here: how errors about
 * the location are worded, and PostgreSQL handing JSONB and BIGINT back as
 * JSON text and numbers, the way SQLite does.
 */
import { Kysely, PostgresDialect, SqliteDialect } from "kysely";
import type { Tables } from "./schema.js";

export type Dialect = "sqlite" | "postgres";
export type Connection = {
  db: Kysely<Tables>;
  dialect: Dialect;
  /** An engine error → one that names the location and says what to do, where it is about the location itself. */
  describeError: (error: unknown) => unknown;
};

export const isPostgresUrl = (location: string) => /^postgres(ql)?:\/\//.test(location);

/** `postgres://…` / `postgresql://…` connects to PostgreSQL; anything else is a SQLite file path. */
export async function connect(location: string): Promise<Connection> {
  return isPostgresUrl(location) ? connectPostgres(location) : connectSqlite(location);
}

async function connectSqlite(path: string): Promise<Connection> {
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
  return {
    db: new Kysely<Tables>({ dialect: new SqliteDialect({ database }) }),
    dialect: "sqlite",
    describeError: (e) => fileError(e, path),
  };
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
  return { db: new Kysely<Tables>({ dialect: new PostgresDialect({ pool: connecting }) }), dialect: "postgres", describeError: (e) => e };
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
