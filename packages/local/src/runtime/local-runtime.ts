import { EventEmitter } from "node:events";
import { mkdir, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";
import { GetObjectCommand } from "@aws-sdk/client-s3";
import { SFNClient } from "@aws-sdk/client-sfn";
import { SendMessageCommand } from "@aws-sdk/client-sqs";
import { Upload } from "@aws-sdk/lib-storage";
import {
  createConvertHandler,
  createLogger,
  createNotifyFailureHandler,
  createStartHandler,
  createSummarizeHandler,
  DeadLetterQueue,
  type NotifyFailureOutput,
} from "@sluice/functions";
import { PROCESSED_PREFIX, UPLOADS_PREFIX } from "../../../../stacks/bucket-layout.ts";
import {
  DEFAULT_STAGE_CONFIG,
  type StageConfig,
  visibilityTimeoutSeconds,
} from "../../../../stacks/stage-config.ts";
import { PLACEHOLDER, workflowAsl } from "../../../../stacks/workflow-asl.ts";
import { type Emulator, startEmulator } from "./emulator.ts";
import { type Asl, type ExecutionRecord, LocalWorkflow } from "./local-workflow.ts";
import { StepFunctionsApi } from "./step-functions-api.ts";
import { StatesError, TaskTokens } from "./task-tokens.ts";
import { workflowOperations } from "./workflow-operations.ts";

export interface LocalRuntimeOptions {
  /** Stage settings, as `sst deploy` would take them (concurrency, chunk size, heartbeat...). */
  config?: Partial<StageConfig>;
  /** Where Slack alerts go; unset: the Block Kit JSON is saved under `outDir` instead. */
  slackWebhookUrl?: string;
  /** Where local artifacts (saved alerts) are written. */
  outDir?: string;
  /** Replaces every Retry interval, so failure paths finish in seconds. */
  retryIntervalMs?: number;
  logLevel?: "SILENT" | "DEBUG" | "INFO";
}

/** Progress of one upload's chunks, as the local runtime sees them leave and come back. */
export type RuntimeEvent =
  | { type: "converted"; uploadId: string; totalRows: number; totalChunks: number }
  | { type: "chunk_sent"; uploadId: string; index: number; rows: number; attempt: number }
  | { type: "chunk_done"; uploadId: string; index: number; rows: number; accepted: number; rejected: number }
  | { type: "chunk_failed"; uploadId: string; index: number; rows: number; error: string }
  | { type: "alert_saved"; uploadId: string; path: string };

const STATE_MACHINE_ARN = `arn:aws:states:${PLACEHOLDER.region}:${PLACEHOLDER.account}:stateMachine:sluice-upload`;
const DEAD_LETTER_QUEUE = "sluice-dead-letters";

/**
 * sluice on one machine, with no AWS account: the in-process SQS/S3 emulator, the Step Functions API on
 * loopback, and the workflow's own ASL executed with the real handler code. An admin consumer reaches it with
 * unmodified SDK clients: `clientConfig` for SQS/S3, `stepFunctionsEndpoint` for SFN.
 */
export class LocalRuntime extends EventEmitter {
  readonly stateMachineArn = STATE_MACHINE_ARN;
  readonly bucket = PLACEHOLDER.bucket;

  private constructor(
    readonly config: StageConfig,
    readonly emulator: Emulator,
    readonly stepFunctionsEndpoint: string,
    readonly workflow: LocalWorkflow,
    private readonly api: StepFunctionsApi,
    readonly tokens: TaskTokens,
  ) {
    super();
  }

  get queueUrls() {
    return this.emulator.queueUrls;
  }

  /** An SFNClient for the local Step Functions API (task callbacks, executions). */
  sfnClient(): SFNClient {
    return new SFNClient({ ...this.emulator.clientConfig, endpoint: this.stepFunctionsEndpoint });
  }

  static async start(options: LocalRuntimeOptions = {}): Promise<LocalRuntime> {
    const config = { ...DEFAULT_STAGE_CONFIG, ...options.config };
    const emulator = await startEmulator({
      bucket: PLACEHOLDER.bucket,
      chunkQueue: PLACEHOLDER.chunkQueue,
      deadLetterQueue: DEAD_LETTER_QUEUE,
      visibilityTimeoutSeconds: visibilityTimeoutSeconds(config),
      maxReceiveCount: config.maxReceiveCount,
      region: PLACEHOLDER.region,
    });
    const tokens = new TaskTokens();
    const logger = (name: string) => createLogger(name, { logLevel: options.logLevel ?? "SILENT" });
    const { s3, sqs } = emulator;
    let runtime: LocalRuntime | undefined;
    const emit = (event: RuntimeEvent) => runtime?.emit("progress", event);

    const convert = createConvertHandler({
      s3,
      bucketName: PLACEHOLDER.bucket,
      processedPrefix: PROCESSED_PREFIX,
      chunkRows: config.chunkRows,
      chunkBytes: config.chunkBytes,
      logger: logger("sluice-convert"),
    });
    const deadLetterQueue = new DeadLetterQueue({ client: sqs, queueUrl: emulator.queueUrls.deadLetters });
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
    // No webhook locally: keep the exact Block Kit message that would have been posted.
    const saveAlert = (uploadId: string, file: string) =>
      options.slackWebhookUrl
        ? undefined
        : async (message: unknown) => {
            const path = join(await uploadDir(uploadId), file);
            await writeFile(path, `${JSON.stringify(message, null, 2)}\n`);
            emit({ type: "alert_saved", uploadId, path });
            return "posted" as const;
          };
    const uploadIdOf = (event: unknown) => String((event as { uploadId?: unknown }).uploadId ?? "upload");
    const summarize = (event: unknown) =>
      createSummarizeHandler({
        s3,
        bucketName: PLACEHOLDER.bucket,
        processedPrefix: PROCESSED_PREFIX,
        logger: logger("sluice-summarize"),
        reportLink,
        notifySuccess: config.notifySuccess,
        stage: "local",
        region: PLACEHOLDER.region,
        slackWebhookUrl: options.slackWebhookUrl,
        alertSink: saveAlert(uploadIdOf(event), "slack-summary.json"),
      })(event as never);
    const notify = (event: unknown): Promise<NotifyFailureOutput> =>
      createNotifyFailureHandler({
        deadLetterQueue,
        s3,
        stage: "local",
        region: PLACEHOLDER.region,
        slackWebhookUrl: options.slackWebhookUrl,
        logger: logger("sluice-notify-failure"),
        reportLink,
        alertSink: saveAlert(uploadIdOf(event), "slack-alert.json"),
      })(event as never);

    const workflow = new LocalWorkflow({
      asl: workflowAsl(config) as Asl,
      stateMachineArn: STATE_MACHINE_ARN,
      s3,
      ...(options.retryIntervalMs === undefined ? {} : { retryIntervalMs: options.retryIntervalMs }),
      lambdas: {
        [PLACEHOLDER.functions.convert]: async (event) => {
          const output = await convert(event as never);
          emit({
            type: "converted",
            uploadId: output.uploadId,
            totalRows: output.totalRows,
            totalChunks: output.totalChunks,
          });
          return output;
        },
        [PLACEHOLDER.functions.summarize]: (event) => summarize(event),
        [PLACEHOLDER.functions.notifyFailure]: (event) => notify(event),
      },
      waitForTaskToken: async (parameters, state, signal) => {
        const token = tokens.issue();
        const body: Record<string, unknown> = { ...parameters.MessageBody, taskToken: token };
        const chunk = body.chunk as { index: number; rows: unknown[] };
        const uploadId = String(body.uploadId);
        const waiting = tokens.wait(token, {
          ...(state.HeartbeatSeconds ? { heartbeatSeconds: state.HeartbeatSeconds } : {}),
          ...(state.TimeoutSeconds ? { timeoutSeconds: state.TimeoutSeconds } : {}),
          signal,
        });
        if (signal.aborted)
          throw new StatesError("States.Aborted", "The execution stopped before the chunk was sent");
        await sqs.send(
          new SendMessageCommand({
            QueueUrl: emulator.queueUrlFor(parameters.QueueUrl),
            MessageBody: JSON.stringify(body),
          }),
        );
        emit({ type: "chunk_sent", uploadId, index: chunk.index, rows: chunk.rows.length, attempt: 1 });
        try {
          const output = (await waiting) as { accepted?: number; rejected?: unknown[] };
          emit({
            type: "chunk_done",
            uploadId,
            index: chunk.index,
            rows: chunk.rows.length,
            accepted: output?.accepted ?? 0,
            rejected: output?.rejected?.length ?? 0,
          });
          return output;
        } catch (error) {
          emit({
            type: "chunk_failed",
            uploadId,
            index: chunk.index,
            rows: chunk.rows.length,
            error: (error as Error).name,
          });
          throw error;
        }
      },
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
      describeExecution: (executionArn) => {
        const record = workflow.get(executionArn);
        if (!record)
          throw new StatesError("ExecutionDoesNotExist", `Execution does not exist: ${executionArn}`);
        return describe(record);
      },
      listExecutions: () => workflow.all.map(describe),
      ...workflowOperations(workflow),
    });
    const endpoint = await api.listen();
    runtime = new LocalRuntime(config, emulator, endpoint, workflow, api, tokens);
    return runtime;
  }

  /**
   * What a customer's upload does in the cloud: the file lands under uploads/, and the S3 event (same shape)
   * reaches the real start handler, which starts the workflow through the Step Functions API.
   */
  async upload(
    file: Buffer,
    name: string,
  ): Promise<{ key: string; executionArn: string; uploadId: string; duplicate: boolean }> {
    const key = `${UPLOADS_PREFIX}${basename(name)}`;
    // Multipart like a browser or the AWS CLI would for a big file (the emulator caps a single PUT at 10 MiB).
    const put = await new Upload({
      client: this.emulator.s3,
      params: { Bucket: this.bucket, Key: key, Body: file },
      partSize: 8 * 1024 * 1024,
    }).done();
    const start = createStartHandler({
      sfn: this.sfnClient(),
      stateMachineArn: this.stateMachineArn,
      logger: createLogger("sluice-start", { logLevel: "SILENT" }),
    });
    const eTag = (put.ETag ?? "").replace(/"/g, "");
    const result = await start(s3Event(this.bucket, key, file.length, eTag));
    const uploadId = result.started[0] ?? result.duplicates[0];
    if (!uploadId) throw new Error(`the start handler started nothing for ${key}`);
    const executionArn = `${this.stateMachineArn.replace(":stateMachine:", ":execution:")}:${uploadId}`;
    return { key, executionArn, uploadId, duplicate: result.started.length === 0 };
  }

  async waitForExecution(executionArn: string): Promise<ExecutionRecord> {
    const record = this.workflow.get(executionArn);
    if (!record) throw new Error(`no execution ${executionArn}`);
    return record.done;
  }

  async stop(): Promise<void> {
    await this.api.close();
    await this.emulator.stop();
  }
}

function describe(record: ExecutionRecord): Record<string, unknown> {
  return {
    executionArn: record.executionArn,
    stateMachineArn: record.stateMachineArn,
    name: record.name,
    status: record.status,
    startDate: record.startDate.getTime() / 1000,
    ...(record.stopDate ? { stopDate: record.stopDate.getTime() / 1000 } : {}),
    input: JSON.stringify(record.input),
    ...(record.output === undefined ? {} : { output: JSON.stringify(record.output) }),
    ...(record.error ? { error: record.error } : {}),
    ...(record.cause ? { cause: record.cause } : {}),
  };
}

/** The S3 event notification AWS sends for a new object (one record). */
function s3Event(bucket: string, key: string, size: number, eTag: string) {
  return {
    Records: [
      {
        eventVersion: "2.1",
        eventSource: "aws:s3",
        awsRegion: PLACEHOLDER.region,
        eventTime: new Date().toISOString(),
        eventName: "ObjectCreated:Put",
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
            sequencer: "0",
          },
        },
      },
    ],
  };
}
