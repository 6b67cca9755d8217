import { readFile } from "node:fs/promises";
import pg from "pg";

const SCHEMA_FILE = new URL("./schema.sql", import.meta.url);
/** Any constant: serialises migrate() across admin servers starting at the same time. */
const MIGRATION_LOCK = 0x51_1ce;

export function createPool(databaseUrl: string, max: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max,
    connectionTimeoutMillis: 10_000,
    idleTimeoutMillis: 30_000,
    application_name: "sluice-admin-server",
  });
  // An idle client losing its connection (database restart) must not crash the process; the pool replaces it.
  pool.on("error", (error) =>
    console.error(JSON.stringify({ level: "warn", msg: "idle pg client error", error: error.message })),
  );
  return pool;
}

/** Creates the tables if they are missing (src/schema.sql), one server at a time. */
export async function migrate(pool: pg.Pool): Promise<void> {
  const sql = await readFile(SCHEMA_FILE, "utf8");
  const client = await pool.connect();
  try {
    await client.query("select pg_advisory_lock($1)", [MIGRATION_LOCK]);
    try {
      await client.query(sql);
    } finally {
      await client.query("select pg_advisory_unlock($1)", [MIGRATION_LOCK]);
    }
  } finally {
    client.release();
  }
}
