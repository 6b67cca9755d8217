import { RedriveExecutionCommand, type SFNClient } from "@aws-sdk/client-sfn";
import { InvalidOptionError } from "@sluice/core";
import {
  executionArnFor,
  parseCommandArgs,
  STEP_FUNCTIONS_OPTIONS,
  STEP_FUNCTIONS_USAGE,
  sfnClientFor,
  stepFunctionsTarget,
} from "./step-functions-options.ts";

export const REDRIVE_USAGE = `usage: sluice redrive <upload-id> [options]

Runs exactly what failed in an upload, without uploading it again (RedriveExecution: the same execution resumes
at the step whose failure ended it; when that is chunk delivery, its Map Run runs only the chunks that did not
succeed, with fresh task tokens, and keeps the results of those that did). The execution's FAILED, TIMED_OUT or
ABORTED status starts NotifyFailure, which writes processed/<upload-id>/failure.json; "sluice status <upload-id>"
shows the failed chunk and its error. (--dlq is gone: the chunk dead-letter queue's handler fails the task of
each chunk it receives; redriving the upload sends those chunks again.)
${STEP_FUNCTIONS_USAGE}`;

/** Options of earlier versions, refused with what replaced them. */
const RETIRED_OPTIONS = ["--dlq", "--queue-url", "--dlq-url", "--sqs-endpoint"];

const DLQ_GONE = `--dlq is gone: the chunk dead-letter queue's handler fails the task of every chunk that reaches it (CHUNK_DEAD_LETTERED), so a message moved back would carry a dead task token and its answer would be refused. Run the failed chunks again with "sluice redrive <upload-id>" (RedriveExecution sends them with fresh tokens); "sluice status <upload-id>" shows which chunk failed and why.`;

export interface RedriveSummary {
  uploadId: string;
  executionArn: string;
  redriveDate: string;
}

/** RedriveExecution for an upload's execution; returns when Step Functions accepted it. */
export async function redriveUpload(sfn: SFNClient, stateMachineArn: string, uploadId: string) {
  const executionArn = executionArnFor(stateMachineArn, uploadId);
  const { redriveDate } = await sfn.send(new RedriveExecutionCommand({ executionArn }));
  return { executionArn, redriveDate: (redriveDate ?? new Date()).toISOString() };
}

export async function runRedrive(
  argv: string[],
  say: (line: string) => void,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RedriveSummary> {
  const end = argv.indexOf("--");
  const retired = (end === -1 ? argv : argv.slice(0, end)).find((arg) =>
    RETIRED_OPTIONS.some((option) => arg === option || arg.startsWith(`${option}=`)),
  );
  if (retired) {
    const name = retired.split("=")[0];
    throw new InvalidOptionError(name === "--dlq" ? DLQ_GONE : `${name} went with --dlq. ${DLQ_GONE}`);
  }
  const { values, positionals } = parseCommandArgs(argv, STEP_FUNCTIONS_OPTIONS, REDRIVE_USAGE);
  if (positionals.length !== 1) throw new InvalidOptionError(`expected one upload id\n${REDRIVE_USAGE}`);
  const uploadId = positionals[0]!;
  const target = stepFunctionsTarget(values, REDRIVE_USAGE, env);
  const sfn = sfnClientFor(target, env);
  try {
    const result = await redriveUpload(sfn, target.stateMachineArn, uploadId).catch((error: Error) => {
      if (error.name === "ExecutionDoesNotExist" || error.name === "ExecutionNotRedrivable")
        throw new InvalidOptionError(`cannot redrive ${uploadId}: ${error.name}: ${error.message}`);
      throw error;
    });
    if (!values.json)
      say(
        `redriven: ${result.executionArn}: what failed runs again (follow it with: sluice status ${uploadId})`,
      );
    return { uploadId, ...result };
  } finally {
    sfn.destroy();
  }
}
