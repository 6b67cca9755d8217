import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { basename } from "node:path";
import { Readable } from "node:stream";
import { InvalidOptionError } from "@sluice/core";
import type { ExecutionRecord } from "@sluice/runtime";
import { LocalRuntime } from "@sluice/runtime";
import { parseCommandArgs } from "./step-functions-options.ts";

export const SERVE_USAGE = `usage: sluice serve [--port N] [--concurrency N] [--chunk-rows N] [--chunk-bytes N] [--out DIR]

Starts the local runtime (S3/SQS emulator, Step Functions API, the workflow) and keeps it running until Ctrl-C.
Prints the endpoints an admin server needs, as text and as "export VAR=..." lines. Uploads arrive over a
loopback HTTP endpoint, as the S3 event would start them in AWS:
  curl --data-binary @orders.xlsx "http://127.0.0.1:<port>/uploads?name=orders.xlsx"   (or: sluice upload <file>)
Each upload is a new object version in the (versioned) local bucket and starts its own execution, as on AWS;
to run an earlier upload's very bytes again: sluice reprocess <upload-id> --force.
  --port N   the upload endpoint's port (default: any free port)`;

/** The largest upload body accepted (it streams to the local bucket, which keeps it on disk). */
const MAX_UPLOAD_BYTES = 512 * 1024 * 1024;

export interface ServeEndpoints {
  region: string;
  sqsEndpoint: string;
  s3Endpoint: string;
  chunkQueueUrl: string;
  deadLetterQueueUrl: string;
  stepFunctionsEndpoint: string;
  stateMachineArn: string;
  bucket: string;
  uploadUrl: string;
}

export interface UploadResponse {
  uploadId: string;
  executionArn: string;
  key: string;
  /** The same S3 event was seen before: nothing new started (an upload over HTTP is always a new version). */
  duplicate: boolean;
}

class UploadTooLargeError extends Error {}

/** The `export` lines a shell (or the admin server's environment) takes. */
export function exportLines(endpoints: ServeEndpoints): string[] {
  return [
    `export AWS_REGION=${endpoints.region}`,
    `export AWS_ENDPOINT_URL_SQS=${endpoints.sqsEndpoint}`,
    `export AWS_ENDPOINT_URL_S3=${endpoints.s3Endpoint}`,
    `export AWS_ENDPOINT_URL_SFN=${endpoints.stepFunctionsEndpoint}`,
    `export CHUNK_QUEUE_URL=${endpoints.chunkQueueUrl}`,
    `export DEAD_LETTER_QUEUE_URL=${endpoints.deadLetterQueueUrl}`,
    `export SLUICE_STATE_MACHINE_ARN=${endpoints.stateMachineArn}`,
    `export SLUICE_BUCKET=${endpoints.bucket}`,
    `export SLUICE_UPLOAD_URL=${endpoints.uploadUrl}`,
  ];
}

function positiveInt(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value) || Number(value) < 1)
    throw new InvalidOptionError(`--${name} must be a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** The local runtime plus its upload endpoint, running until `stop()`. */
export class LocalServer {
  private constructor(
    readonly runtime: LocalRuntime,
    private readonly server: Server,
    readonly endpoints: ServeEndpoints,
  ) {}

  static async start(
    options: {
      port?: number;
      config?: Parameters<typeof LocalRuntime.start>[0];
      onUpload?: (upload: UploadResponse) => void;
    } = {},
  ): Promise<LocalServer> {
    const runtime = await LocalRuntime.start(options.config);
    const server = createServer((req, res) => void handleUpload(runtime, req, res, options.onUpload));
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(options.port ?? 0, "127.0.0.1", resolve);
      });
    } catch (error) {
      await runtime.stop();
      throw error;
    }
    const { port } = server.address() as AddressInfo;
    const endpoints: ServeEndpoints = {
      region: runtime.emulator.clientConfig.region,
      sqsEndpoint: runtime.emulator.endpoint,
      s3Endpoint: runtime.emulator.endpoint,
      chunkQueueUrl: runtime.queueUrls.chunks,
      deadLetterQueueUrl: runtime.queueUrls.deadLetters,
      stepFunctionsEndpoint: runtime.stepFunctionsEndpoint,
      stateMachineArn: runtime.stateMachineArn,
      bucket: runtime.bucket,
      uploadUrl: `http://127.0.0.1:${port}/uploads`,
    };
    return new LocalServer(runtime, server, endpoints);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.runtime.stop();
  }
}

async function handleUpload(
  runtime: LocalRuntime,
  req: IncomingMessage,
  res: ServerResponse,
  onUpload?: (upload: UploadResponse) => void,
): Promise<void> {
  const reply = (status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(`${JSON.stringify(body)}\n`);
  };
  try {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname !== "/uploads")
      return reply(404, { error: "NOT_FOUND", message: "POST /uploads?name=FILE" });
    if (req.method !== "POST")
      return reply(405, { error: "METHOD_NOT_ALLOWED", message: "POST /uploads?name=FILE" });
    const name = basename(url.searchParams.get("name") ?? "");
    if (!name || name === "." || name === "..")
      return reply(400, { error: "INVALID_OPTION", message: "the name query parameter is required" });
    // Streamed to the bucket part by part: serve holds no upload whole, whatever its size.
    const body = req[Symbol.asyncIterator]();
    const first = await body.next();
    if (first.done || (first.value as Buffer).length === 0)
      return reply(400, { error: "INVALID_OPTION", message: "the request body (the file) is empty" });
    let size = 0;
    const counted = Readable.from(
      (async function* () {
        let next: IteratorResult<unknown> = first;
        while (!next.done) {
          size += (next.value as Buffer).length;
          if (size > MAX_UPLOAD_BYTES) throw new UploadTooLargeError();
          yield next.value as Buffer;
          next = await body.next();
        }
      })(),
    );
    let upload: UploadResponse;
    try {
      upload = await runtime.upload(counted, name);
    } catch (error) {
      if (!(error instanceof UploadTooLargeError)) throw error;
      return reply(413, {
        error: "TOO_LARGE",
        message: `uploads are limited to ${MAX_UPLOAD_BYTES} bytes locally`,
      });
    }
    onUpload?.(upload);
    reply(upload.duplicate ? 200 : 201, upload);
  } catch (error) {
    reply(500, { error: (error as Error).name, message: (error as Error).message });
  }
}

/** `sluice serve`: runs until SIGINT/SIGTERM (or `signal` aborts). */
export async function runServe(
  argv: string[],
  say: (line: string) => void,
  signal?: AbortSignal,
): Promise<{ stopped: true }> {
  const { values, positionals } = parseCommandArgs(
    argv,
    {
      port: { type: "string" },
      concurrency: { type: "string" },
      "chunk-rows": { type: "string" },
      "chunk-bytes": { type: "string" },
      out: { type: "string" },
    },
    SERVE_USAGE,
  );
  if (positionals.length > 0) throw new InvalidOptionError(`serve takes no file\n${SERVE_USAGE}`);
  const port = values.port === undefined ? undefined : positiveInt("port", values.port);
  const concurrency = positiveInt("concurrency", values.concurrency);
  const chunkRows = positiveInt("chunk-rows", values["chunk-rows"]);
  const chunkBytes = positiveInt("chunk-bytes", values["chunk-bytes"]);
  const local = await LocalServer.start({
    ...(port ? { port } : {}),
    config: {
      config: {
        ...(concurrency ? { maxConcurrency: concurrency } : {}),
        ...(chunkRows ? { chunkRows } : {}),
        ...(chunkBytes ? { chunkBytes } : {}),
      },
      outDir: values.out ?? "out",
      retryIntervalMs: 500,
      ...(process.env.SLACK_WEBHOOK_URL ? { slackWebhookUrl: process.env.SLACK_WEBHOOK_URL } : {}),
    },
    onUpload: (upload) =>
      say(
        upload.duplicate
          ? `upload ${upload.uploadId}: the same S3 event as before, nothing started`
          : `upload ${upload.uploadId}: started (${upload.key})`,
      ),
  });
  local.runtime.workflow.on("execution_finished", (record: ExecutionRecord) =>
    say(`upload ${record.name}: ${record.status}${record.error ? ` (${record.error})` : ""}`),
  );
  const e = local.endpoints;
  say("sluice local runtime ready (any AWS credentials work against it)");
  say(`  SQS/S3 endpoint         ${e.sqsEndpoint}`);
  say(`  chunk queue URL         ${e.chunkQueueUrl}`);
  say(`  dead-letter queue URL   ${e.deadLetterQueueUrl}`);
  say(`  Step Functions endpoint ${e.stepFunctionsEndpoint}`);
  say(`  state machine ARN       ${e.stateMachineArn}`);
  say(`  region                  ${e.region}`);
  say(`  bucket                  ${e.bucket}`);
  say(`  uploads                 POST ${e.uploadUrl}?name=FILE (sluice upload FILE)`);
  for (const line of exportLines(e)) say(line);
  say(JSON.stringify({ ready: true, ...e }));

  await new Promise<void>((resolve) => {
    const done = () => resolve();
    process.once("SIGINT", done);
    process.once("SIGTERM", done);
    signal?.addEventListener("abort", done, { once: true });
  });
  say("stopping");
  await local.stop();
  return { stopped: true };
}
