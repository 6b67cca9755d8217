// `npm run fuzz -- --runs N [--seed S] [--large]`: the converter fuzzer (the property is in harness.ts) for long
// runs. The cases run in a child process watched from here, so a hang (no progress for WATCHDOG_MS) or a crash
// (out of memory: the child's heap is capped) is caught with the case that caused it. Every failure is saved as
// a fixture in packages/core/test/fixtures/fuzz/ and listed in fixtures.json with `expect: "TODO"`, which fails
// `npm test` until the bug is fixed and the expected outcome written down. Exit 0 when nothing was found.
import { type ChildProcess, fork } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { caseArbitrary, checkCase, type FuzzCase, loadSeeds, materialize, TIME_BOUND_MS } from "./harness.ts";

const FIXTURES = fileURLToPath(new URL("../fixtures/fuzz/", import.meta.url));
const WATCHDOG_MS = TIME_BOUND_MS * 3;
const HEAP_MB = 2048;

interface Args {
  runs: number;
  seed: number;
  large: boolean;
  child: string | undefined;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    runs: 1000,
    seed: Math.floor(Math.random() * 2 ** 31),
    large: false,
    child: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = Number(argv[++i]);
      if (!Number.isInteger(v) || v < 0) usage(`${flag} takes a non-negative integer`);
      return v;
    };
    if (flag === "--runs") args.runs = value();
    else if (flag === "--seed") args.seed = value();
    else if (flag === "--large") args.large = true;
    else if (flag === "--child") args.child = argv[++i];
    else usage(`unknown option ${flag}`);
  }
  return args;
}

function usage(message: string): never {
  console.error(`${message}\nusage: npm run fuzz -- [--runs N] [--seed S] [--large]`);
  process.exit(2);
}

type Message =
  | { type: "case"; n: number }
  | { type: "done"; stats: Record<string, number>; failure?: { message: string; counterexample: string } };

/** Saves a failing input as a fixture and lists it with `expect: "TODO"`. Returns its file name. */
function saveFixture(bytes: Buffer, ext: string, found: string): string {
  const name = `${createHash("sha256").update(bytes).digest("hex").slice(0, 12)}.${ext}`;
  writeFileSync(path.join(FIXTURES, name), bytes);
  const listFile = path.join(FIXTURES, "fixtures.json");
  const list = JSON.parse(readFileSync(listFile, "utf8")) as Record<
    string,
    { expect: string; found: string }
  >;
  list[name] = { expect: "TODO", found: found.slice(0, 300) };
  writeFileSync(listFile, `${JSON.stringify(list, null, 2)}\n`);
  return name;
}

const extOf = (name: string) => (name.endsWith(".csv") ? "csv" : name.endsWith(".xlsx") ? "xlsx" : "bin");

async function child(args: Args, current: string): Promise<void> {
  const seeds = loadSeeds({ large: args.large });
  const stats: Record<string, number> = {};
  let n = 0;
  const send = (m: Message) => process.send?.(m);
  const details = await fc.check(
    fc.asyncProperty(caseArbitrary(seeds), async (c: FuzzCase) => {
      const input = await materialize(c, seeds);
      // Written before the case runs, so the watchdog has it if the case never ends.
      writeFileSync(current, input.bytes);
      writeFileSync(`${current}.name`, input.name);
      send({ type: "case", n: ++n });
      const outcome = await checkCase(input);
      const key = `${c.kind} ${outcome.ok ? "rows" : outcome.code}`;
      stats[key] = (stats[key] ?? 0) + 1;
    }),
    { seed: args.seed, numRuns: args.runs },
  );
  if (!details.failed) {
    send({ type: "done", stats });
    return;
  }
  const counterexample = details.counterexample?.[0];
  const message = String((details.errorInstance as Error)?.message ?? details.errorInstance);
  let saved = "";
  if (counterexample) {
    const input = await materialize(counterexample, seeds);
    saved = saveFixture(input.bytes, extOf(input.name), message);
  }
  send({
    type: "done",
    stats,
    failure: { message: `${message}\nsaved as ${saved}`, counterexample: JSON.stringify(counterexample) },
  });
}

async function parent(args: Args): Promise<number> {
  const dir = mkdtempSync(path.join(tmpdir(), "sluice-fuzz-"));
  const current = path.join(dir, "current");
  const started = performance.now();
  console.error(
    `fuzzing: ${args.runs} runs, seed ${args.seed}${args.large ? ", with the large example" : ""}`,
  );
  const proc: ChildProcess = fork(
    fileURLToPath(import.meta.url),
    [...process.argv.slice(2), "--child", current],
    {
      execArgv: [...process.execArgv, `--max-old-space-size=${HEAP_MB}`],
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    },
  );
  let last = 0;
  let done: Extract<Message, { type: "done" }> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let hung = false;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      hung = true;
      proc.kill("SIGKILL");
    }, WATCHDOG_MS);
  };
  arm();
  proc.on("message", (m: Message) => {
    arm();
    if (m.type === "case") {
      last = m.n;
      if (m.n % 500 === 0)
        console.error(`  ${m.n} cases, ${((performance.now() - started) / 1000).toFixed(1)} s`);
    } else done = m;
  });
  const [code, signal] = (await new Promise((resolve) => proc.on("exit", (c, s) => resolve([c, s])))) as [
    number | null,
    NodeJS.Signals | null,
  ];
  clearTimeout(timer);
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  let status = 0;
  if (!done) {
    const what = hung
      ? `no progress for ${WATCHDOG_MS} ms (a hang)`
      : `the child died (exit ${code}, ${signal})`;
    let saved = "(none)";
    try {
      const name = readFileSync(`${current}.name`, "utf8");
      saved = saveFixture(readFileSync(current), extOf(name), `${what} on case ${last}`);
    } catch {
      // no case had started
    }
    console.error(`FAILED after ${last} cases in ${seconds} s: ${what}; the case is saved as ${saved}`);
    status = 1;
  } else {
    const lines = Object.entries(done.stats)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `  ${String(v).padStart(6)}  ${k}`);
    console.error(`outcomes by case kind:\n${lines.join("\n")}`);
    if (done.failure) {
      console.error(
        `FAILED (seed ${args.seed}) in ${seconds} s: ${done.failure.message}\ncounterexample: ${done.failure.counterexample.slice(0, 2000)}`,
      );
      status = 1;
    } else {
      console.error(`OK: ${args.runs} cases, seed ${args.seed}, nothing found, in ${seconds} s`);
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return status;
}

const args = parseArgs(process.argv.slice(2));
if (args.child) await child(args, args.child);
else process.exitCode = await parent(args);
