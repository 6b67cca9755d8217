import type { AddressInfo } from "node:net";
import { S3Client } from "@aws-sdk/client-s3";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SQSClient } from "@aws-sdk/client-sqs";
import { createSluiceAdmin } from "@sluice/admin";
import { type ChunkConsumer, createChunkConsumer } from "@sluice/consumer";
import type pg from "pg";
import type { AdminServerConfig } from "./config.ts";
import { createPool, migrate } from "./db.ts";
import { createHttpServer } from "./http-server.ts";
import { createImportChunkHandler } from "./import-chunk.ts";
import { log } from "./log.ts";
import { buildPageAssets } from "./page-assets.ts";
import { createUploadRoutes } from "./uploads-routes.ts";

export interface AdminServer {
  pool: pg.Pool;
  consumer: ChunkConsumer;
  /** `http://host:port` of the HTTP API. */
  url: string;
  /** Stops taking chunks (in-flight ones finish within `timeoutMs`), closes HTTP, ends the pool. */
  stop(timeoutMs?: number): Promise<void>;
}

/** Wires the pg pool, the chunk consumer and the HTTP API; resolves once all three are up. */
export async function startAdminServer(config: AdminServerConfig): Promise<AdminServer> {
  // One connection per chunk in hand, plus room for the HTTP API.
  const pool = createPool(config.databaseUrl, config.concurrency + 2);
  await migrate(pool);

  const clientConfig = { region: config.region };
  const sqs = new SQSClient({
    ...clientConfig,
    ...(config.sqsEndpoint ? { endpoint: config.sqsEndpoint } : {}),
  });
  const sfn = new SFNClient({
    ...clientConfig,
    ...(config.sfnEndpoint ? { endpoint: config.sfnEndpoint } : {}),
  });

  // The chunks' rows are fetched from the bucket (the message carries a pointer); the emulator needs path style.
  const s3 = new S3Client({
    ...clientConfig,
    ...(config.s3Endpoint ? { endpoint: config.s3Endpoint, forcePathStyle: true } : {}),
  });

  const consumer = createChunkConsumer({
    queueUrl: config.chunkQueueUrl,
    sqs,
    sfn,
    s3,
    concurrency: config.concurrency,
    heartbeatSeconds: config.heartbeatSeconds,
    visibilityTimeoutSeconds: config.visibilityTimeoutSeconds,
    waitTimeSeconds: config.waitTimeSeconds,
    handler: createImportChunkHandler({
      pool,
      timeZone: config.importTimeZone,
      delayMs: config.importDelayMs,
      ...(config.importRefuseChunk === undefined ? {} : { refuseChunk: config.importRefuseChunk }),
      onInserted: (e) => log("info", "chunk_rows_inserted", { ...e }),
      onImported: (e) =>
        log("info", e.replayed ? "chunk_replayed_from_ledger" : "chunk_imported", {
          uploadId: e.uploadId,
          chunkIndex: e.chunkIndex,
          accepted: e.accepted,
          rejected: e.rejected.length,
          durationMs: e.durationMs,
        }),
    }),
  });
  consumer.on("chunk_received", (e) => log("info", "chunk_received", { ...e }));
  consumer.on("chunk_succeeded", (e) =>
    log("info", "chunk_succeeded", {
      messageId: e.messageId,
      uploadId: e.uploadId,
      chunkIndex: e.chunkIndex,
      accepted: e.accepted,
      rejected: e.rejected,
    }),
  );
  consumer.on("chunk_failed", (e) => log("warn", "chunk_failed", { ...e }));
  consumer.on("chunk_released", (e) => log("warn", "chunk_released", { ...e }));
  consumer.on("token_stale", (e) => log("warn", "token_stale", { ...e }));
  consumer.on("message_invalid", (e) =>
    log("warn", "message_invalid", { messageId: e.messageId, reason: e.reason, message: e.message }),
  );
  consumer.on("error", (e) =>
    log("error", "consumer_error", {
      operation: e.operation,
      messageId: e.messageId,
      error: String(e.error),
    }),
  );

  // The upload page: signed forms (the browser PUTs the file to S3 itself), status, list and redrive, through
  // the same S3 and Step Functions endpoints the consumer uses.
  const admin = createSluiceAdmin({
    s3,
    sfn,
    bucket: config.bucket,
    stateMachineArn: config.stateMachineArn,
  });
  const uploads = createUploadRoutes({
    admin,
    pages: await buildPageAssets(),
    maxBytes: config.uploadMaxBytes,
    tenant: config.tenant,
  });
  const server = createHttpServer({ pool, consumerStatus: () => consumer.status, uploads });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${config.host === "0.0.0.0" ? "127.0.0.1" : config.host}:${port}`;
  consumer.start();
  log("info", "listening", { url, port, queueUrl: config.chunkQueueUrl, concurrency: config.concurrency });

  let stopping: Promise<void> | undefined;
  return {
    pool,
    consumer,
    url,
    stop(timeoutMs = 25_000) {
      stopping ??= (async () => {
        const result = await consumer.stop({ timeoutMs });
        log("info", "consumer_stopped", { ...result });
        await new Promise<void>((resolve) => {
          server.close(() => resolve());
          server.closeIdleConnections();
        });
        await pool.end();
        sqs.destroy();
        sfn.destroy();
        s3.destroy();
      })();
      return stopping;
    },
  };
}
