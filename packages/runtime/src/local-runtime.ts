import { EventEmitter } from "node:events";
import { mkdir, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import type { Readable } from "node:stream";
import { GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SendMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { Upload } from "@aws-sdk/lib-storage";
import {
  ChunkEnvelopeSchema,
  type ChunkPointer,
  type ConvertOutput,
  PROCESSED_PREFIX,
  type TaskResult,
  UPLOADS_PREFIX,
} from "@sluice/contract";
import { InvalidOptionError } from "@sluice/core";
import {
  type CostEstimate,
  createChunkDeadLetterHandler,
  createConvertHandler,
  createLogger,
  createNotifyFailureHandler,
  createStartHandler,
  createSummarizeHandler,
  estimateCost,
  FUNCTION_MEMORY_MB,
  type NotifyFailureOutput,
  type SlackRetryOptions,
  type StartResult,
} from "@sluice/functions";
import {
  checkStageConfig,
  DEFAULT_STAGE_CONFIG,
  failureEventPattern,
  PLACEHOLDER,
  type StageConfig,
  workflowAsl,
} from "@sluice/workflow";
import { type Emulator, startEmulator } from "./emulator.ts";
import { executionStatusChangeEvent, invokeAsync, matchesPattern } from "./event-rules.ts";
import type { Execution } from "./execution.ts";
import { LambdaConcurrency } from "./lambda-concurrency.ts";
import type { ObjectCreated } from "./local-s3-store.ts";
import { type Asl, type CallbackEvent, type CallbackSettledEvent, LocalWorkflow } from "./local-workflow.ts";
import { type RequestCounts, type RequestMeter, startRequestMeter } from "./request-meter.ts";
import { type SqsEventSource, startSqsEventSource } from "./sqs-event-source.ts";
import { StepFunctionsApi } from "./step-functions-api.ts";
import { StatesError, TaskTokens } from "./task-tokens.ts";
import { locateConvertWorker, WorkerLambda } from "./worker-lambda.ts";
import { workflowOperations } from "./workflow-operations.ts";

/** Lambda invocations of one function running at once locally, unless `lambdaConcurrency` says otherwise. */
export const DEFAULT_LAMBDA_CONCURRENCY = 4;

export interface LocalRuntimeOptions {
  /** Stage settings, as `sst deploy` would take them (concurrency, chunk size, deadline...). */
  config?: Partial<StageConfig>;
  /** Where Slack alerts go; unset: the Block Kit JSON is saved under `outDir` instead. */
  slackWebhookUrl?: string;
  /** Per-attempt timeout and retry bounds of the Slack posts (the Lambdas' defaults: 5 s, 4 attempts in 20 s). */
  slack?: { timeoutMs?: number; retry?: SlackRetryOptions };
  /** Where local artifacts (saved alerts, report copies) are written. */
  outDir?: string;
  /**
   * Replaces every Retry interval, so failure paths finish in seconds; but not the backoff of a throttled Lambda
   * task, whose minutes are what lets a burst of uploads through.
   */
  retryIntervalMs?: number;
  /**
   * How many invocations of each Lambda function run at once, as an account's concurrency bounds them in AWS
   * (each convert invocation has an execution environment of its own: a worker thread and its heap); past it an
   * invocation is throttled (`Lambda.TooManyRequestsException`) and the workflow's Retry tries again. Default 4.
   */
  lambdaConcurrency?: number;
  /**
   * Waits between the attempts of an asynchronous invocation of NotifyFailure (Lambda's are 1 and 2 minutes);
   * shortened by default so a failed upload's alert follows in seconds.
   */
  notifyRetryDelaysMs?: readonly number[];
  logLevel?: "SILENT" | "DEBUG" | "INFO";
  /**
   * The S3/SQS endpoint the runtime's own handlers use instead of the emulator's (tests put a fault-injecting
   * proxy in front of the emulator here); the queues, the bucket and `adminServerConnection()` stay the emulator's.
   */
  awsEndpoint?: string;
  /**
   * Origins whose pages may PUT an upload form's file straight to the local bucket: its CORS rule, as the stack's
   * SLUICE_ALLOWED_ORIGINS makes it (`config.allowedOrigins`). None by default: no CORS rule.
   */
  corsOrigins?: readonly string[];
}

/** Progress of one upload's chunks, as the local runtime sees them leave and come back. */
export type RuntimeEvent =
  /** An object landed under uploads/ and its S3 event reached the start handler (`duplicate`: nothing new started). */
  | {
      type: "upload_started";
      uploadId: string;
      key: string;
      versionId: string;
      executionArn: string;
      duplicate: boolean;
      /** The S3 event notification the start handler received (S3 may deliver one more than once). */
      notification: S3EventNotification;
    }
  | { type: "converted"; uploadId: string; totalRows: number; totalChunks: number }
  | { type: "chunk_sent"; uploadId: string; index: number; rows: number; attempt: number }
  | { type: "chunk_done"; uploadId: string; index: number; rows: number; accepted: number; rejected: number }
  | { type: "chunk_failed"; uploadId: string; index: number; rows: number; error: string }
  | { type: "alert_saved"; uploadId: string; path: string }
  | { type: "failure_notified"; uploadId: string; executionArn: string; status: "succeeded" | "failed" }
  /** A message reached the chunk dead-letter queue's handler: a chunk envelope, or (never expected) anything else. */
  | { type: "dead_lettered"; chunk: { uploadId: string; index: number } | null; messageId: string };

/** What one execution used, as AWS would bill it (requests are the whole runtime's, measured at the emulator). */
export interface RuntimeUsage {
  transitions: number;
  childExecutions: number;
  lambda: { invocations: number; gbSeconds: number };
  requests: RequestCounts;
}

const STATE_MACHINE_NAME = "sluice-upload";
const STATE_MACHINE_ARN = `arn:aws:states:${PLACEHOLDER.region}:${PLACEHOLDER.account}:stateMachine:${STATE_MACHINE_NAME}`;
const DEAD_LETTER_QUEUE = "sluice-dead-letters";
/** Lambda retries a failed asynchronous invocation after 1 and 2 minutes; locally after 1 and 2 seconds. */
const LOCAL_NOTIFY_RETRY_DELAYS_MS = [1_000, 2_000] as const;
/** How long the start handler's outcome for an object waits for upload() to claim it. */
const STARTS_KEPT_MS = 10 * 60 * 1000;

/**
 * sluice on one machine, with no AWS account: the in-process SQS/S3 emulator, the Step Functions API on
 * loopback, and the workflow's own ASL executed with the real handler code. What AWS wires around the state
 * machine is wired here the same way: the S3 event reaches the start handler, the chunk dead-letter queue feeds
 * its handler as a Lambda event source mapping does, and a failed execution's status-change event reaches
 * NotifyFailure through the stack's own EventBridge pattern, invoked asynchronously with retries.
 * An admin consumer reaches it with unmodified SDK clients: `clientConfig` for SQS/S3, `stepFunctionsEndpoint`
 * for SFN.
 */
export class LocalRuntime extends EventEmitter {
  readonly stateMachineArn = STATE_MACHINE_ARN;
  readonly bucket = PLACEHOLDER.bucket;
  private readonly notifications = new Map<string, Promise<NotifyFailureOutput | undefined>>();
  /** Lambda GB-seconds by upload id (the handlers' events carry it; an execution's input names it). */
  private readonly lambdaGbSeconds = new Map<string, number>();
  private readonly shutdown = new AbortController();
  private deadLetters?: SqsEventSource;
  /** The convert Lambda's worker thread (undefined: the handler runs in this thread). */
  private convertWorker: WorkerLambda | undefined;
  /** Settles when the convert worker warmed at start has loaded its modules (see `warmed`). */
  private warming: Promise<void> = Promise.resolve();
  /** The start handler's outcome for each object created under uploads/, by `<key>\n<versionId>`. */
  private readonly starts = new Map<string, Promise<StartResult>>();

  private constructor(
    readonly config: StageConfig,
    readonly emulator: Emulator,
    readonly stepFunctionsEndpoint: string,
    readonly workflow: LocalWorkflow,
    private readonly api: StepFunctionsApi,
    readonly tokens: TaskTokens,
    private readonly meter: RequestMeter,
  ) {
    super();
  }

  get queueUrls() {
    return this.emulator.queueUrls;
  }

  /**
   * What an admin server needs to consume this runtime's chunks, as `createChunkConsumer` takes it: the chunk
   * queue and fresh SDK clients for SQS, Step Functions (the task callbacks) and S3 (the chunks' bytes).
   */
  adminServerConnection(): { queueUrl: string; sqs: SQSClient; sfn: SFNClient; s3: S3Client } {
    return {
      queueUrl: this.queueUrls.chunks,
      sqs: new SQSClient(this.emulator.clientConfig),
      sfn: this.sfnClient(),
      s3: this.s3Client(),
    };
  }

  /** An S3Client for the local bucket (an admin server's consumer fetches its chunks with one). */
  s3Client(): S3Client {
    return new S3Client({ ...this.emulator.clientConfig, forcePathStyle: true });
  }

  /** An SFNClient for the local Step Functions API (task callbacks, executions). */
  sfnClient(): SFNClient {
    return new SFNClient({ ...this.emulator.clientConfig, endpoint: this.stepFunctionsEndpoint });
  }

  static async start(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
    const config = checkStageConfig({
      ...DEFAULT_STAGE_CONFIG,
      ...options.config,
      ...(options.corsOrigins === undefined ? {} : { allowedOrigins: [...options.corsOrigins] }),
    });
    const emulator = await startEmulator({
      bucket: PLACEHOLDER.bucket,
      chunkQueue: PLACEHOLDER.chunkQueue,
      deadLetterQueue: DEAD_LETTER_QUEUE,
      config,
      region: PLACEHOLDER.region,
      corsOrigins: config.allowedOrigins,
    });
    const meter = startRequestMeter({ port: Number(new URL(emulator.endpoint).port) });
    const tokens = new TaskTokens();
    const logger = (name: string) => createLogger(name, { logLevel: options.logLevel ?? "SILENT" });
    const { s3, sqs } =
      options.awsEndpoint === undefined
        ? emulator
        : {
            s3: new S3Client({
              ...emulator.clientConfig,
              endpoint: options.awsEndpoint,
              forcePathStyle: true,
            }),
            sqs: new SQSClient({ ...emulator.clientConfig, endpoint: options.awsEndpoint }),
          };
    let runtime: LocalRuntime | undefined;
    const emit = (event: RuntimeEvent) => runtime?.emit("progress", event);

    const outDir = options.outDir ?? "out";
    const uploadDir = async (uploadId: string) => {
      const dir = join(outDir, uploadId);
      await mkdir(dir, { recursive: true });
      return dir;
    };
    // Reports live in the emulator's bucket; a person opens a file, so the link is a copy on disk.
    const reportLink = async (bucket: string, key: string) => {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const uploadId = key.slice(PROCESSED_PREFIX.length).split("/")[0] ?? "upload";
      const path = join(await uploadDir(uploadId), basename(key));
      await writeFile(path, await object.Body!.transformToByteArray());
      return path;
    };
    // No webhook locally: keep the exact Block Kit messages that would have been posted, in the order posted:
    // `<name>.json`, then `<name>-2.json`... (NotifyFailure posts the alert, then a follow-up with the report).
    const saveAlert = (uploadId: string, name: string) => {
      let posted = 0;
      return options.slackWebhookUrl
        ? undefined
        : async (message: unknown) => {
            posted++;
            const path = join(await uploadDir(uploadId), `${name}${posted > 1 ? `-${posted}` : ""}.json`);
            await writeFile(path, `${JSON.stringify(message, null, 2)}\n`);
            emit({ type: "alert_saved", uploadId, path });
            return "posted" as const;
          };
    };
    const bucketDeps = { s3, bucketName: PLACEHOLDER.bucket, processedPrefix: PROCESSED_PREFIX };
    // Lambda bills GB-seconds: each local invocation's wall time at the memory the stack gives the function.
    const metered =
      <E, R>(name: keyof typeof FUNCTION_MEMORY_MB, fn: (event: E) => Promise<R>) =>
      async (event: E): Promise<R> => {
        const started = performance.now();
        try {
          return await fn(event);
        } finally {
          const seconds = (performance.now() - started) / 1000;
          const uploadId = uploadIdOf(event);
          const spent = (seconds * FUNCTION_MEMORY_MB[name]) / 1024;
          runtime?.lambdaGbSeconds.set(uploadId, (runtime.lambdaGbSeconds.get(uploadId) ?? 0) + spent);
        }
      };

    // The convert Lambda runs in a worker thread of its own when its code can be found beside this module (the
    // sources, or a bundle built with convert-worker as an entry point); otherwise in this thread.
    const convertEntry = locateConvertWorker();
    const convertWorker =
      convertEntry &&
      new WorkerLambda(convertEntry, {
        clientConfig: { ...emulator.clientConfig, endpoint: options.awsEndpoint ?? emulator.endpoint },
        bucketName: PLACEHOLDER.bucket,
        processedPrefix: PROCESSED_PREFIX,
        chunkRows: config.chunkRows,
        chunkBytes: config.chunkBytes,
        logLevel: options.logLevel ?? "SILENT",
      });
    const convert: (event: unknown) => Promise<ConvertOutput> = convertWorker
      ? (event) => convertWorker.invoke(event) as Promise<ConvertOutput>
      : createConvertHandler({
          ...bucketDeps,
          chunkRows: config.chunkRows,
          chunkBytes: config.chunkBytes,
          logger: logger("sluice-convert"),
        });
    const summarize = (event: unknown) =>
      createSummarizeHandler({
        ...bucketDeps,
        logger: logger("sluice-summarize"),
        reportLink,
        notifySuccess: config.notifySuccess,
        stage: "local",
        region: PLACEHOLDER.region,
        slackWebhookUrl: options.slackWebhookUrl,
        slackTimeoutMs: options.slack?.timeoutMs,
        slackRetry: options.slack?.retry,
        alertSink: saveAlert(uploadIdOf(event), "slack-summary"),
      })(event);

    const workflow = new LocalWorkflow({
      asl: workflowAsl(config) as Asl,
      stateMachineArn: STATE_MACHINE_ARN,
      lambdaConcurrency: new LambdaConcurrency(options.lambdaConcurrency ?? DEFAULT_LAMBDA_CONCURRENCY),
      s3,
      tokens,
      ...(options.retryIntervalMs === undefined ? {} : { retryIntervalMs: options.retryIntervalMs }),
      lambdas: {
        [PLACEHOLDER.functions.convert]: metered("convert", async (event: unknown) => {
          const output = await convert(event);
          emit({
            type: "converted",
            uploadId: output.uploadId,
            totalRows: output.totalRows,
            totalChunks: output.totalChunks,
          });
          return output;
        }),
        [PLACEHOLDER.functions.summarize]: metered("summarize", summarize),
      },
      sendMessage: async (parameters) => {
        const { $metadata: _, ...sent } = await sqs.send(
          new SendMessageCommand({ ...parameters, QueueUrl: emulator.queueUrlFor(parameters.QueueUrl) }),
        );
        return sent;
      },
    });
    const chunkOf = (event: CallbackEvent) => {
      const body = JSON.parse(event.messageBody) as { uploadId: string; chunk: ChunkPointer };
      return { uploadId: body.uploadId, index: body.chunk.index, rows: body.chunk.rows };
    };
    workflow.on("callback_sent", (event: CallbackEvent) =>
      emit({ type: "chunk_sent", ...chunkOf(event), attempt: event.attempt }),
    );
    workflow.on("callback_settled", (event: CallbackSettledEvent) => {
      if (event.status === "SUCCEEDED") {
        const result = event.output as Partial<TaskResult> | undefined;
        emit({
          type: "chunk_done",
          ...chunkOf(event),
          accepted: result?.accepted ?? 0,
          rejected: result?.rejected?.rows.length ?? 0,
        });
      } else emit({ type: "chunk_failed", ...chunkOf(event), error: event.error });
    });

    const api = new StepFunctionsApi(tokens, {
      startExecution: ({ stateMachineArn, name, input }) => {
        if (stateMachineArn !== STATE_MACHINE_ARN) {
          throw new StatesError(
            "StateMachineDoesNotExist",
            `State machine does not exist: ${stateMachineArn}`,
          );
        }
        const record = workflow.start(name ?? `execution-${Date.now()}`, JSON.parse(input ?? "{}"));
        return { executionArn: record.executionArn, startDate: record.startDate };
      },
      ...workflowOperations(workflow),
    });
    const endpoint = await api.listen();
    runtime = new LocalRuntime(config, emulator, endpoint, workflow, api, tokens, meter);
    runtime.convertWorker = convertWorker;
    // Loaded now, beside the rest of the start-up, as a provisioned function would be: the first upload's
    // conversion does not wait for the worker's modules (a second or so from the TypeScript sources).
    if (convertWorker) runtime.warming = convertWorker.warm();
    const sfn = runtime.sfnClient();

    // The chunk dead-letter queue's handler, fed the way a Lambda SQS event source mapping feeds it.
    const chunkDeadLetter = createChunkDeadLetterHandler({
      sfn,
      maxReceiveCount: config.maxReceiveCount,
      logger: logger("sluice-chunk-dead-letter"),
    });
    runtime.deadLetters = startSqsEventSource({
      sqs,
      queueUrl: emulator.queueUrls.deadLetters,
      queueArn: emulator.queueArns.deadLetters,
      region: PLACEHOLDER.region,
      waitTimeSeconds: 1,
      handler: (event) => {
        for (const record of event.Records) {
          const parsed = ChunkEnvelopeSchema.safeParse(safeJson(record.body));
          emit({
            type: "dead_lettered",
            messageId: record.messageId,
            chunk: parsed.success ? { uploadId: parsed.data.uploadId, index: parsed.data.chunk.index } : null,
          });
        }
        return chunkDeadLetter(event);
      },
    });

    // EventBridge: the stack's own rule pattern decides which status changes reach NotifyFailure.
    const notify = (event: unknown) =>
      createNotifyFailureHandler({
        ...bucketDeps,
        sfn,
        stage: "local",
        region: PLACEHOLDER.region,
        slackWebhookUrl: options.slackWebhookUrl,
        slackTimeoutMs: options.slack?.timeoutMs,
        slackRetry: options.slack?.retry,
        logger: logger("sluice-notify-failure"),
        reportLink,
        alertSink: saveAlert(uploadIdFromEvent(event), "slack-alert"),
      })(event);
    const pattern = failureEventPattern(STATE_MACHINE_ARN);
    const local = runtime;
    workflow.on("execution_finished", (execution: Execution) => {
      const event = executionStatusChangeEvent({
        executionArn: execution.executionArn,
        stateMachineArn: execution.stateMachineArn,
        name: execution.name,
        status: execution.status,
        startDate: execution.startDate,
        ...(execution.stopDate ? { stopDate: execution.stopDate } : {}),
        input: JSON.stringify(execution.input),
        ...(execution.output === undefined ? {} : { output: JSON.stringify(execution.output) }),
        ...(execution.error ? { error: execution.error } : {}),
        ...(execution.cause ? { cause: execution.cause } : {}),
        redriveCount: execution.redriveCount,
        ...(execution.redriveDate ? { redriveDate: execution.redriveDate } : {}),
      });
      if (!matchesPattern(pattern, event)) return;
      const uploadId = uploadIdFromEvent(event);
      const done = invokeAsync(notify, event, {
        retryDelaysMs: options.notifyRetryDelaysMs ?? LOCAL_NOTIFY_RETRY_DELAYS_MS,
        signal: local.shutdown.signal,
        onFailure: (_, error) =>
          logger("sluice-local").error("NotifyFailure failed every attempt", { error: error as Error }),
      }).then((outcome) => {
        if (outcome.status !== "aborted") {
          emit({
            type: "failure_notified",
            uploadId,
            executionArn: execution.executionArn,
            status: outcome.status,
          });
        }
        return outcome.status === "succeeded" ? outcome.result : undefined;
      });
      local.notifications.set(execution.executionArn, done);
    });

    // S3 event notifications: every object created under uploads/ (the stack's filter), however it was written
    // (runtime.upload(), a browser's presigned PUT, any SDK client), reaches the start handler the way S3 invokes
    // it: asynchronously, retried as Lambda retries an asynchronous invocation.
    const start = createStartHandler({
      sfn,
      stateMachineArn: STATE_MACHINE_ARN,
      logger: logger("sluice-start"),
    });
    emulator.onObjectCreated((created) => {
      if (created.bucket !== PLACEHOLDER.bucket || !created.key.startsWith(UPLOADS_PREFIX)) return;
      const event = s3Event(created.bucket, created.key, created.size, created.eTag, created.versionId, {
        eventName: created.eventName,
        eventTime: created.eventTime,
      });
      const id = `${created.key}\n${created.versionId}`;
      const started = invokeAsync(start, event, {
        retryDelaysMs: options.notifyRetryDelaysMs ?? LOCAL_NOTIFY_RETRY_DELAYS_MS,
        signal: local.shutdown.signal,
        onFailure: (_, error) =>
          logger("sluice-local").error("The start handler failed every attempt", { error: error as Error }),
      }).then((outcome) => {
        if (outcome.status === "succeeded") return outcome.result;
        throw outcome.status === "failed" ? outcome.error : new Error("the local runtime stopped");
      });
      started.then(
        (result) => {
          for (const uploadId of [...result.started, ...result.duplicates]) {
            emit({
              type: "upload_started",
              uploadId,
              key: created.key,
              versionId: created.versionId,
              executionArn: executionArnOf(uploadId),
              duplicate: !result.started.includes(uploadId),
              notification: event,
            });
          }
        },
        () => undefined,
      );
      local.starts.set(id, started);
      // upload() claims its own right away; an outcome nobody asks for (a browser's upload) is let go.
      setTimeout(() => local.starts.delete(id), STARTS_KEPT_MS).unref();
    });
    return runtime;
  }

  /**
   * What a customer's upload does in the cloud: the file lands under uploads/, and the S3 event (same shape)
   * reaches the real start handler, which starts the workflow through the Step Functions API. `file` may be a
   * stream (an HTTP request body): it goes to the bucket part by part, never whole in memory.
   */
  async upload(
    file: Buffer | Readable,
    name: string,
  ): Promise<{ key: string; executionArn: string; uploadId: string; duplicate: boolean }> {
    // An S3 key is UTF-8: a lone surrogate has no encoding, so no request could name the object.
    if (/\p{Cs}/u.test(name))
      throw new InvalidOptionError(`the file name ${JSON.stringify(name)} is not valid text`);
    const key = `${UPLOADS_PREFIX}${basename(name)}`;
    // Multipart like a browser or the AWS CLI would for a big file (the emulator caps a single PUT at 10 MiB).
    const put = await new Upload({
      client: this.emulator.s3,
      params: { Bucket: this.bucket, Key: key, Body: file },
      partSize: 8 * 1024 * 1024,
    }).done();
    // The bucket is versioned, as the stack's is: every PUT is a new version, and the event names it, so the
    // execution (and a later reprocess) reads exactly these bytes. As on AWS, the same bytes uploaded again are a
    // new version and a new upload; only the same event delivered twice is a duplicate. The object's S3 event was
    // handed to the start handler as the object was stored; its outcome is this upload's.
    const id = `${key}\n${put.VersionId}`;
    const started = this.starts.get(id);
    if (!started) throw new Error(`no S3 event was sent for ${key} (version ${put.VersionId})`);
    this.starts.delete(id);
    const result = await started;
    const uploadId = result.started[0] ?? result.duplicates[0];
    if (!uploadId) throw new Error(`the start handler started nothing for ${key}`);
    return { key, executionArn: executionArnOf(uploadId), uploadId, duplicate: result.started.length === 0 };
  }

  /**
   * Resolves once the convert function's warm environment has loaded its modules. `start()` returns before that
   * (an upload right away overlaps the loading, as the demo's does); a measurement of one upload waits for it, so
   * that it times the upload, not the runtime's start-up. Never rejects: a worker that failed to load reports its
   * error to the invocation that needs it.
   */
  warmed(): Promise<void> {
    return this.warming;
  }

  async waitForExecution(executionArn: string): Promise<Execution> {
    const record = this.workflow.get(executionArn);
    if (!record) throw new Error(`no execution ${executionArn}`);
    return record.done;
  }

  /**
   * The outcome of NotifyFailure for the execution's latest failure (undefined when it failed every attempt),
   * or undefined at once when no failure was notified.
   */
  async failureNotification(executionArn: string): Promise<NotifyFailureOutput | undefined> {
    return this.notifications.get(executionArn);
  }

  /** What the execution used so far: transitions and Lambda as billed, and every request the emulator saw. */
  usage(executionArn: string): RuntimeUsage {
    const usage = this.workflow.usage(executionArn);
    const execution = this.workflow.get(executionArn);
    if (!usage || !execution) throw new Error(`no execution ${executionArn}`);
    const uploadId = uploadIdOf(execution.input);
    return {
      transitions: usage.transitions,
      childExecutions: usage.childExecutions,
      lambda: { invocations: usage.lambdaInvocations, gbSeconds: this.lambdaGbSeconds.get(uploadId) ?? 0 },
      requests: this.meter.snapshot(),
    };
  }

  /** The usage priced as AWS bills it (SQS and S3 requests: all the emulator saw, the admin server's included). */
  estimatedCost(executionArn: string): CostEstimate {
    const usage = this.usage(executionArn);
    const { s3 } = usage.requests;
    return estimateCost({
      transitions: usage.transitions,
      sqsRequests: usage.requests.sqs.units,
      lambdaGbSeconds: usage.lambda.gbSeconds,
      // The start function runs once per upload, outside the workflow.
      lambdaRequests: usage.lambda.invocations + 1,
      s3Get: s3.get,
      s3Put: s3.put + s3.list,
    });
  }

  async stop(): Promise<void> {
    this.shutdown.abort();
    await this.deadLetters?.stop();
    await Promise.allSettled(this.notifications.values());
    await this.workflow.close();
    await this.convertWorker?.close();
    await this.api.close();
    this.meter.stop();
    await this.emulator.stop();
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function uploadIdOf(event: unknown): string {
  return String((event as { uploadId?: unknown } | null)?.uploadId ?? "upload");
}

function uploadIdFromEvent(event: unknown): string {
  try {
    const input = (event as { detail?: { input?: unknown } }).detail?.input;
    const uploadId =
      typeof input === "string" ? (JSON.parse(input) as { uploadId?: unknown }).uploadId : undefined;
    return typeof uploadId === "string" ? uploadId : "upload";
  } catch {
    return "upload";
  }
}

/** The execution an upload id names (the start handler names executions by upload id). */
function executionArnOf(uploadId: string): string {
  return `${STATE_MACHINE_ARN.replace(":stateMachine:", ":execution:")}:${uploadId}`;
}

export type S3EventNotification = ReturnType<typeof s3Event>;

/** The S3 event notification AWS sends for a new object (one record). */
export function s3Event(
  bucket: string,
  key: string,
  size: number,
  eTag: string,
  versionId: string | undefined,
  how: { eventName?: ObjectCreated["eventName"]; eventTime?: Date } = {},
) {
  return {
    Records: [
      {
        eventVersion: "2.1",
        eventSource: "aws:s3",
        awsRegion: PLACEHOLDER.region,
        eventTime: (how.eventTime ?? new Date()).toISOString(),
        eventName: how.eventName ?? "ObjectCreated:Put",
        userIdentity: { principalId: "local" },
        requestParameters: { sourceIPAddress: "127.0.0.1" },
        responseElements: { "x-amz-request-id": "local", "x-amz-id-2": "local" },
        s3: {
          s3SchemaVersion: "1.0",
          configurationId: "upload",
          bucket: { name: bucket, ownerIdentity: { principalId: "local" }, arn: `arn:aws:s3:::${bucket}` },
          object: {
            key: encodeURIComponent(key).replace(/%2F/g, "/").replace(/%20/g, "+"),
            size,
            eTag,
            ...(versionId ? { versionId } : {}),
            sequencer: "0",
          },
        },
      },
    ],
  };
}
