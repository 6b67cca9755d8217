import { DescribeExecutionCommand } from "@aws-sdk/client-sfn";
import { InvalidOptionError } from "@sluice/core";
import { reprocessUpload } from "./reprocess.ts";
import {
  executionArnFor,
  parseCommandArgs,
  STEP_FUNCTIONS_OPTIONS,
  STEP_FUNCTIONS_USAGE,
  sfnClientFor,
  stepFunctionsTarget,
} from "./step-functions-options.ts";

export const REPROCESS_USAGE = `usage: sluice reprocess <upload-id> --force [options]

An upload's S3 event seen again starts nothing (its execution name is derived from key and version); the same
file uploaded again is a new version and a new upload. With --force this starts a NEW execution for the very
version an upload read, named <upload-id>-r2 (then -r3...), which
is also its upload id: new chunks, new idempotency keys. Without --force it only says what exists.
${STEP_FUNCTIONS_USAGE}`;

export interface ReprocessSummary {
  uploadId: string;
  started: boolean;
  reprocessId?: string;
  executionArn: string;
  status?: string;
}

export async function runReprocess(argv: string[], say: (line: string) => void): Promise<ReprocessSummary> {
  const { values, positionals } = parseCommandArgs(
    argv,
    { ...STEP_FUNCTIONS_OPTIONS, force: { type: "boolean" } },
    REPROCESS_USAGE,
  );
  if (positionals.length !== 1) throw new InvalidOptionError(`expected one upload id\n${REPROCESS_USAGE}`);
  const uploadId = positionals[0]!;
  const target = stepFunctionsTarget(values, REPROCESS_USAGE);
  const sfn = sfnClientFor(target);
  try {
    if (!values.force) {
      const executionArn = executionArnFor(target.stateMachineArn, uploadId);
      const { status } = await sfn
        .send(new DescribeExecutionCommand({ executionArn }))
        .catch((error: Error) => {
          if (error.name === "ExecutionDoesNotExist") throw new InvalidOptionError(`no upload ${uploadId}`);
          throw error;
        });
      if (!values.json)
        say(`upload ${uploadId} exists (${status}): nothing started; --force starts a new execution`);
      return { uploadId, started: false, executionArn, ...(status ? { status } : {}) };
    }
    const result = await reprocessUpload(sfn, target.stateMachineArn, uploadId);
    if (!values.json) say(`started ${result.reprocessId}: ${result.executionArn}`);
    return { uploadId, started: true, reprocessId: result.reprocessId, executionArn: result.executionArn };
  } finally {
    sfn.destroy();
  }
}
