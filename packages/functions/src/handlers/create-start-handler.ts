import { DescribeExecutionCommand, type SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { type ExecutionInput, ExecutionInputSchema, parseFormUploadKey } from "@sluice/contract";
import { deriveUploadId } from "@sluice/core";
import type { S3Event, S3EventRecord } from "aws-lambda";
import { type Logger, logUpload } from "../logger.ts";

export interface StartDeps {
  sfn: SFNClient;
  stateMachineArn: string;
  logger: Logger;
}

export interface StartResult {
  /** Upload ids whose execution this call started (or that Step Functions reported as already running with the same input). */
  started: string[];
  /** Upload ids whose execution already existed: a duplicate S3 event, nothing new started. */
  duplicates: string[];
}

/** S3 event keys are URL-encoded with "+" for spaces. */
export function decodeS3Key(key: string): string {
  return decodeURIComponent(key.replace(/\+/g, " "));
}

/** What identifies the object's version: its version id, else its ETag, else its size. */
function fingerprintOf(record: S3EventRecord): string {
  const { versionId, eTag, size } = record.s3.object;
  return versionId || eTag || String(size);
}

/**
 * The execution input for one S3 record, or undefined for records that are not uploads (folder markers, deletes).
 * A signed upload form's key carries the upload id the browser follows (`parseFormUploadKey`); any other key gets
 * an id derived from the key and the object's version.
 */
export function executionInputFor(record: S3EventRecord): ExecutionInput | undefined {
  if (record.eventName && !record.eventName.startsWith("ObjectCreated:")) return undefined;
  const key = decodeS3Key(record.s3.object.key);
  if (key.endsWith("/")) return undefined;
  const { versionId } = record.s3.object;
  const eventTime = Date.parse(record.eventTime);
  return {
    uploadId: parseFormUploadKey(key)?.uploadId ?? deriveUploadId(key, fingerprintOf(record)),
    source: { bucket: record.s3.bucket.name, key, ...(versionId ? { versionId } : {}) },
    // The event's own time keeps the input identical for a redelivered event.
    receivedAt: new Date(Number.isNaN(eventTime) ? Date.now() : eventTime).toISOString(),
  };
}

/**
 * Whether an existing execution's input names the same object version as `input`: then the event is a duplicate.
 * Without a version id (an unversioned bucket) the key alone does not tell two PUTs apart, so the event's time
 * must match too (a redelivered event keeps it).
 */
function sameObject(existing: ExecutionInput, input: ExecutionInput): boolean {
  const a = existing.source;
  const b = input.source;
  if (a.bucket !== b.bucket || a.key !== b.key || a.versionId !== b.versionId) return false;
  return b.versionId !== undefined || existing.receivedAt === input.receivedAt;
}

const isAlreadyExists = (error: unknown) => (error as Error)?.name === "ExecutionAlreadyExists";

/**
 * One execution per uploaded object, named by its upload id so a duplicate event starts nothing new.
 *
 * A form's key names its execution after the form's upload id. The key is meant to be written once (the form
 * signs If-None-Match: *), but anyone allowed to PUT there by other means can write it again: StartExecution then
 * answers ExecutionAlreadyExists, and DescribeExecution tells a duplicate event (same bucket, key and version) from
 * a new version, which is started under the id derived from its key and version like any other key, so no upload
 * is ever dropped silently.
 */
export function createHandler(deps: StartDeps) {
  const executionArnOf = (name: string) =>
    `${deps.stateMachineArn.replace(":stateMachine:", ":execution:")}:${name}`;

  /** Starts the execution; "duplicate" when Step Functions says one of that name already exists. */
  async function start(input: ExecutionInput): Promise<"started" | "duplicate"> {
    try {
      const { executionArn } = await deps.sfn.send(
        new StartExecutionCommand({
          stateMachineArn: deps.stateMachineArn,
          name: input.uploadId,
          input: JSON.stringify(input),
        }),
      );
      deps.logger.info("Started the upload's execution", { executionArn, source: input.source });
      return "started";
    } catch (error) {
      if (isAlreadyExists(error)) return "duplicate";
      throw error;
    }
  }

  /** The input of the execution already named `uploadId`; undefined when it is not an upload's input. */
  async function existingInput(uploadId: string): Promise<ExecutionInput | undefined> {
    const described = await deps.sfn.send(
      new DescribeExecutionCommand({ executionArn: executionArnOf(uploadId) }),
    );
    try {
      return ExecutionInputSchema.parse(JSON.parse(described.input ?? "null"));
    } catch {
      return undefined;
    }
  }

  /** Starts the record's upload; the id it ran under and whether it was new. */
  async function startRecord(
    record: S3EventRecord,
    input: ExecutionInput,
  ): Promise<{ uploadId: string; outcome: "started" | "duplicate" }> {
    if ((await start(input)) === "started") return { uploadId: input.uploadId, outcome: "started" };
    // A derived id already names the key and version: the same name is the same object.
    if (!parseFormUploadKey(input.source.key)) return { uploadId: input.uploadId, outcome: "duplicate" };
    const existing = await existingInput(input.uploadId);
    if (existing && sameObject(existing, input)) return { uploadId: input.uploadId, outcome: "duplicate" };
    const other: ExecutionInput = {
      ...input,
      uploadId: deriveUploadId(input.source.key, fingerprintOf(record)),
    };
    deps.logger.warn(
      "The form's upload id already names another object version's execution: this version is started under its derived id",
      {
        formUploadId: input.uploadId,
        uploadId: other.uploadId,
        existing: existing?.source,
        source: input.source,
      },
    );
    logUpload(deps.logger, other.uploadId);
    return { uploadId: other.uploadId, outcome: await start(other) };
  }

  return async (event: S3Event): Promise<StartResult> => {
    const result: StartResult = { started: [], duplicates: [] };
    const failures: string[] = [];
    for (const record of event.Records ?? []) {
      const input = executionInputFor(record);
      if (!input) {
        deps.logger.info("Ignoring a record that is not an upload", {
          key: record.s3.object.key,
          eventName: record.eventName,
        });
        continue;
      }
      logUpload(deps.logger, input.uploadId);
      try {
        const { uploadId, outcome } = await startRecord(record, input);
        if (outcome === "started") result.started.push(uploadId);
        else {
          deps.logger.info("Execution already exists: duplicate S3 event, nothing started", {
            uploadId,
            source: input.source,
          });
          result.duplicates.push(uploadId);
        }
      } catch (error) {
        deps.logger.error("Starting the execution failed", { error: error as Error, source: input.source });
        failures.push(`${input.uploadId}: ${(error as Error)?.name}: ${(error as Error)?.message}`);
      }
    }
    deps.logger.resetKeys();
    // Throwing makes Lambda retry the event; executions already started are then reported as duplicates.
    if (failures.length > 0)
      throw new Error(`Starting ${failures.length} execution(s) failed: ${failures.join("; ")}`);
    return result;
  };
}
