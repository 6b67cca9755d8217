import { type ParseArgsConfig, parseArgs } from "node:util";

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig["options"]>;

import { SFNClient } from "@aws-sdk/client-sfn";
import { InvalidOptionError } from "@sluice/core";

/** Options every command that talks to Step Functions takes (defaults: what `sluice serve` exports). */
export const STEP_FUNCTIONS_OPTIONS = {
  "state-machine-arn": { type: "string" },
  endpoint: { type: "string" },
  region: { type: "string" },
  json: { type: "boolean" },
} as const;

export const STEP_FUNCTIONS_USAGE = `  --state-machine-arn ARN  the upload workflow (default: $SLUICE_STATE_MACHINE_ARN; the stack output StateMachineArn)
  --endpoint URL           a Step Functions endpoint, e.g. the local runtime's (default: $AWS_ENDPOINT_URL_SFN; unset: AWS)
  --region REGION          default: $AWS_REGION, else the state machine ARN's region
  --json                   print only the JSON line`;

export interface StepFunctionsTarget {
  stateMachineArn: string;
  region: string;
  endpoint?: string;
}

/** The execution ARN of an upload: the start handler names each execution after its upload id. */
export function executionArnFor(stateMachineArn: string, uploadId: string): string {
  return `${stateMachineArn.replace(":stateMachine:", ":execution:")}:${uploadId}`;
}

export function parseCommandArgs<const O extends ParseArgsOptionsConfig>(
  argv: string[],
  options: O,
  usage: string,
) {
  try {
    return parseArgs({ args: argv, allowPositionals: true, strict: true, options });
  } catch (error) {
    throw new InvalidOptionError(`${(error as Error).message}\n${usage}`);
  }
}

export function stepFunctionsTarget(
  values: { "state-machine-arn"?: string; endpoint?: string; region?: string },
  usage: string,
  env: NodeJS.ProcessEnv = process.env,
): StepFunctionsTarget {
  const stateMachineArn = values["state-machine-arn"] ?? env.SLUICE_STATE_MACHINE_ARN;
  if (!stateMachineArn || !/^arn:[^:]+:states:[^:]+:\d+:stateMachine:.+$/.test(stateMachineArn)) {
    throw new InvalidOptionError(
      `--state-machine-arn (or SLUICE_STATE_MACHINE_ARN) must be a state machine ARN, got ${JSON.stringify(stateMachineArn ?? "")}\n${usage}`,
    );
  }
  const region = values.region ?? env.AWS_REGION ?? stateMachineArn.split(":")[3]!;
  const endpoint = values.endpoint ?? env.AWS_ENDPOINT_URL_SFN;
  if (endpoint !== undefined && !/^https?:\/\//.test(endpoint))
    throw new InvalidOptionError(`--endpoint must be an http(s) URL, got ${JSON.stringify(endpoint)}`);
  return { stateMachineArn, region, ...(endpoint ? { endpoint } : {}) };
}

/** An SFNClient for the target. A custom endpoint is the local runtime, which takes any credentials. */
export function sfnClientFor(target: StepFunctionsTarget, env: NodeJS.ProcessEnv = process.env): SFNClient {
  const local = target.endpoint !== undefined && !env.AWS_ACCESS_KEY_ID && !env.AWS_PROFILE;
  return new SFNClient({
    region: target.region,
    ...(target.endpoint ? { endpoint: target.endpoint } : {}),
    ...(local ? { credentials: { accessKeyId: "local", secretAccessKey: "local" } } : {}),
  });
}
