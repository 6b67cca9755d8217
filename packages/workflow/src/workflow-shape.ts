/**
 * What the workflow is made of, without the CDK: its state names (what a person reads in the Step Functions
 * console, and how the local runtime finds each task), its Map's label, the errors its chunk task retries and the
 * EventBridge pattern of its failures. The construct (upload-workflow.ts) and the local runtime both use these.
 */
import { FailedStatusSchema } from "@sluice/contract";

/** State names: what a person reads in the Step Functions console, and how the local runtime finds each task. */
export const STATE = {
  convert: "Convert workbook",
  anyChunks: "Any chunks?",
  noChunks: "No chunks to deliver",
  deliver: "Deliver chunks",
  sendChunk: "Send chunk and wait",
  summarize: "Summarize",
  done: "Upload complete",
} as const;

/** The Distributed Map's label: Map Run ARNs and child execution names start with it. */
export const DELIVER_LABEL = "DeliverChunks";

/** The EventBridge pattern of this workflow's failed, timed-out and aborted executions: what NotifyFailure gets. */
export function failureEventPattern(stateMachineArn: string) {
  return {
    source: ["aws.states"],
    "detail-type": ["Step Functions Execution Status Change"],
    detail: { status: [...FailedStatusSchema.options], stateMachineArn: [stateMachineArn] },
  };
}

/** Errors of the SQS integration itself (the message was not sent): a retry sends it then, with a new token. */
export const SEND_ERRORS = ["SQS.SdkClientException", "SQS.AmazonSQSException"] as const;

/**
 * The error a Lambda task fails with when Lambda refuses the invocation for lack of concurrency ("When Lambda hits
 * the maximum number of invocations, the error is Lambda.TooManyRequestsException"): the workflow retries it, the
 * local runtime throws it past a function's concurrency.
 */
export const LAMBDA_THROTTLED = "Lambda.TooManyRequestsException";
