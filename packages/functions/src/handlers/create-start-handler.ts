import { type SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import type { ExecutionInput } from "@sluice/contract";
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

/** The execution input for one S3 record, or undefined for records that are not uploads (folder markers, deletes). */
export function executionInputFor(record: S3EventRecord): ExecutionInput | undefined {
  if (record.eventName && !record.eventName.startsWith("ObjectCreated:")) return undefined;
  const key = decodeS3Key(record.s3.object.key);
  if (key.endsWith("/")) return undefined;
  const { versionId, eTag, size } = record.s3.object;
  const fingerprint = versionId || eTag || String(size);
  const eventTime = Date.parse(record.eventTime);
  return {
    uploadId: deriveUploadId(key, fingerprint),
    source: { bucket: record.s3.bucket.name, key, ...(versionId ? { versionId } : {}) },
    // The event's own time keeps the input identical for a redelivered event.
    receivedAt: new Date(Number.isNaN(eventTime) ? Date.now() : eventTime).toISOString(),
  };
}

/** One execution per uploaded object, named by its upload id so a duplicate event starts nothing new. */
export function createHandler(deps: StartDeps) {
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
        const command = {
          stateMachineArn: deps.stateMachineArn,
          name: input.uploadId,
          input: JSON.stringify(input),
        };
        const { executionArn } = await deps.sfn.send(new StartExecutionCommand(command));
        deps.logger.info("Started the upload's execution", { executionArn, source: input.source });
        result.started.push(input.uploadId);
      } catch (error) {
        if ((error as Error)?.name === "ExecutionAlreadyExists") {
          deps.logger.info("Execution already exists: duplicate S3 event, nothing started", {
            source: input.source,
          });
          result.duplicates.push(input.uploadId);
          continue;
        }
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
