/**
 * The convert Lambda's sandbox: a worker thread running the real convert handler, its S3 client pointed at the
 * emulator's HTTP endpoint as a Lambda's client points at S3. Started by worker-lambda.ts; one invocation per
 * message. The worker stays warm between invocations, as Lambda reuses an execution environment.
 */
import { parentPort, workerData } from "node:worker_threads";
import { S3Client } from "@aws-sdk/client-s3";
import { createConvertHandler, createLogger } from "@sluice/functions";
import type { ConvertWorkerData, WorkerReply, WorkerRequest } from "./worker-lambda.ts";

const data = workerData as ConvertWorkerData;
const port = parentPort;
if (!port) throw new Error("convert-worker.ts runs as a worker thread (see worker-lambda.ts)");

const convert = createConvertHandler({
  s3: new S3Client({ ...data.clientConfig, forcePathStyle: true }),
  bucketName: data.bucketName,
  processedPrefix: data.processedPrefix,
  chunkRows: data.chunkRows,
  chunkBytes: data.chunkBytes,
  logger: createLogger("sluice-convert", { logLevel: data.logLevel }),
});

// Its modules are loaded and the handler built: what a warm start waits for (WorkerLambda.warm).
port.postMessage({ loaded: true } satisfies WorkerReply);

port.on("message", (request: WorkerRequest) => {
  convert(request.event).then(
    (output) => port.postMessage({ id: request.id, output } satisfies WorkerReply),
    (error: unknown) => {
      const e = error instanceof Error ? error : new Error(String(error));
      port.postMessage({
        id: request.id,
        error: { name: e.name, message: e.message, ...(e.stack === undefined ? {} : { stack: e.stack }) },
      } satisfies WorkerReply);
    },
  );
});
