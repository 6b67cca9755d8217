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

export type WorkerReply = { id: number; output: unknown } | { id: number; error: WorkerError };

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

/**
 * One warm worker, started on first use (or `warm()`) and reused by every invocation after. Invocations that
 * overlap (two uploads converting at once) share it, as they shared the runtime's thread before; Lambda would give
 * each an execution environment of its own. A worker that dies (an uncaught error, exit) fails the invocations it
 * was running, and the next invocation starts a new one, as Lambda replaces an environment whose runtime exited.
 */
export class WorkerLambda {
  #worker: Worker | undefined;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #closed = false;

  constructor(
    private readonly entry: WorkerEntry,
    private readonly data: ConvertWorkerData,
  ) {}

  /** Starts the worker now, so the first invocation does not wait for its modules to load. */
  warm(): void {
    if (!this.#closed) this.#start();
  }

  invoke(event: unknown): Promise<unknown> {
    if (this.#closed) return Promise.reject(new Error("the local runtime stopped"));
    const worker = this.#start();
    const id = this.#nextId++;
    return new Promise<unknown>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      // Keeps the process alive while an invocation runs; an idle worker does not.
      worker.ref();
      worker.postMessage({ id, event } satisfies WorkerRequest);
    });
  }

  async close(): Promise<void> {
    this.#closed = true;
    const worker = this.#worker;
    this.#worker = undefined;
    this.#failAll(new Error("the local runtime stopped"));
    await worker?.terminate();
  }

  #start(): Worker {
    if (this.#worker) return this.#worker;
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
    worker.unref();
    worker.on("message", (reply: WorkerReply) => this.#settle(reply));
    worker.on("error", (error) => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#failAll(error);
    });
    worker.on("exit", (code) => {
      if (this.#worker === worker) this.#worker = undefined;
      this.#failAll(new Error(`the convert function's worker exited with code ${code}`));
    });
    this.#worker = worker;
    return worker;
  }

  #settle(reply: WorkerReply): void {
    const pending = this.#pending.get(reply.id);
    if (!pending) return;
    this.#pending.delete(reply.id);
    if (this.#pending.size === 0) this.#worker?.unref();
    if ("error" in reply) pending.reject(fromWorker(reply.error));
    else pending.resolve(reply.output);
  }

  #failAll(error: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(error);
  }
}

function fromWorker(shape: WorkerError): Error {
  const error = new Error(shape.message);
  error.name = shape.name;
  if (shape.stack !== undefined) error.stack = shape.stack;
  return error;
}
