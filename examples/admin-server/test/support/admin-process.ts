import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { fileURLToPath } from "node:url";
import type { LocalRuntime } from "@sluice/runtime";
import { localRuntimeEnv } from "../../src/local-runtime-env.ts";

const MAIN = fileURLToPath(new URL("../../src/main.ts", import.meta.url));
const CWD = fileURLToPath(new URL("../..", import.meta.url));

export type LogLine = { msg: string; level: string } & Record<string, unknown>;

/**
 * The admin server as a real child process (`node --import tsx src/main.ts`), configured only through its
 * environment, exactly as it would be deployed. Its JSON log lines are collected for assertions.
 */
export class AdminProcess {
  readonly lines: LogLine[] = [];
  readonly stderr: string[] = [];
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly waiters = new Set<() => void>();

  private constructor(readonly child: ChildProcess) {
    this.exited = once(child, "exit").then(([code, signal]) => ({ code, signal }));
    const read = (stream: NodeJS.ReadableStream, into?: string[]) => {
      let buffer = "";
      stream.setEncoding("utf8");
      stream.on("data", (data: string) => {
        buffer += data;
        let newline = buffer.indexOf("\n");
        while (newline >= 0) {
          const line = buffer.slice(0, newline);
          buffer = buffer.slice(newline + 1);
          into?.push(line);
          try {
            this.lines.push(JSON.parse(line) as LogLine);
          } catch {
            // not a log line (e.g. a stack trace)
          }
          newline = buffer.indexOf("\n");
        }
        for (const wake of this.waiters) wake();
      });
    };
    read(child.stdout!);
    read(child.stderr!, this.stderr);
  }

  static start(env: Record<string, string>, nodeArgs: string[] = []): AdminProcess {
    const child = spawn(process.execPath, [...nodeArgs, "--import", "tsx", MAIN], {
      cwd: CWD,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    return new AdminProcess(child);
  }

  /** The last log lines and stderr, for failure messages. */
  describe(): string {
    const last = this.lines.slice(-15).map((l) => JSON.stringify(l));
    return `last log lines:\n${last.join("\n")}\nstderr:\n${this.stderr.slice(-20).join("\n")}`;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** Resolves with the first log line matching `predicate` (already seen or still to come). */
  waitFor(predicate: (line: LogLine) => boolean, timeoutMs = 20_000): Promise<LogLine> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const found = this.lines.find(predicate);
        if (found) {
          done();
          resolve(found);
        }
      };
      const timer = setTimeout(() => {
        done();
        reject(new Error(`no matching admin server log line in ${timeoutMs} ms; ${this.describe()}`));
      }, timeoutMs);
      const exited = () => {
        done();
        reject(new Error(`the admin server exited; ${this.describe()}`));
      };
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(check);
        this.child.off("exit", exited);
      };
      this.waiters.add(check);
      this.child.once("exit", exited);
      check();
    });
  }

  /** The HTTP API's base URL, once the server logged that it listens. */
  async url(): Promise<string> {
    const line = await this.waitFor((l) => l.msg === "listening");
    return String(line.url);
  }

  logged(msg: string, filter: Record<string, unknown> = {}): LogLine[] {
    return this.lines.filter((l) => l.msg === msg && Object.entries(filter).every(([k, v]) => l[k] === v));
  }

  async stop(
    signal: NodeJS.Signals = "SIGTERM",
  ): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    return this.exited;
  }
}

/** The environment that points an admin server at a local runtime, with a short shutdown for tests. */
export function adminEnv(
  runtime: LocalRuntime,
  databaseUrl: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return localRuntimeEnv(runtime, databaseUrl, { SHUTDOWN_TIMEOUT_MS: "5000", ...extra });
}
