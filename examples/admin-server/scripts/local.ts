/**
 * Runs the admin server against the local runtime, with no AWS account and no installed database:
 * starts PostgreSQL (DATABASE_URL, or embedded), the local runtime (SQS/S3 emulator + Step Functions API), the
 * admin server as a child process configured only by environment variables (printed, so you can start it
 * yourself the same way), uploads a workbook, waits for the execution, and prints the summary and /imports.
 *
 *   npx tsx examples/admin-server/scripts/local.ts [file.xlsx|file.csv]   (default: examples/orders.xlsx)
 *   add --keep to leave everything running (Ctrl-C stops it) and try the HTTP API.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFile } from "node:fs/promises";
import { basename } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { LocalRuntime } from "@sluice/runtime";
import { startPostgres } from "../src/embedded-postgres.ts";
import { localRuntimeEnv } from "../src/local-runtime-env.ts";

const { values, positionals } = parseArgs({ allowPositionals: true, options: { keep: { type: "boolean" } } });
const file = positionals[0] ?? fileURLToPath(new URL("../../orders.xlsx", import.meta.url));
const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));

const postgres = await startPostgres({ fast: false });
const runtime = await LocalRuntime.start({ outDir: "out" });
const env = localRuntimeEnv(runtime, postgres.url, {
  PORT: process.env.PORT ?? "3000",
  WAIT_TIME_SECONDS: "2",
});
console.log("admin server environment:");
for (const [k, v] of Object.entries(env)) console.log(`  ${k}=${v}`);

const admin = spawn(process.execPath, ["--import", "tsx", MAIN], {
  env: { ...process.env, ...env },
  stdio: ["ignore", "pipe", "inherit"],
});
let listening: (url: string) => void;
const url = new Promise<string>((resolve) => {
  listening = resolve;
});
admin.stdout.setEncoding("utf8").on("data", (data: string) => {
  for (const line of data.split("\n").filter(Boolean)) {
    try {
      const entry = JSON.parse(line) as { msg: string; url?: string; chunkIndex?: number; accepted?: number };
      if (entry.msg === "listening") listening(String(entry.url));
      if (entry.msg === "chunk_imported") process.stdout.write(".");
    } catch {
      console.log(line);
    }
  }
});

const stopAll = async () => {
  admin.kill("SIGTERM");
  await once(admin, "exit");
  await runtime.stop();
  await postgres.stop();
};

try {
  const base = await url;
  console.log(`admin server on ${base}; uploading ${file}`);
  const upload = await runtime.upload(await readFile(file), basename(file));
  const record = await runtime.waitForExecution(upload.executionArn);
  console.log(
    `\n${record.status}: ${JSON.stringify(record.output ?? { error: record.error, cause: record.cause })}`,
  );
  console.log(`GET ${base}/imports ->`, JSON.stringify(await (await fetch(`${base}/imports`)).json()));
  if (values.keep) {
    console.log(`try: curl '${base}/orders?limit=3' | curl ${base}/health   (Ctrl-C to stop)`);
    await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
  }
} finally {
  await stopAll();
}
