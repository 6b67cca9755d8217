/**
 * Runs the admin server against the local runtime, with no AWS account and no installed database:
 * starts PostgreSQL (DATABASE_URL, or embedded), the local runtime (SQS/S3 emulator + Step Functions API), the
 * admin server as a child process configured only by environment variables (printed, so you can start it
 * yourself the same way), uploads a workbook, waits for the execution, and prints the summary and /imports.
 *
 *   npx tsx examples/admin-server/scripts/local.ts [file.xlsx|file.csv]   (default: examples/orders.xlsx)
 *   add --keep to leave everything running (Ctrl-C stops it): the upload page is on http://localhost:3000/
 *   (PORT=… for another port), the operators' view on /operators, and the HTTP API beside them.
 *   add --no-upload to skip the first upload (with --keep: start with an empty page).
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

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { keep: { type: "boolean" }, "no-upload": { type: "boolean" } },
});
const file = positionals[0] ?? fileURLToPath(new URL("../../orders.xlsx", import.meta.url));
const MAIN = fileURLToPath(new URL("../src/main.ts", import.meta.url));
const port = process.env.PORT ?? "3000";

const postgres = await startPostgres({ fast: false });
// The upload page PUTs straight to the emulator's S3: its bucket answers CORS for the page's origins.
const runtime = await LocalRuntime.start({
  outDir: "out",
  corsOrigins: [`http://localhost:${port}`, `http://127.0.0.1:${port}`],
});
const env = localRuntimeEnv(runtime, postgres.url, {
  PORT: port,
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
  if (!values["no-upload"]) {
    console.log(`admin server on ${base}; uploading ${file}`);
    const upload = await runtime.upload(await readFile(file), basename(file));
    const record = await runtime.waitForExecution(upload.executionArn);
    console.log(
      `\n${record.status}: ${JSON.stringify(record.output ?? { error: record.error, cause: record.cause })}`,
    );
    console.log(`GET ${base}/imports ->`, JSON.stringify(await (await fetch(`${base}/imports`)).json()));
  }
  if (values.keep) {
    console.log(`upload page:      http://localhost:${port}/`);
    console.log(`operators' view:  http://localhost:${port}/operators`);
    console.log(`try: curl '${base}/orders?limit=3' | curl ${base}/health   (Ctrl-C to stop)`);
    await new Promise<void>((resolve) => process.once("SIGINT", () => resolve()));
  }
} finally {
  await stopAll();
}
