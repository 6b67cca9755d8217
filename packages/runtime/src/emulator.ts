import { rmSync } from "node:fs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { S3Client } from "@aws-sdk/client-s3";
import { SQSClient } from "@aws-sdk/client-sqs";
import { chunkRetentionSeconds, MAX_RETENTION_SECONDS, type StageConfig } from "@sluice/workflow";
import { buildApp } from "fauxqs";
import { useBucketCors } from "./bucket-cors.ts";
import { type FauxqsStores, fauxqsInternals } from "./fauxqs-internals.ts";
import { LocalS3Store, type ObjectCreated, useLocalS3Store } from "./local-s3-store.ts";
import { useQueryAuth } from "./presigned-requests.ts";
import { useSqsCharacterRule } from "./sqs-character-rule.ts";

export interface EmulatorResources {
  bucket: string;
  chunkQueue: string;
  deadLetterQueue: string;
  /** The stage settings the queues are created with, as the stack creates them. */
  config: Pick<StageConfig, "visibilityTimeoutSeconds" | "maxReceiveCount" | "uploadDeadlineSeconds">;
  region: string;
  /** Origins whose pages may PUT to the bucket (its CORS rule, as the stack's allowedOrigins); none by default. */
  corsOrigins?: readonly string[];
}

/** Settings for SDK clients that talk to the local emulator (any credentials do). */
export interface LocalClientConfig {
  region: string;
  endpoint: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

export interface Emulator {
  endpoint: string;
  clientConfig: LocalClientConfig;
  s3: S3Client;
  sqs: SQSClient;
  queueUrls: { chunks: string; deadLetters: string };
  queueArns: { chunks: string; deadLetters: string };
  /** The local URL of a queue given any URL or ARN that ends in its name. */
  queueUrlFor(urlOrArn: string): string;
  /** The directory holding the bucket's object bodies (removed by `stop()`). */
  storageDir: string;
  /**
   * Called for every object created in the bucket (PutObject, CompleteMultipartUpload, CopyObject), once it is
   * stored: what S3 event notifications deliver. One listener; the local runtime's.
   */
  onObjectCreated(listener: ((event: ObjectCreated) => void) | undefined): void;
  stop(): Promise<void>;
}

/**
 * The in-process SQS and S3 emulator (fauxqs, real AWS wire protocols on loopback), with the bucket and the
 * queues created the way the stack creates them: the chunk queue's visibility timeout and retention, and its
 * redrive to the dead-letter queue after maxReceiveCount receives. Two things differ from fauxqs's defaults,
 * both to behave as AWS does: the bucket is versioned and keeps object bodies on disk (in a directory of its own,
 * removed on stop), so memory stays flat in upload size; and message bodies follow SQS's character rule, which
 * accepts characters above U+FFFF. What a browser's upload meets on S3 is enforced too: presigned URLs are checked
 * (presigned-requests.ts), If-None-Match: * makes a write conditional, and the bucket answers CORS as configured
 * (bucket-cors.ts).
 */
const STORAGE_PREFIX = "sluice-bucket-";

/**
 * A process killed with -9 runs no exit hook, so its bucket folder stays behind: folders whose owning process
 * (the pid in the name) is gone are removed when the next emulator starts.
 */
async function removeStaleStorage(): Promise<void> {
  const names = await readdir(tmpdir()).catch(() => [] as string[]);
  await Promise.all(
    names.map(async (name) => {
      const pid = Number(/^sluice-bucket-(\d+)-/.exec(name)?.[1]);
      if (!pid || pid === process.pid || isAlive(pid)) return;
      await rm(join(tmpdir(), name), { recursive: true, force: true }).catch(() => undefined);
    }),
  );
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: it exists but belongs to another user.
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function startEmulator(resources: EmulatorResources): Promise<Emulator> {
  const fauxqs = await fauxqsInternals();
  await removeStaleStorage();
  const storageDir = await mkdtemp(join(tmpdir(), `${STORAGE_PREFIX}${process.pid}-`));
  // A process that exits without stop() (an uncaught error, process.exit) still leaves no bodies behind.
  const removeOnExit = () => rmSync(storageDir, { recursive: true, force: true });
  process.once("exit", removeOnExit);
  const sqsStore = new fauxqs.SqsStore();
  const s3Store = new LocalS3Store(storageDir, fauxqs);
  const app = buildApp({
    logger: false,
    host: "localhost",
    defaultRegion: resources.region,
    stores: {
      sqsStore: sqsStore as unknown as FauxqsStores["sqsStore"],
      snsStore: new fauxqs.SnsStore(),
      s3Store: s3Store as unknown as FauxqsStores["s3Store"],
    },
  });
  const credentials = { accessKeyId: "local", secretAccessKey: "local" };
  useSqsCharacterRule(app, sqsStore, fauxqs);
  // Before the store's own hook, which starts reading a PUT's body: a refused presigned request stores nothing.
  useQueryAuth(app, { credentials });
  useBucketCors(app, { bucket: resources.bucket, origins: resources.corsOrigins ?? [] });
  useLocalS3Store(app, s3Store, fauxqs);
  let port: number;
  try {
    const address = await app.listen({ port: 0, host: "0.0.0.0" });
    port = Number(new URL(address).port);
  } catch (error) {
    process.removeListener("exit", removeOnExit);
    await rm(storageDir, { recursive: true, force: true });
    throw error;
  }
  const endpoint = `http://127.0.0.1:${port}`;
  const clientConfig: LocalClientConfig = {
    region: resources.region,
    endpoint,
    credentials,
  };
  const { config } = resources;
  // As fauxqs's startFauxqs creates queues: URLs on the host the clients use, ARNs in the stack's region.
  const createQueue = (name: string, attributes: Record<string, string>) => {
    const queueUrl = sqsStore.buildQueueUrl(name, String(port), `127.0.0.1:${port}`, resources.region);
    const queueArn = fauxqs.sqsQueueArn(name, resources.region);
    sqsStore.createQueue(name, queueUrl, queueArn, attributes);
    return { queueUrl, queueArn };
  };
  const dlq = createQueue(resources.deadLetterQueue, {
    MessageRetentionPeriod: String(MAX_RETENTION_SECONDS),
  });
  const chunks = createQueue(resources.chunkQueue, {
    VisibilityTimeout: String(config.visibilityTimeoutSeconds),
    MessageRetentionPeriod: String(chunkRetentionSeconds(config)),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: dlq.queueArn,
      maxReceiveCount: String(config.maxReceiveCount),
    }),
  });
  s3Store.createBucket(resources.bucket);
  const urls: Record<string, string> = {
    [resources.chunkQueue]: chunks.queueUrl,
    [resources.deadLetterQueue]: dlq.queueUrl,
  };
  const s3 = new S3Client({ ...clientConfig, forcePathStyle: true });
  const sqs = new SQSClient(clientConfig);
  return {
    endpoint,
    clientConfig,
    s3,
    sqs,
    queueUrls: { chunks: chunks.queueUrl, deadLetters: dlq.queueUrl },
    queueArns: { chunks: chunks.queueArn, deadLetters: dlq.queueArn },
    queueUrlFor(urlOrArn) {
      const name = urlOrArn.split(/[/:]/).pop() ?? "";
      const url = urls[name];
      if (!url) throw new Error(`no local queue named ${JSON.stringify(name)}`);
      return url;
    },
    storageDir,
    onObjectCreated(listener) {
      s3Store.onCreated = listener;
    },
    async stop() {
      s3.destroy();
      sqs.destroy();
      await app.close();
      process.removeListener("exit", removeOnExit);
      await rm(storageDir, { recursive: true, force: true });
    },
  };
}
