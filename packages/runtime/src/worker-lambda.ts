/**
 * The convert Lambda run in a worker thread, as AWS runs a Lambda in a sandbox of its own: the runtime's main
 * thread (the emulator answering the handler's S3 requests, storing and hashing what it writes; the Step Functions
 * interpreter; the Map) no longer shares one event loop with the conversion, so on a machine with two cores the
 * two overlap instead of taking turns. The handler reaches the bucket over the emulator's HTTP endpoint, as it
 * reaches S3 in AWS.
 */
import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { extname } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Worker } from "node:worker_threads";
import type { LocalClientConfig } from "./emulator.ts";

/** What the worker needs to build the convert handler (everything else is in the event). */
export interface ConvertWorkerData {
  clientConfig: LocalClientConfig;
  bucketName: string;
  processedPrefix: string;
  chunkRows: number;
  chunkBytes: number;
  logLevel: "SILENT" | "DEBUG" | "INFO";
}

export interface WorkerRequest {
  id: number;
  event: unknown;
}

/** A Lambda error as it crosses the thread boundary (Step Functions sees its name, message and trace). */
export interface WorkerError {
  name: string;
  message: string;
  stack?: string;
}

/** An invocation's outcome, or `loaded`: the worker's modules are loaded and its handler built (sent once). */
export type WorkerReply =
  | { id: number; output: unknown }
  | { id: number; error: WorkerError }
  | { loaded: true };

/** How to start the worker from where this module runs: its sources (through tsx) or a bundle beside it. */
export interface WorkerEntry {
  url: URL;
  /** Running from TypeScript sources: the tsx loader to register in the worker, and the tsconfig it reads. */
  tsx?: { api: string; tsconfig: string };
}

const here = import.meta.url;

interface TsxManifest {
  exports: { "./esm/api": { import: { default: string } } };
}

/**
 * Where the worker's code is: `convert-worker.ts` beside this file when it runs from the sources (loaded through
 * tsx, with the repository's tsconfig for its `paths`), or `convert-worker.<ext>` beside the bundle chunk this
 * module was bundled into. Undefined when there is none (a bundle built without that entry point): the caller
 * then runs the handler in its own thread.
 */
export function locateConvertWorker(from: string = here): WorkerEntry | undefined {
  const ext = extname(fileURLToPath(from));
  const url = new URL(`./convert-worker${ext}`, from);
  if (!existsSync(url)) return undefined;
  if (ext !== ".ts") return { url };
  try {
    // tsx's ESM API (its `import` export), which a worker without tsx's loader can import.
    const manifest = createRequire(from).resolve("tsx/package.json");
    const exported = (JSON.parse(readFileSync(manifest, "utf8")) as TsxManifest).exports["./esm/api"].import
      .default;
    const api = new URL(exported, pathToFileURL(manifest)).href;
    const tsconfig = fileURLToPath(new URL("../../../tsconfig.json", from));
    return existsSync(tsconfig) ? { url, tsx: { api, tsconfig } } : undefined;
  } catch {
    return undefined;
  }
}

/** Registers tsx in the worker, then loads the worker's TypeScript entry. */
const TSX_BOOT = `import { workerData } from "node:worker_threads";
const { register } = await import(workerData.tsx.api);
register({ tsconfig: workerData.tsx.tsconfig });
await import(workerData.entry);`;

interface Pending {
  resolve: (output: unknown) => void;
  reject: (error: Error) => void;
}

/** One execution environment: a worker thread and the invocation it runs, if any. */
interface Environment {
  worker: Worker;
  /** Settles when the worker has loaded its modules, or has ended without (then an invocation reports why). */
  loaded: Promise<void>;
  /** The invocation it runs (one at a time, as Lambda runs one request per environment). */
  running?: { id: number; pending: Pending };
  /** Ends an idle environment that is not the last one (see `idleMs`). */
  reaper?: NodeJS.Timeout;
}

/**
 * The function's execution environments, one worker thread each, as Lambda runs them: an invocation takes an idle
 * environment (warm) or starts a new one, and runs alone in it ("For each concurrent request, Lambda provisions a
 * separate instance of your execution environment"). How many run at once is the caller's to bound (the local
 * runtime throttles past its concurrency, as Lambda does). An environment left idle beside another idle one ends
 * after `idleMs`, so a burst of uploads does not keep a thread and its heap for each; one stays warm. A worker
 * that dies (an uncaught error, exit) fails the invocation it was running, as Lambda replaces an environment whose
 * runtime exited.
 */
export class WorkerLambda {
  readonly #environments = new Set<Environment>();
  #nextId = 0;
  #closed = false;

  constructor(
    private readonly entry: WorkerEntry,
    private readonly data: ConvertWorkerData,
    private readonly idleMs = 60_000,
  ) {}

  /** Environments started and not ended (idle or running). */
  get environments(): number {
    return this.#environments.size;
  }

  /**
   * Starts an environment now, so the first invocation does not wait for its modules to load. Resolves when one
   * has loaded them (or has ended without: the next invocation then starts another and reports its error).
   */
  warm(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    const environment = this.#environments.values().next().value ?? this.#start();
    return environment.loaded;
  }

  invoke(event: unknown): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error("the local runtime stopped"));
    let environment: Environment | undefined;
    for (const candidate of this.#environments) if (!candidate.running) environment = candidate;
    environment ??= this.#start();
    clearTimeout(environment.reaper);
    const env = environment;
    const id = this.#nextId++;
    return new Promise<unknown>((resolve, reject) => {
      env.running = { id, pending: { resolve, reject } };
      // Keeps the process alive while an invocation runs; an idle worker does not.
      env.worker.ref();
      env.worker.postMessage({ id, event } satisfies WorkerRequest);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const environments = [...this.#environments];
    this.#environments.clear();
    for (const environment of environments) {
      clearTimeout(environment.reaper);
      environment.running?.pending.reject(new Error("the local runtime stopped"));
      environment.running = undefined;
    }
    await Promise.all(environments.map((environment) => environment.worker.terminate()));
  }

  #start(): Environment {
    const { url, tsx } = this.entry;
    const worker = tsx
      ? new Worker(new URL(`data:text/javascript,${encodeURIComponent(TSX_BOOT)}`), {
          workerData: { ...this.data, tsx, entry: url.href },
          // The worker registers tsx itself: a second copy inherited from this process's flags (`tsx script.ts`
          // runs node with tsx's --import) would put every module load through two loaders.
          execArgv: [],
          // tsx's transform cache would be a folder in the temp directory that outlives stop(); the worker loads
          // the sources once, so an in-memory cache is enough (about 0.15 s more to start).
          env: { ...process.env, TSX_DISABLE_CACHE: "1" },
        })
      : new Worker(url, { workerData: this.data });
    let setLoaded!: () => void;
    const loaded = new Promise<void>((resolve) => {
      setLoaded = resolve;
    });
    const environment: Environment = { worker, loaded };
    worker.unref();
    worker.on("message", (reply: WorkerReply) => {
      if ("loaded" in reply) setLoaded();
      else this.#settle(environment, reply);
    });
    worker.on("error", (error) => this.#end(environment, error));
    worker.on("exit", (code) => {
      // Ended without loading: a warm() waiting for it goes on; the next invocation reports why.
      setLoaded();
      this.#end(environment, new Error(`the convert function's worker exited with code ${code}`));
    });
    this.#environments.add(environment);
    return environment;
  }

  #settle(environment: Environment, reply: Exclude<WorkerReply, { loaded: true }>): void {
    const running = environment.running;
    if (!running || running.id !== reply.id) return;
    environment.running = undefined;
    environment.worker.unref();
    this.#reapLater(environment);
    if ("error" in reply) running.pending.reject(fromWorker(reply.error));
    else running.pending.resolve(reply.output);
  }

  /** An idle environment beside another idle one ends after `idleMs` unless an invocation takes it first. */
  #reapLater(environment: Environment): void {
    const idle = [...this.#environments].filter((e) => !e.running);
    if (idle.length < 2) return;
    environment.reaper = setTimeout(() => {
      if (environment.running || !this.#environments.has(environment)) return;
      if ([...this.#environments].filter((e) => !e.running).length < 2) return;
      this.#environments.delete(environment);
      void environment.worker.terminate();
    }, this.idleMs);
    environment.reaper.unref();
  }

  #end(environment: Environment, error: Error): void {
    clearTimeout(environment.reaper);
    this.#environments.delete(environment);
    const running = environment.running;
    environment.running = undefined;
    running?.pending.reject(error);
  }
}

function fromWorker(shape: WorkerError): Error {
  const error = new Error(shape.message);
  error.name = shape.name;
  if (shape.stack !== undefined) error.stack = shape.stack;
  return error;
}
