import { Template } from "aws-cdk-lib/assertions";
import { App, getStack } from "sst/constructs";
import { initProject } from "sst/project.js";
import { beforeAll, describe, expect, it } from "vitest";
import { deriveUploadId } from "../../packages/core/src/upload-id.ts";
import { Pipeline } from "../pipeline-stack.ts";
import { DEFAULT_STAGE_CONFIG } from "../stage-config.ts";
import { STATE } from "../upload-workflow.ts";
import { aslFromTemplate, PLACEHOLDER, workflowAsl } from "../workflow-asl.ts";

type Resources = Record<string, { Type: string; Properties: Record<string, unknown> }>;
type AslState = Record<string, unknown> & { Type: string; Catch?: { ErrorEquals: string[]; Next: string }[] };

let template: Template;
let resources: Resources;

beforeAll(async () => {
  process.env.NODE_ENV = "test";
  process.env.SST_TELEMETRY_DISABLED = "1";
  await initProject({ stage: "test" });
  const app = new App({
    mode: "deploy",
    stage: "test",
    name: "sluice",
    region: "us-east-1",
    account: "123456789012",
  });
  app.stack(Pipeline);
  await app.finish();
  template = Template.fromStack(getStack(Pipeline));
  resources = template.toJSON().Resources as Resources;
}, 180_000);

function logicalId(type: string, match: (props: Record<string, unknown>) => boolean): string {
  const found = Object.entries(resources).filter(([, r]) => r.Type === type && match(r.Properties ?? {}));
  if (found.length !== 1) throw new Error(`expected one ${type}, found ${found.length}`);
  return found[0]![0];
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

  it("redrives chunks to an encrypted dead-letter queue, with visibility longer than the heartbeat", () => {
    const dlq = logicalId("AWS::SQS::Queue", (p) => p.RedrivePolicy === undefined);
    const queue = logicalId("AWS::SQS::Queue", (p) => p.RedrivePolicy !== undefined);
    const props = resources[queue]!.Properties;
    expect(props.RedrivePolicy).toEqual({
      deadLetterTargetArn: { "Fn::GetAtt": [dlq, "Arn"] },
      maxReceiveCount: DEFAULT_STAGE_CONFIG.maxReceiveCount,
    });
    expect(props.SqsManagedSseEnabled).toBe(true);
    expect(resources[dlq]!.Properties.SqsManagedSseEnabled).toBe(true);
    expect(props.VisibilityTimeout).toBeGreaterThan(DEFAULT_STAGE_CONFIG.heartbeatSeconds);
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
    for (const handler of ["start", "convert", "summarize", "notify-failure"]) {
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
      [`${functionId("notify-failure")}.Arn`]: arn(PLACEHOLDER.functions.notifyFailure),
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

    it("sends each chunk with a task token and waits, with heartbeat, timeout and bounded retries", () => {
      const deliver = asl().States[STATE.deliver]!;
      expect(deliver.MaxConcurrency).toBe(DEFAULT_STAGE_CONFIG.maxConcurrency);
      const send = (deliver.ItemProcessor as { States: Record<string, AslState> }).States[STATE.sendChunk]!;
      expect(send.Resource).toBe("arn:aws:states:::sqs:sendMessage.waitForTaskToken");
      expect(send.HeartbeatSeconds).toBe(DEFAULT_STAGE_CONFIG.heartbeatSeconds);
      expect(send.TimeoutSeconds).toBe(DEFAULT_STAGE_CONFIG.chunkTimeoutSeconds);
      expect(send.Retry).toEqual([
        expect.objectContaining({
          ErrorEquals: ["States.HeartbeatTimeout", "States.Timeout"],
          MaxAttempts: DEFAULT_STAGE_CONFIG.chunkRetries,
        }),
      ]);
      expect((send.Parameters as { MessageBody: Record<string, unknown> }).MessageBody["taskToken.$"]).toBe(
        "$$.Task.Token",
      );
    });

    it("catches every failure of every Task and Map", () => {
      const tasks = allStates(asl().States).filter(([, s]) => s.Type === "Task" || s.Type === "Map");
      expect(tasks.length).toBeGreaterThanOrEqual(5);
      for (const [name, state] of tasks) {
        expect(state.Catch, name).toEqual([expect.objectContaining({ ErrorEquals: ["States.ALL"] })]);
      }
      const top = asl().States;
      for (const name of [STATE.convert, STATE.deliver, STATE.summarize]) {
        expect(top[name]!.Catch![0]!.Next).toBe(STATE.notifyFailure);
      }
      expect(top[STATE.notifyFailure]!.Next).toBe(STATE.failed);
      expect(top[STATE.failed]!.Type).toBe("Fail");
    });

    it("writes the Map's per-chunk results to S3", () => {
      expect(asl().States[STATE.deliver]!.ResultWriter).toBeDefined();
    });
  });

  it("grants no wildcard action anywhere", () => {
    const actions: string[] = [];
    for (const r of Object.values(resources)) {
      const documents =
        r.Type === "AWS::IAM::Policy" || r.Type === "AWS::IAM::ManagedPolicy"
          ? [r.Properties.PolicyDocument]
          : r.Type === "AWS::IAM::Role"
            ? ((r.Properties.Policies as { PolicyDocument: unknown }[] | undefined) ?? []).map(
                (p) => p.PolicyDocument,
              )
            : [];
      for (const doc of documents) {
        for (const statement of (doc as { Statement: { Action: string | string[] }[] }).Statement) {
          actions.push(...[statement.Action].flat());
        }
      }
    }
    expect(actions.length).toBeGreaterThan(10);
    expect(actions.filter((a) => a.includes("*"))).toEqual([]);
  });

  it("gives the admin server a least-privilege managed policy and the outputs to wire it", () => {
    const policy = logicalId("AWS::IAM::ManagedPolicy", () => true);
    const statements = (
      resources[policy]!.Properties.PolicyDocument as { Statement: { Action: string[]; Resource: unknown }[] }
    ).Statement;
    expect(statements.map((s) => [s.Action].flat().sort())).toEqual([
      ["sqs:ChangeMessageVisibility", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ReceiveMessage"],
      ["states:SendTaskFailure", "states:SendTaskHeartbeat", "states:SendTaskSuccess"],
    ]);
    const machine = logicalId("AWS::StepFunctions::StateMachine", () => true);
    expect(statements[1]!.Resource).toEqual({ Ref: machine });
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
