import { deriveUploadId } from "@sluice/core";
import {
  aslFromTemplate,
  DEFAULT_STAGE_CONFIG,
  LAMBDA_THROTTLED,
  MAX_RETENTION_SECONDS,
  PLACEHOLDER,
  SEND_ERRORS,
  STATE,
  UPLOAD_CORS_RULE,
  workflowAsl,
} from "@sluice/workflow";
import { Match, Template } from "aws-cdk-lib/assertions";
import { beforeAll, describe, expect, it } from "vitest";
import { TASK_CALLBACK_ACTIONS } from "../pipeline-stack.ts";
import { synthPipelineTemplate } from "../synth-template.ts";

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;
type AslState = Record<string, unknown> & { Type: string; Catch?: { ErrorEquals: string[]; Next: string }[] };

let template: Template;
let resources: Resources;

/** The stage's allowed origins for this synthesis (the default, none, is checked by synth-script.int.test.ts). */
const ALLOWED_ORIGINS = ["https://admin.example.com", "http://localhost:5173"];

beforeAll(async () => {
  process.env.NODE_ENV = "test";
  process.env.SLUICE_ALLOWED_ORIGINS = ALLOWED_ORIGINS.join(",");
  try {
    template = Template.fromJSON(await synthPipelineTemplate({ stage: "test" }));
  } finally {
    delete process.env.SLUICE_ALLOWED_ORIGINS;
  }
  resources = template.toJSON().Resources as Resources;
}, 180_000);

function logicalId(type: string, match: (props: Record<string, unknown>) => boolean): string {
  const found = Object.entries(resources).filter(([, r]) => r.Type === type && match(r.Properties ?? {}));
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0]![0];
}

type Statement = { Action: string | string[]; Resource: unknown; Condition?: unknown };

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

    it("retries its Lambda tasks when Lambda throttles them, for minutes, jittered", () => {
      for (const name of [STATE.convert, STATE.summarize]) {
        expect(asl().States[name]!.Retry).toContainEqual({
          ErrorEquals: [LAMBDA_THROTTLED],
          IntervalSeconds: 2,
          MaxAttempts: 20,
          BackoffRate: 2,
          MaxDelaySeconds: 60,
          JitterStrategy: "FULL",
        });
      }
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

  describe("the admin server's managed policy: exactly what @sluice/consumer and @sluice/admin call", () => {
    const statements = () =>
      (
        resources[logicalId("AWS::IAM::ManagedPolicy", () => true)]!.Properties.PolicyDocument as {
          Statement: Statement[];
        }
      ).Statement;
    const machine = () => logicalId("AWS::StepFunctions::StateMachine", () => true);
    const bucket = () => logicalId("AWS::S3::Bucket", (p) => p.VersioningConfiguration !== undefined);
    /** The statement granting exactly these actions (one must). */
    const granting = (...actions: string[]) => {
      const found = statements().filter(
        (s) => JSON.stringify([s.Action].flat().sort()) === JSON.stringify([...actions].sort()),
      );
      expect(found, `one statement granting ${actions.join(", ")}`).toHaveLength(1);
      return found[0]!;
    };
    /** The object ARNs of a statement, as "<bucket ref>/<key pattern>". */
    const objectPatterns = (statement: Statement) =>
      [statement.Resource].flat().map((resource) => {
        const [, parts] = (resource as { "Fn::Join": [string, unknown[]] })["Fn::Join"];
        expect(parts[0]).toEqual({ "Fn::GetAtt": [bucket(), "Arn"] });
        return parts.slice(1).join("");
      });

    it("grants these statements and no other", () => {
      expect(statements().map((s) => [s.Action].flat().sort())).toEqual([
        ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:ReceiveMessage"],
        ["s3:GetObject"],
        ["states:SendTaskFailure", "states:SendTaskHeartbeat", "states:SendTaskSuccess"],
        ["s3:PutObject"],
        ["s3:GetObject"],
        ["s3:ListBucket"],
        ["states:DescribeExecution", "states:ListMapRuns", "states:RedriveExecution"],
        ["states:ListExecutions"],
        ["states:DescribeMapRun"],
      ]);
      // No wildcard action, no KMS (the bucket is SSE-S3: S3 encrypts with its own keys, no key policy to meet).
      const actions = statements().flatMap((s) => [s.Action].flat());
      expect(actions.filter((a) => a.includes("*") || a.startsWith("kms:"))).toEqual([]);
      expect(JSON.stringify(statements())).not.toContain("sqs:GetQueueAttributes");
    });

    it("consumes the chunk queue and reads chunks only, answers tokens on * (no resource types)", () => {
      const queue = logicalId("AWS::SQS::Queue", (p) => p.RedrivePolicy !== undefined);
      expect(
        granting("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility").Resource,
      ).toEqual({ "Fn::GetAtt": [queue, "Arn"] });
      expect(objectPatterns(statements()[1]!)).toEqual(["/processed/*/chunks.jsonl"]);
      expect(granting(...TASK_CALLBACK_ACTIONS).Resource).toBe("*");
    });

    it("signs upload forms: s3:PutObject under uploads/forms/ only (a presigned PUT acts as its signer)", () => {
      expect(objectPatterns(granting("s3:PutObject"))).toEqual(["/uploads/forms/*"]);
    });

    it("reads an upload's manifest, summary, failure record and rejected-rows report, nothing else", () => {
      expect(objectPatterns(statements()[4]!)).toEqual([
        "/processed/*/manifest.json",
        "/processed/*/summary.json",
        "/processed/*/failure.json",
        "/processed/*/rejected-rows.csv",
        "/processed/*/rejected-rows.xlsx",
      ]);
    });

    it("lists the bucket only under uploads/forms/", () => {
      const list = granting("s3:ListBucket");
      expect(list.Resource).toEqual({ "Fn::GetAtt": [bucket(), "Arn"] });
      expect(list.Condition).toEqual({ StringLike: { "s3:prefix": ["uploads/forms/*"] } });
    });

    it("describes, redrives and lists the Map Runs of this state machine's executions only", () => {
      const resource = JSON.stringify(
        granting("states:DescribeExecution", "states:RedriveExecution", "states:ListMapRuns").Resource,
      );
      expect(resource).toContain(":execution:");
      expect(resource).toContain(`{"Fn::GetAtt":["${machine()}","Name"]}`);
      expect(resource).toContain(":*");
    });

    it("lists this state machine's executions, and describes its Map Runs (their own ARN form)", () => {
      expect(granting("states:ListExecutions").Resource).toEqual({ Ref: machine() });
      const mapRuns = JSON.stringify(granting("states:DescribeMapRun").Resource);
      expect(mapRuns).toContain(":mapRun:");
      expect(mapRuns).toContain(`{"Fn::GetAtt":["${machine()}","Name"]},"/*"`);
    });

    it("is in the outputs to wire it", () => {
      const outputs = Object.keys(template.toJSON().Outputs ?? {});
      for (const name of ["ChunkQueueUrl", "StateMachineArn", "AdminServerPolicyArn", "BucketName"]) {
        expect(outputs).toContain(name);
      }
    });
  });

  it("lets the stage's allowed origins PUT to the bucket with the signed headers only (CORS)", () => {
    template.hasResourceProperties("AWS::S3::Bucket", {
      VersioningConfiguration: { Status: "Enabled" },
      CorsConfiguration: {
        CorsRules: [
          {
            AllowedOrigins: ALLOWED_ORIGINS,
            AllowedMethods: ["PUT"],
            AllowedHeaders: ["content-type", "if-none-match", "x-amz-meta-*"],
            ExposedHeaders: ["ETag", "x-amz-version-id"],
            MaxAge: UPLOAD_CORS_RULE.maxAgeSeconds,
          },
        ],
      },
    });
    // No GET, no wildcard origin or header anywhere.
    template.hasResourceProperties("AWS::S3::Bucket", {
      CorsConfiguration: {
        CorsRules: Match.not(Match.arrayWith([Match.objectLike({ AllowedOrigins: ["*"] })])),
      },
    });
  });

  it("lets the start function describe this state machine's executions (a form's id used twice)", () => {
    const statements = statementsOf(roleOf(functionId("start")));
    const describe = statements.filter((s) => [s.Action].flat().includes("states:DescribeExecution"));
    expect(describe).toHaveLength(1);
    expect(JSON.stringify(describe[0]!.Resource)).toContain(":execution:");
    expect(statements.flatMap((s) => [s.Action].flat()).sort()).toEqual(
      expect.arrayContaining(["states:DescribeExecution", "states:StartExecution"]),
    );
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
