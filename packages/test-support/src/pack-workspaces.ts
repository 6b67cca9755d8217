import { type ExecFileException, execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath } from "node:url";

/** The repository's root (where `npm pack --workspace` runs). */
export const REPO_ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** One tarball `npm pack` made, with the paths it holds (relative to the package's root). */
export interface PackedWorkspace {
  name: string;
  version: string;
  tarball: string;
  files: string[];
}

/**
 * The environment for a nested npm: the caller's (so `npm_config_cache` and the registry settings still apply and
 * the machine's cache helps), without what would point it at the repository's workspaces when the tests run
 * under `npm test` or `npm run … --workspace`.
 */
export function npmEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (
      /^npm_config_(workspaces?|include_workspace_root|local_prefix|global|omit|include|dry_run)$/i.test(
        key,
      ) ||
      /^npm_(package|lifecycle)_/i.test(key)
    ) {
      delete env[key];
    }
  }
  return env;
}

/** Runs npm; rejects with its command line, exit status and the end of its stderr. */
export function runNpm(
  args: readonly string[],
  options: { cwd: string; timeoutMs: number },
): Promise<{ stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    execFile(
      "npm",
      [...args],
      { cwd: options.cwd, env: npmEnv(), timeout: options.timeoutMs, maxBuffer: 256 * 1024 * 1024 },
      (error: ExecFileException | null, stdout, stderr) => {
        if (!error) return resolve({ stdout, stderr });
        const why = error.killed
          ? `timed out after ${options.timeoutMs / 1000} s`
          : `exited with ${error.code ?? error.signal}`;
        reject(
          new Error(
            `npm ${args.join(" ")} (in ${options.cwd}) ${why}:\n${stderr.slice(-4000) || stdout.slice(-4000)}`,
          ),
        );
      },
    );
  });
}

/**
 * Fails with a clear message when the npm registry cannot be reached (or does not have `spec`): the tests that
 * install packages need it, and must fail rather than skip without it.
 */
export async function requireRegistry(spec: string, timeoutMs = 120_000): Promise<void> {
  let registry = "the npm registry";
  try {
    registry = (await runNpm(["config", "get", "registry"], { cwd: tmpdir(), timeoutMs })).stdout.trim();
    const { stdout } = await runNpm(["view", spec, "version", "--json"], { cwd: tmpdir(), timeoutMs });
    if (!stdout.trim()) throw new Error(`no version of ${spec} there`);
  } catch (error) {
    throw new Error(
      `cannot reach ${registry} for ${spec}; this test installs packages from the npm registry and cannot run ` +
        `without it (check the network or the registry setting in .npmrc): ${(error as Error).message}`,
    );
  }
}

/**
 * `npm pack` of the given workspaces (paths from the repository root, e.g. "packages/contract") into
 * `destination`; runs each one's prepack (its build). Packs one at a time across processes (test files run in
 * parallel, and two builds of the same dist/ at once would trip over each other).
 */
export async function packWorkspaces(
  workspaces: readonly string[],
  destination: string,
  timeoutMs = 240_000,
): Promise<Map<string, PackedWorkspace>> {
  const args = ["pack", "--json", "--pack-destination", destination];
  for (const workspace of workspaces) args.push("--workspace", workspace);
  const { stdout } = await withLock(`sluice-pack-${hash(REPO_ROOT)}`, timeoutMs, () =>
    runNpm(args, { cwd: REPO_ROOT, timeoutMs }),
  );
  const packed = JSON.parse(stdout) as {
    name: string;
    version: string;
    filename: string;
    files: { path: string }[];
  }[];
  return new Map(
    packed.map((p) => [
      p.name,
      {
        name: p.name,
        version: p.version,
        tarball: join(destination, p.filename),
        files: p.files.map((f) => f.path).sort(),
      },
    ]),
  );
}

/**
 * A new project in `dir` (`"type": "module"`) with `specs` installed by one `npm install`: tarballs and registry
 * packages together, so the tarballs' exact-version dependencies on each other resolve to one another.
 */
export async function installScratchProject(
  dir: string,
  specs: readonly string[],
  options: { omitDev?: boolean; timeoutMs?: number } = {},
): Promise<void> {
  await writeFile(
    join(dir, "package.json"),
    `${JSON.stringify({ name: "sluice-scratch", version: "1.0.0", private: true, type: "module" }, null, 2)}\n`,
  );
  const args = ["install", "--no-audit", "--no-fund", "--save-exact", "--loglevel=error"];
  if (options.omitDev) args.push("--omit=dev");
  await runNpm([...args, ...specs], { cwd: dir, timeoutMs: options.timeoutMs ?? 300_000 });
}

interface NpmLsNode {
  version?: string;
  missing?: boolean;
  dependencies?: Record<string, NpmLsNode>;
}

/** Every package in `npm ls --all --json` output, each name with the versions found. */
export function packagesInTree(tree: NpmLsNode): Map<string, Set<string>> {
  const found = new Map<string, Set<string>>();
  const walk = (node: NpmLsNode) => {
    for (const [name, child] of Object.entries(node.dependencies ?? {})) {
      if (child.missing) continue;
      const versions = found.get(name) ?? new Set<string>();
      versions.add(child.version ?? "?");
      found.set(name, versions);
      walk(child);
    }
  };
  walk(tree);
  return found;
}

/** `npm ls --omit=dev --all --json` in `dir`, as packages and versions. */
export async function installedPackages(dir: string): Promise<Map<string, Set<string>>> {
  const { stdout } = await runNpm(["ls", "--omit=dev", "--all", "--json"], { cwd: dir, timeoutMs: 60_000 });
  return packagesInTree(JSON.parse(stdout) as NpmLsNode);
}

function hash(text: string): string {
  return createHash("sha256").update(text).digest("hex").slice(0, 12);
}

/** Runs `fn` holding a lock directory under the temp dir; a lock whose process is gone is taken over. */
async function withLock<T>(name: string, timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  const lock = join(tmpdir(), `${name}.lock`);
  const owner = join(lock, "pid");
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await mkdir(lock);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    }
    if (await isStale(lock, owner)) {
      await rm(lock, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${lock} (held by another npm pack)`);
    await sleep(200);
  }
  await writeFile(owner, String(process.pid));
  try {
    return await fn();
  } finally {
    await rm(lock, { recursive: true, force: true });
  }
}

async function isStale(lock: string, owner: string): Promise<boolean> {
  const pid = Number(await readFile(owner, "utf8").catch(() => ""));
  if (!pid) {
    // Created but no owner written yet: stale only if it stays that way.
    const created = await stat(lock).then(
      (s) => s.mtimeMs,
      () => Date.now(),
    );
    return Date.now() - created > 30_000;
  }
  try {
    process.kill(pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
}
