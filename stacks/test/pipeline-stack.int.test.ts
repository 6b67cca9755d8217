import { deriveUploadId } from "@sluice/core";
import {
  aslFromTemplate,
  DEFAULT_STAGE_CONFIG,
  MAX_RETENTION_SECONDS,
  PLACEHOLDER,
  SEND_ERRORS,
  STATE,
  workflowAsl,
} from "@sluice/workflow";
import { Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { TASK_CALLBACK_ACTIONS } from "../pipeline-stack.ts";
import { synthPipelineTemplate } from "../synth-template.ts";

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;
type AslState = Record<string, unknown> & { Type: string; Catch?: { ErrorEquals: string[]; Next: string }[] };

let template: Template;
let resources: Resources;

beforeAll(async () => {
  process.env.NODE_ENV = "test";
  template = Template.fromJSON(await synthPipelineTemplate({ stage: "test" }));
  resources = template.toJSON().Resources as Resources;
}, 180_000);

function logicalId(type: string, match: (props: Record<string, unknown>) => boolean): string {
  const found = Object.entries(resources).filter(([, r]) => r.Type === type && match(r.Properties ?? {}));
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0]![0];
}

type Statement = { Action: string | string[]; Resource: unknown };

function documentsOf(r: { Type: string; Properties: Record<string, unknown> }): { Statement: Statement[] }[] {
  if (r.Type === "AWS::IAM::Policy" || r.Type === "AWS::IAM::ManagedPolicy")
    return [r.Properties.PolicyDocument as { Statement: Statement[] }];
  if (r.Type === "AWS::IAM::Role")
    return (
      (r.Properties.Policies as { PolicyDocument: { Statement: Statement[] } }[] | undefined) ?? []
    ).map((p) => p.PolicyDocument);
  return [];
}

/** The logical id of a function's role. */
function roleOf(functionLogicalId: string): string {
  return (resources[functionLogicalId]!.Properties.Role as { "Fn::GetAtt": [string, string] })[
    "Fn::GetAtt"
  ][0];
}

/** Every statement of the inline policies attached to a role. */
function statementsOf(roleId: string): Statement[] {
  return Object.values(resources)
    .filter(
      (r) =>
        r.Type === "AWS::IAM::Policy" && JSON.stringify(r.Properties.Roles ?? []).includes(`"${roleId}"`),
    )
    .flatMap(documentsOf)
    .flatMap((d) => d.Statement);
}

function functionId(handlerFile: string): string {
  return logicalId("AWS::Lambda::Function", (p) => String(p.Handler ?? "").includes(handlerFile));
}

describe("Pipeline stack", () => {
  it("keeps uploads in a versioned, encrypted, private bucket", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      VersioningConfiguration: { Status: "Enabled" },
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: "AES256" } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
    });
  });

  it("starts the workflow for objects created under uploads/", () => {
    template.hasResourceProperties("Custom::S3BucketNotifications", {
      NotificationConfiguration: {
        LambdaFunctionConfigurations: [
          {
            Events: ["s3:ObjectCreated:*"],
            Filter: { Key: { FilterRules: [{ Name: "prefix", Value: "uploads/" }] } },
          },
        ],
      },
    });
    const start = resources[functionId("start")]!;
    expect(JSON.stringify((start.Properties.Environment as { Variables: unknown }).Variables)).toContain(
      "STATE_MACHINE_ARN",
    );
  });

  it("dead-letters chunks after maxReceiveCount receives, keeps waiting chunks past the deadline", () => {
    const queue = logicalId("AWS::SQS::Queue", (p) => p.RedrivePolicy !== undefined);
    const props = resources[queue]!.Properties;
    const dlq = (props.RedrivePolicy as { deadLetterTargetArn: { "Fn::GetAtt": [string, string] } })
      .deadLetterTargetArn["Fn::GetAtt"][0];
    expect(props.RedrivePolicy).toEqual({
      deadLetterTargetArn: { "Fn::GetAtt": [dlq, "Arn"] },
      maxReceiveCount: DEFAULT_STAGE_CONFIG.maxReceiveCount,
    });
    expect(props.SqsManagedSseEnabled).toBe(true);
    expect(resources[dlq]!.Properties.SqsManagedSseEnabled).toBe(true);
    expect(props.VisibilityTimeout).toBe(DEFAULT_STAGE_CONFIG.visibilityTimeoutSeconds);
    expect(props.MessageRetentionPeriod).toBeGreaterThan(DEFAULT_STAGE_CONFIG.uploadDeadlineSeconds);
    // A dead-letter queue's retention counts from the first enqueue: it must outlast the chunk queue's.
    expect(resources[dlq]!.Properties.MessageRetentionPeriod).toBe(MAX_RETENTION_SECONDS);
  });

  it("fails a dead-lettered chunk's task from a handler on the dead-letter queue", () => {
    const queue = logicalId("AWS::SQS::Queue", (p) => p.RedrivePolicy !== undefined);
    const dlq = (
      resources[queue]!.Properties.RedrivePolicy as {
        deadLetterTargetArn: { "Fn::GetAtt": [string, string] };
      }
    ).deadLetterTargetArn["Fn::GetAtt"][0];
    template.hasResourceProperties("AWS::Lambda::EventSourceMapping", {
      EventSourceArn: { "Fn::GetAtt": [dlq, "Arn"] },
      FunctionName: { Ref: functionId("chunk-dead-letter") },
      FunctionResponseTypes: ["ReportBatchItemFailures"],
    });
    const handler = resources[functionId("chunk-dead-letter")]!;
    expect(
      (handler.Properties.Environment as { Variables: Record<string, unknown> }).Variables.MAX_RECEIVE_COUNT,
    ).toBe(String(DEFAULT_STAGE_CONFIG.maxReceiveCount));
    expect(statementsOf(roleOf(functionId("chunk-dead-letter")))).toContainEqual(
      expect.objectContaining({ Action: "states:SendTaskFailure", Resource: "*" }),
    );
  });

  it("notifies failures from the execution's status change, with retries and a queue for the undeliverable", () => {
    const machine = logicalId("AWS::StepFunctions::StateMachine", () => true);
    const notify = functionId("notify-failure");
    const rule = logicalId("AWS::Events::Rule", () => true);
    const props = resources[rule]!.Properties as {
      EventPattern: unknown;
      Targets: { Arn: unknown; RetryPolicy: unknown; DeadLetterConfig: { Arn: unknown } }[];
    };
    expect(props.EventPattern).toEqual({
      source: ["aws.states"],
      "detail-type": ["Step Functions Execution Status Change"],
      detail: { status: ["FAILED", "TIMED_OUT", "ABORTED"], stateMachineArn: [{ Ref: machine }] },
    });
    expect(props.Targets).toHaveLength(1);
    expect(props.Targets[0]!.Arn).toEqual({ "Fn::GetAtt": [notify, "Arn"] });
    expect(props.Targets[0]!.RetryPolicy).toEqual({
      MaximumEventAgeInSeconds: 86400,
      MaximumRetryAttempts: 185,
    });
    // Undeliverable events and invocations that failed every retry both land in one queue a person can read.
    const failedNotifications = (
      props.Targets[0]!.DeadLetterConfig.Arn as { "Fn::GetAtt": [string, string] }
    )["Fn::GetAtt"][0];
    expect(resources[failedNotifications]!.Type).toBe("AWS::SQS::Queue");
    template.hasResourceProperties("AWS::Lambda::EventInvokeConfig", {
      FunctionName: { Ref: notify },
      MaximumRetryAttempts: 2,
      DestinationConfig: { OnFailure: { Destination: { "Fn::GetAtt": [failedNotifications, "Arn"] } } },
    });
    // What it reads to find the failure: its execution, the Map Runs, the bucket; no queue but its own.
    const statements = statementsOf(roleOf(notify));
    expect(statements.flatMap((s) => [s.Action].flat())).toEqual(
      expect.arrayContaining(["states:DescribeExecution", "states:ListMapRuns", "states:DescribeMapRun"]),
    );
    const queueStatements = statements.filter((s) => JSON.stringify(s.Action).includes("sqs:"));
    expect(queueStatements.map((s) => s.Resource)).toEqual([{ "Fn::GetAtt": [failedNotifications, "Arn"] }]);
  });

  it("reads the Slack webhook from the stage's SST secret, and may only read that parameter", () => {
    const notify = resources[functionId("notify-failure")]!;
    const variables = (notify.Properties.Environment as { Variables: Record<string, unknown> }).Variables;
    expect(variables.SLACK_WEBHOOK_PARAMETER).toBe("/sst/sluice/test/Secret/SLACK_WEBHOOK_URL/value");
    const policies = Object.values(resources).filter((r) => r.Type === "AWS::IAM::Policy");
    const ssm = policies.flatMap((p) =>
      (
        p.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }
      ).Statement.filter((s) => [s.Action].flat().includes("ssm:GetParameter")),
    );
    // notify-failure (alerts) and summarize (the optional success message), each for that one parameter.
    expect(ssm).toHaveLength(2);
    for (const statement of ssm) {
      expect(JSON.stringify(statement.Resource)).toContain(
        "parameter/sst/sluice/test/Secret/SLACK_WEBHOOK_URL/value",
      );
    }
    const summarize = resources[functionId("summarize")]!;
    expect(
      (summarize.Properties.Environment as { Variables: Record<string, unknown> }).Variables,
    ).toMatchObject({
      SLACK_NOTIFY_SUCCESS: "false",
      SLACK_WEBHOOK_PARAMETER: "/sst/sluice/test/Secret/SLACK_WEBHOOK_URL/value",
    });
  });

  it("runs every function of ours on nodejs22.x", () => {
    for (const handler of ["start", "convert", "summarize", "notify-failure", "chunk-dead-letter"]) {
      expect(resources[functionId(handler)]!.Properties.Runtime).toBe("nodejs22.x");
    }
  });

  it("deploys exactly the ASL that the local runtime executes", () => {
    const machine = logicalId("AWS::StepFunctions::StateMachine", () => true);
    expect(resources[machine]!.Properties.StateMachineType).toBe("STANDARD");
    const bucket = logicalId("AWS::S3::Bucket", (p) => p.VersioningConfiguration !== undefined);
    const queue = logicalId("AWS::SQS::Queue", (p) => p.RedrivePolicy !== undefined);
    const arn = (name: string) =>
      `arn:aws:lambda:${PLACEHOLDER.region}:${PLACEHOLDER.account}:function:${name}`;
    const refs = {
      [bucket]: PLACEHOLDER.bucket,
      [queue]: `https://sqs.${PLACEHOLDER.region}.amazonaws.com/${PLACEHOLDER.account}/${PLACEHOLDER.chunkQueue}`,
      [`${functionId("convert")}.Arn`]: arn(PLACEHOLDER.functions.convert),
      [`${functionId("summarize")}.Arn`]: arn(PLACEHOLDER.functions.summarize),
    };
    const deployed = aslFromTemplate(template.toJSON() as Parameters<typeof aslFromTemplate>[0], refs);
    expect(deployed).toEqual(workflowAsl(DEFAULT_STAGE_CONFIG));
  });

  describe("the state machine", () => {
    const asl = () =>
      aslFromTemplate(template.toJSON() as Parameters<typeof aslFromTemplate>[0]) as {
        States: Record<string, AslState>;
      };

    function allStates(states: Record<string, AslState>): [string, AslState][] {
      return Object.entries(states).flatMap(([name, state]) => {
        const nested = (state.ItemProcessor as { States: Record<string, AslState> } | undefined)?.States;
        return [[name, state] as [string, AslState], ...(nested ? allStates(nested) : [])];
      });
    }

    it("sends each chunk's pointer with a task token and waits up to the deadline, no heartbeat clock", () => {
      const deliver = asl().States[STATE.deliver]!;
      expect(deliver.MaxConcurrency).toBe(DEFAULT_STAGE_CONFIG.maxConcurrency);
      const send = (deliver.ItemProcessor as { States: Record<string, AslState> }).States[STATE.sendChunk]!;
      expect(send.Resource).toBe("arn:aws:states:::sqs:sendMessage.waitForTaskToken");
      expect(send.HeartbeatSeconds).toBeUndefined();
      expect(send.TimeoutSeconds).toBe(DEFAULT_STAGE_CONFIG.uploadDeadlineSeconds);
      // Only a send that did not happen is retried: a retry sends a new message with a new token.
      expect(send.Retry).toEqual([expect.objectContaining({ ErrorEquals: [...SEND_ERRORS] })]);
      const body = (send.Parameters as { MessageBody: Record<string, unknown> }).MessageBody;
      expect(body["taskToken.$"]).toBe("$$.Task.Token");
      expect(body["chunk.$"]).toBe("$.chunk");
      expect(deliver.ItemSelector).toMatchObject({ "chunk.$": "$$.Map.Item.Value" });
    });

    it("catches nothing, so a failed state stays redrivable (Entered without Exited)", () => {
      const states = allStates(asl().States);
      expect(states.filter(([, s]) => s.Type === "Task" || s.Type === "Map").length).toBeGreaterThanOrEqual(
        4,
      );
      expect(states.filter(([, s]) => s.Catch !== undefined).map(([name]) => name)).toEqual([]);
      expect(states.filter(([, s]) => s.Type === "Fail").map(([name]) => name)).toEqual([]);
    });

    it("writes the Map's per-chunk results to S3 as compact JSON Lines", () => {
      expect(asl().States[STATE.deliver]!.ResultWriter).toMatchObject({
        WriterConfig: { OutputType: "JSONL", Transformation: "COMPACT" },
      });
    });
  });

  it("grants no wildcard action, and a wildcard resource only to the task-token callbacks", () => {
    const statements = Object.values(resources)
      .flatMap(documentsOf)
      .flatMap((d) => d.Statement);
    const actions = statements.flatMap((s) => [s.Action].flat());
    expect(actions.length).toBeGreaterThan(10);
    expect(actions.filter((a) => a.includes("*"))).toEqual([]);
    // Actions that support no resource-level permissions (Service Authorization Reference): "*" is required.
    // The task-token callbacks, and the X-Ray writes SST adds for each function's active tracing.
    const resourceless = [...TASK_CALLBACK_ACTIONS, "xray:PutTraceSegments", "xray:PutTelemetryRecords"];
    const onEverything = statements.filter((s) => [s.Resource].flat().includes("*"));
    expect(onEverything.flatMap((s) => [s.Action].flat())).toEqual(
      expect.arrayContaining([...TASK_CALLBACK_ACTIONS]),
    );
    for (const statement of onEverything) {
      for (const action of [statement.Action].flat()) expect(resourceless).toContain(action);
    }
  });

  it("gives the admin server a least-privilege managed policy and the outputs to wire it", () => {
    const policy = logicalId("AWS::IAM::ManagedPolicy", () => true);
    const statements = (
      resources[policy]!.Properties.PolicyDocument as { Statement: { Action: string[]; Resource: unknown }[] }
    ).Statement;
    expect(statements.map((s) => [s.Action].flat().sort())).toEqual([
      ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
      ["s3:GetObject"],
      ["states:SendTaskFailure", "states:SendTaskHeartbeat", "states:SendTaskSuccess"],
    ]);
    // Chunks only: not the originals, manifests, summaries, failure records or reports.
    expect(JSON.stringify(statements[1]!.Resource)).toContain("/processed/*/chunks.jsonl");
    expect(statements[2]!.Resource).toBe("*");
    const outputs = Object.keys(template.toJSON().Outputs ?? {});
    for (const name of ["ChunkQueueUrl", "StateMachineArn", "AdminServerPolicyArn", "BucketName"]) {
      expect(outputs).toContain(name);
    }
  });

  it.each([
    "uploads/주문 내역 2026.xlsx",
    `uploads/${"very-long-name-".repeat(20)}.csv`,
    "uploads/a b+c%d.xlsx",
  ])("names each execution readably within Step Functions' rules: %s", (key) => {
    const name = deriveUploadId(key, "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY");
    expect(name).toMatch(/^[a-z0-9-]{1,80}$/);
    expect(deriveUploadId(key, "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY")).toBe(name);
  });
});
