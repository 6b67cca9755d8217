import type { StageConfig } from "./stage-config.ts";
import { GENERATED_ASL } from "./upload-workflow-asl.generated.ts";
import { STATE } from "./workflow-shape.ts";

/** Placeholder names the ASL is rendered with; the local runtime creates its bucket and queue under them. */
export const PLACEHOLDER = {
  account: "000000000000",
  region: "us-east-1",
  bucket: "sluice-uploads",
  chunkQueue: "sluice-chunks",
  functions: {
    convert: "sluice-convert",
    summarize: "sluice-summarize",
  },
} as const;

type Cfn = unknown;

/** Resolves the CloudFormation intrinsics a definition string can hold, with placeholder values. */
export function resolveIntrinsics(value: Cfn, refs: Record<string, string> = {}): Cfn {
  if (Array.isArray(value)) return value.map((v) => resolveIntrinsics(v, refs));
  if (value === null || typeof value !== "object") return value;
  const entries = Object.entries(value as Record<string, Cfn>);
  if (entries.length === 1) {
    const [key, arg] = entries[0]!;
    if (key === "Fn::Join") {
      const [separator, parts] = arg as [string, Cfn[]];
      return parts.map((p) => resolveIntrinsics(p, refs)).join(separator);
    }
    if (key === "Ref") {
      const pseudo: Record<string, string> = {
        "AWS::Partition": "aws",
        "AWS::Region": PLACEHOLDER.region,
        "AWS::AccountId": PLACEHOLDER.account,
        "AWS::URLSuffix": "amazonaws.com",
      };
      const name = arg as string;
      return pseudo[name] ?? refs[name] ?? `placeholder-${name}`;
    }
    if (key === "Fn::GetAtt") {
      const [logicalId, attribute] = arg as [string, string];
      return (
        refs[`${logicalId}.${attribute}`] ??
        `arn:aws:placeholder:${PLACEHOLDER.region}:${PLACEHOLDER.account}:${logicalId}`
      );
    }
  }
  return Object.fromEntries(entries.map(([k, v]) => [k, resolveIntrinsics(v, refs)]));
}

/** Extracts a state machine's ASL from a synthesized template, with intrinsics resolved. */
export function aslFromTemplate(
  template: { Resources: Record<string, { Type: string; Properties: Record<string, Cfn> }> },
  refs: Record<string, string> = {},
) {
  const machines = Object.values(template.Resources).filter(
    (r) => r.Type === "AWS::StepFunctions::StateMachine",
  );
  if (machines.length !== 1) throw new Error(`expected one state machine, found ${machines.length}`);
  const definition = resolveIntrinsics(machines[0]!.Properties.DefinitionString, refs);
  if (typeof definition !== "string") throw new Error("the state machine has no DefinitionString");
  return JSON.parse(definition) as Record<string, unknown>;
}

type Asl = { States: Record<string, Record<string, unknown>> } & Record<string, unknown>;

/**
 * The workflow's ASL without the CDK: the document the construct synthesizes at the default stage config
 * (upload-workflow-asl.generated.ts, written by `npm run asl:write`), with the values a stage config changes set from
 * `config`. A test holds it equal to the synthesized ASL for many configs, so the local runtime and the CLI
 * execute what the stack deploys without loading aws-cdk-lib.
 */
export function workflowAsl(config: Pick<StageConfig, "maxConcurrency" | "uploadDeadlineSeconds">): Asl {
  const asl = structuredClone(GENERATED_ASL) as unknown as Asl;
  const deliver = asl.States[STATE.deliver]!;
  deliver.MaxConcurrency = config.maxConcurrency;
  const child = (deliver.ItemProcessor as Asl).States[STATE.sendChunk]!;
  child.TimeoutSeconds = config.uploadDeadlineSeconds;
  return asl;
}
