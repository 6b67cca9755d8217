import { InvalidOptionError } from "@sluice/core";
import {
  parseCommandArgs,
  STEP_FUNCTIONS_OPTIONS,
  STEP_FUNCTIONS_USAGE,
  sfnClientFor,
  stepFunctionsTarget,
} from "./step-functions-options.ts";
import { describeStatus, fetchUploadStatus, type UploadStatus } from "./upload-status.ts";

export const STATUS_USAGE = `usage: sluice status <upload-id> [--state-machine-arn ARN] [--endpoint URL] [--region REGION] [--json]

Where an upload stands: totals (known once converted), chunks done, in flight and failed, rate and ETA, from
DescribeExecution, GetExecutionHistory, ListMapRuns and DescribeMapRun. The last line on stdout is JSON.
${STEP_FUNCTIONS_USAGE}`;

/** `sluice status`: human lines go to `say` (unless --json); returns the status for the JSON line. */
export async function runStatus(argv: string[], say: (line: string) => void): Promise<UploadStatus> {
  const { values, positionals } = parseCommandArgs(argv, STEP_FUNCTIONS_OPTIONS, STATUS_USAGE);
  if (positionals.length !== 1) throw new InvalidOptionError(`expected one upload id\n${STATUS_USAGE}`);
  const target = stepFunctionsTarget(values, STATUS_USAGE);
  const sfn = sfnClientFor(target);
  try {
    const status = await fetchUploadStatus(sfn, target.stateMachineArn, positionals[0]!);
    if (!values.json) for (const line of describeStatus(status)) say(line);
    return status;
  } finally {
    sfn.destroy();
  }
}
