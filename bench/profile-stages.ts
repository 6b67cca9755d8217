/**
 * Where the time goes: each stage under `node --cpu-prof`, summarised as the top functions by self time.
 *
 * Stages: `sluice convert` of xlsx-inline, xlsx-shared and csv, and the local pipeline end to end (pipeline-bench.ts:
 * upload → convert → Distributed Map → SQS → a no-op admin server in its own process → summary; three profiles: the
 * runtime's main thread, where the emulator, the state machine and the Map run; its convert worker thread, where
 * the Convert Lambda runs, as when the pipeline runs from its sources (worker-lambda.ts); and the no-op admin
 * server's process, which fetches, checks and parses every chunk, reported a second time with only the samples
 * from its first chunk received to its last answered: the Map's time when the admin server bounds it).
 * `--cpu-prof` writes one profile per thread; each thread is reported on its own, the main thread first, and a
 * thread that cannot be told apart is still reported, by its thread id.
 *
 * The code profiled is an esbuild bundle of the sources as they are now (the CLI as scripts/build-cli.mjs bundles
 * it, plus a linked source map), written to bench/.data/profile/ beside a bundle of the convert worker, where the
 * runtime looks for it: a profile of tsx-transformed sources would name lines of the transformed code. Positions
 * are mapped back to the TypeScript sources through the source map.
 *
 *   npx tsx bench/profile-stages.ts [--sizes 1m] [--stages xlsx-inline,xlsx-shared,csv,pipeline] [--top 15]
 *
 * Prints markdown on stdout. Self % and total % are shares of all samples of the thread profiled (total: the
 * samples with the function anywhere on the stack, counted once per sample however deep it recurses).
 */
import { spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { originalPositionFor, TraceMap } from "@jridgewell/trace-mapping";
import { build } from "esbuild";
import { DATA_DIR, ensureWorkbooks, parseSize, sizeLabel, workbookPath } from "./generate-workbooks.ts";
import { type TimeWindow, within } from "./profile-window.ts";

const BENCH_DIR = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.dirname(BENCH_DIR);
const OUT = path.join(DATA_DIR, "profile");

const STAGES = ["xlsx-inline", "xlsx-shared", "csv", "pipeline"] as const;
type Stage = (typeof STAGES)[number];

const { values } = parseArgs({
  options: {
    sizes: { type: "string", default: "1m" },
    stages: { type: "string", default: STAGES.join(",") },
    top: { type: "string", default: "15" },
  },
});
const sizes = values.sizes.split(",").map(parseSize);
const stages = values.stages.split(",") as Stage[];
for (const s of stages) if (!STAGES.includes(s)) throw new Error(`unknown stage ${s}`);
const TOP = Number(values.top);

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  hitCount?: number;
  children?: number[];
}
interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  /** Microseconds from the previous sample (the first: from startTime). */
  timeDeltas: number[];
}

/**
 * The CLI, the pipeline benchmark, the convert worker and the no-op admin server, bundled with linked source maps
 * (external: what build-cli.mjs leaves out).
 */
async function bundle(): Promise<{ cli: string; pipeline: string; consumer: string; worker: string }> {
  rmSync(OUT, { recursive: true, force: true });
  mkdirSync(OUT, { recursive: true });
  const common = {
    bundle: true,
    platform: "node" as const,
    format: "esm" as const,
    target: "node20",
    sourcemap: "linked" as const,
    // Keep function names as written, for the profile.
    keepNames: true,
    external: ["aws-cdk-lib", "constructs", "aws-local-stepfunctions", "fauxqs", "exceljs"],
    banner: {
      js: "import { createRequire as __sluiceRequire } from 'node:module'; const require = __sluiceRequire(import.meta.url);",
    },
    logLevel: "warning" as const,
  };
  const cli = path.join(OUT, "cli.mjs");
  const pipeline = path.join(OUT, "pipeline-bench.mjs");
  await build({ ...common, entryPoints: [path.join(ROOT, "packages/cli/src/cli.ts")], outfile: cli });
  await build({ ...common, entryPoints: [path.join(BENCH_DIR, "pipeline-bench.ts")], outfile: pipeline });
  // Beside pipeline-bench.mjs, where locateConvertWorker() looks: without it the runtime would convert on its main
  // thread, which is not how the pipeline runs.
  const worker = path.join(OUT, "convert-worker.mjs");
  await build({
    ...common,
    entryPoints: [path.join(ROOT, "packages/runtime/src/convert-worker.ts")],
    outfile: worker,
  });
  const consumer = path.join(OUT, "noop-consumer.mjs");
  await build({
    ...common,
    entryPoints: [path.join(BENCH_DIR, "peers/noop-consumer.ts")],
    outfile: consumer,
  });
  return { cli, pipeline, consumer, worker };
}

/** One thread's profile, as `--cpu-prof` names its file: `CPU.<date>.<time>.<pid>.<threadId>.<seq>.cpuprofile`. */
interface ThreadProfile {
  file: string;
  /** 0: the main thread; undefined when the file name does not say. */
  threadId?: number;
  profile: CpuProfile;
}

/**
 * Every profile written in `from`, the main thread first, then the others by thread id (a process writes one per
 * thread: worker threads inherit `--cpu-prof`), then any whose name does not parse.
 */
function readProfiles(from: string): ThreadProfile[] {
  const found = readdirSync(from)
    .filter((f) => f.endsWith(".cpuprofile"))
    .map((file): ThreadProfile => {
      const threadId = /^CPU\.\d+\.\d+\.\d+\.(\d+)\.\d+\.cpuprofile$/.exec(file)?.[1];
      const profile = JSON.parse(readFileSync(path.join(from, file), "utf8")) as CpuProfile;
      return threadId === undefined ? { file, profile } : { file, threadId: Number(threadId), profile };
    });
  if (found.length === 0) throw new Error(`no .cpuprofile written in ${from}`);
  const order = (t: ThreadProfile) => t.threadId ?? Number.POSITIVE_INFINITY;
  return found.sort((a, b) => order(a) - order(b) || a.file.localeCompare(b.file));
}

interface Profiled {
  /** The process's threads, the main thread first. */
  threads: ThreadProfile[];
  seconds: number;
  /** The profiles a child of it wrote in `alsoIn`. */
  other?: ThreadProfile[];
}

/** `args` run under the profiler; `alsoIn`: a directory where a child of it writes a profile of its own. */
async function profiled(args: string[], env: NodeJS.ProcessEnv = {}, alsoIn?: string): Promise<Profiled> {
  const dir = await mkdtemp(path.join(tmpdir(), "sluice-cpuprof-"));
  try {
    const started = performance.now();
    const child = spawn(process.execPath, ["--cpu-prof", "--cpu-prof-dir", dir, ...args], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "ignore", "inherit"],
    });
    const [code] = (await once(child, "close")) as [number | null];
    const seconds = (performance.now() - started) / 1000;
    if (code !== 0) throw new Error(`${args.join(" ")} exited ${code}`);
    return { threads: readProfiles(dir), seconds, ...(alsoIn ? { other: readProfiles(alsoIn) } : {}) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Whether the thread ran `bundled` (its entry script: a worker's frames come from the file it was started with). */
const ran = (t: ThreadProfile, bundled: string): boolean => {
  const url = pathToFileURL(bundled).href;
  return t.profile.nodes.some((n) => n.callFrame.url === url);
};

/** A thread's name in a section title: what it is when known, its thread id (or file) otherwise. */
const threadLabel = (t: ThreadProfile): string =>
  t.threadId === undefined ? `profile ${t.file}` : t.threadId === 0 ? "main thread" : `thread ${t.threadId}`;

const maps = new Map<string, TraceMap | null>();
function traceMapFor(url: string): TraceMap | null {
  if (!maps.has(url)) {
    let map: TraceMap | null = null;
    if (url.startsWith("file://") && url.startsWith(pathToFileURL(OUT).href)) {
      try {
        const file = fileURLToPath(url);
        map = new TraceMap(readFileSync(`${file}.map`, "utf8"), pathToFileURL(file).href);
      } catch {
        map = null;
      }
    }
    maps.set(url, map);
  }
  return maps.get(url) ?? null;
}

const shortPath = (p: string): string => {
  const file = p.startsWith("file://") ? fileURLToPath(p) : p;
  const rel = path.isAbsolute(file) ? path.relative(ROOT, file) : file;
  return rel.replace(/^(\.\.\/)+/, "").replace(/^.*node_modules\//, "node_modules/");
};

/** Where a profile node's function is, in the TypeScript sources where the bundle's source map says so. */
function locate(frame: CallFrame): { name: string; where: string; file: string } {
  const name = frame.functionName || "(anonymous)";
  if (!frame.url) return { name, where: "", file: name.startsWith("(") ? name : "(native)" };
  const map = traceMapFor(frame.url);
  if (map) {
    const pos = originalPositionFor(map, { line: frame.lineNumber + 1, column: frame.columnNumber });
    if (pos.source) {
      const file = shortPath(pos.source);
      return {
        name: pos.name && name === "(anonymous)" ? pos.name : name,
        where: `${file}:${pos.line}`,
        file,
      };
    }
  }
  const file = shortPath(frame.url);
  return { name, where: `${file}:${frame.lineNumber + 1}`, file };
}

interface Row {
  name: string;
  where: string;
  self: number;
  total: number;
}

function summarise(profile: CpuProfile): { functions: Row[]; files: Row[]; samples: number } {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  // Hits per node from the samples (hitCount is not always filled in).
  const hits = new Map<number, number>();
  for (const id of profile.samples) hits.set(id, (hits.get(id) ?? 0) + 1);
  const located = new Map<number, ReturnType<typeof locate>>();
  const at = (id: number) => {
    let l = located.get(id);
    if (!l) {
      l = locate(byId.get(id)!.callFrame);
      located.set(id, l);
    }
    return l;
  };
  const functions = new Map<string, Row>();
  const files = new Map<string, Row>();
  const row = (m: Map<string, Row>, key: string, name: string, where: string) => {
    let r = m.get(key);
    if (!r) {
      r = { name, where, self: 0, total: 0 };
      m.set(key, r);
    }
    return r;
  };
  for (const [id, count] of hits) {
    const here = at(id);
    row(functions, `${here.name}@${here.where}`, here.name, here.where).self += count;
    row(files, here.file, here.file, "").self += count;
    const seenFunctions = new Set<string>();
    const seenFiles = new Set<string>();
    for (let n: number | undefined = id; n !== undefined; n = parent.get(n)) {
      const l = at(n);
      if (l.name === "(root)") continue;
      const key = `${l.name}@${l.where}`;
      if (!seenFunctions.has(key)) {
        seenFunctions.add(key);
        row(functions, key, l.name, l.where).total += count;
      }
      if (!seenFiles.has(l.file)) {
        seenFiles.add(l.file);
        row(files, l.file, l.file, "").total += count;
      }
    }
  }
  const bySelf = (m: Map<string, Row>) => [...m.values()].sort((a, b) => b.self - a.self);
  return { functions: bySelf(functions), files: bySelf(files), samples: profile.samples.length };
}

const pct = (n: number, of: number) => `${((100 * n) / of).toFixed(1)}%`;

/**
 * `thread`: for a thread other than the process's main one, which lives only part of the process's wall time.
 * `wall`: what `seconds` is (the process's wall time under the profiler unless said).
 */
function report(
  title: string,
  seconds: number,
  profile: CpuProfile,
  thread = false,
  wall = "wall under the profiler",
): string {
  const { functions, files, samples } = summarise(profile);
  // startTime and endTime are in microseconds.
  const lived = thread
    ? `, the thread ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s of it`
    : "";
  const lines = [
    `#### ${title}`,
    "",
    `${seconds.toFixed(1)} s ${wall}${lived}, ${samples.toLocaleString("en-US")} samples.`,
    "",
    "| function | file:line | self % | total % |",
    "|---|---|--:|--:|",
  ];
  for (const f of functions.slice(0, TOP))
    lines.push(`| \`${f.name}\` | ${f.where || "—"} | ${pct(f.self, samples)} | ${pct(f.total, samples)} |`);
  lines.push("", "By source file (self %):", "");
  lines.push(
    files
      .slice(0, 8)
      .map((f) => `${f.name} ${pct(f.self, samples)}`)
      .join(" · "),
    "",
  );
  return lines.join("\n");
}

/** The commit measured, and whether the sources differ from it (read-only git). */
function revision(): string {
  const git = (...args: string[]) => spawnSync("git", args, { cwd: ROOT, encoding: "utf8" }).stdout.trim();
  const commit = git("rev-parse", "--short", "HEAD") || "unknown commit";
  const dirty = git("status", "--porcelain", "--", "packages", "bench", "examples");
  return dirty ? `commit ${commit} plus uncommitted changes` : `commit ${commit}`;
}

const bundles = await bundle();
await ensureWorkbooks(sizes);
const out: string[] = [
  `### CPU profiles per stage (${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC, ${revision()}, Node ${process.version})`,
  "",
];
for (const size of sizes) {
  for (const stage of stages) {
    process.stderr.write(`profiling ${stage} ${sizeLabel(size)} … `);
    let result: Profiled;
    let delivery: TimeWindow | undefined;
    if (stage === "pipeline") {
      const consumerDir = await mkdtemp(path.join(tmpdir(), "sluice-cpuprof-consumer-"));
      // Outside the profile directory, which must hold profiles only.
      const windowFile = `${consumerDir}.window.json`;
      try {
        result = await profiled(
          [bundles.pipeline, "--sizes", sizeLabel(size).toLowerCase(), "--no-convert-alone"],
          {
            SLUICE_BENCH_DIR: BENCH_DIR,
            SLUICE_BENCH_CONSUMER: bundles.consumer,
            SLUICE_BENCH_CONSUMER_PROFILE_DIR: consumerDir,
            SLUICE_BENCH_CONSUMER_WINDOW_FILE: windowFile,
          },
          consumerDir,
        );
        // Absent when the admin server answered no chunk: then there is no window to report.
        if (existsSync(windowFile)) delivery = JSON.parse(readFileSync(windowFile, "utf8")) as TimeWindow;
      } finally {
        await rm(windowFile, { force: true });
        await rm(consumerDir, { recursive: true, force: true });
      }
    } else {
      const dir = await mkdtemp(path.join(tmpdir(), "sluice-prof-out-"));
      try {
        result = await profiled([bundles.cli, "convert", workbookPath(stage, size), "--out", dir]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    }
    process.stderr.write(`${result.seconds.toFixed(1)} s\n`);
    const rows = `${sizeLabel(size)} rows`;
    if (stage === "pipeline") {
      const title = `Local pipeline end to end, xlsx-inline, ${rows}`;
      const workers = result.threads.filter((t) => t.threadId !== 0 && ran(t, bundles.worker));
      // Without a profile of the convert worker the conversion ran on the main thread: not the pipeline as it runs.
      if (workers.length === 0) {
        process.stderr.write(
          "warning: no profile of the convert worker; the conversion ran on the main thread\n",
        );
        out.push(
          `Note: no profile of the convert worker (${path.relative(ROOT, bundles.worker)}); the conversion ran on the runtime's main thread, which is not how the pipeline runs.`,
          "",
        );
      }
      for (const t of result.threads) {
        const what =
          t.threadId === 0
            ? "the runtime's main thread: the emulator, the state machine, the Map"
            : workers.includes(t)
              ? `the convert worker thread: the Convert Lambda${workers.length > 1 ? `, thread ${t.threadId}` : ""}`
              : `the runtime's process, ${threadLabel(t)}`;
        out.push(report(`${title} (${what})`, result.seconds, t.profile, t.threadId !== 0));
      }
      for (const t of result.other ?? []) {
        const which = t.threadId === 0 ? "" : `, ${threadLabel(t)}`;
        out.push(
          report(
            `${title} (the no-op admin server's process${which}; idle while the workbook converts)`,
            result.seconds,
            t.profile,
            t.threadId !== 0,
          ),
        );
        // The same thread while it delivered: what bounds the Map when the admin server is its slowest part.
        if (t.threadId === 0 && delivery) {
          const seconds = (delivery.to - delivery.from) / 1e6;
          out.push(
            report(
              `${title} (the no-op admin server's main thread, only while it delivered: its first chunk received to its last answered)`,
              seconds,
              within(t.profile, delivery),
              false,
              "in that window",
            ),
          );
        }
      }
    } else {
      // One thread; any other a profile was written for is reported too, by its thread id, rather than dropped.
      for (const t of result.threads) {
        const which = t.threadId === 0 ? "" : ` (${threadLabel(t)})`;
        out.push(
          report(`sluice convert, ${stage}, ${rows}${which}`, result.seconds, t.profile, t.threadId !== 0),
        );
      }
    }
  }
}
process.stdout.write(`${out.join("\n")}\n`);
