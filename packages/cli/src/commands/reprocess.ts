import { DescribeExecutionCommand, type SFNClient, StartExecutionCommand } from "@aws-sdk/client-sfn";
import { InvalidOptionError } from "@sluice/core";
import { executionArnFor } from "./step-functions-options.ts";

/** Step Functions execution names: at most 80 characters. */
const MAX_NAME = 80;
const MAX_RUNS = 99;

export interface ReprocessResult {
  /** The original upload id. */
  uploadId: string;
  /** The new execution's name and upload id: `<uploadId>-r<N>`, N from 2. */
  reprocessId: string;
  executionArn: string;
}

/**
 * Starts a NEW execution for an upload's source object: named `<uploadId>-r2` (then -r3...), with the same
 * source and a new upload id equal to that name, so its chunks (and the admin server's idempotency keys) are
 * new too. A plain re-upload of the same object version starts nothing: its execution name already exists.
 */
export async function reprocessUpload(
  sfn: SFNClient,
  stateMachineArn: string,
  uploadId: string,
  now: () => Date = () => new Date(),
): Promise<ReprocessResult> {
  const original = await sfn
    .send(new DescribeExecutionCommand({ executionArn: executionArnFor(stateMachineArn, uploadId) }))
    .catch((error: Error) => {
      if (error.name === "ExecutionDoesNotExist")
        throw new InvalidOptionError(`no upload ${JSON.stringify(uploadId)} to reprocess`);
      throw error;
    });
  const input = JSON.parse(original.input ?? "{}") as Record<string, unknown>;
  for (let run = 2; run <= MAX_RUNS; run++) {
    const reprocessId = `${uploadId.slice(0, MAX_NAME - `-r${run}`.length)}-r${run}`;
    try {
      const { executionArn } = await sfn.send(
        new StartExecutionCommand({
          stateMachineArn,
          name: reprocessId,
          input: JSON.stringify({ ...input, uploadId: reprocessId, receivedAt: now().toISOString() }),
        }),
      );
      return {
        uploadId,
        reprocessId,
        executionArn: executionArn ?? executionArnFor(stateMachineArn, reprocessId),
      };
    } catch (error) {
      if ((error as Error).name !== "ExecutionAlreadyExists") throw error;
    }
  }
  throw new InvalidOptionError(`upload ${uploadId} was already reprocessed ${MAX_RUNS - 1} times`);
}
