/** The parts that need aws-cdk-lib: the construct the stack deploys, and the ASL synthesized from it. */
export * from "./synthesize-asl.ts";
export * from "./upload-workflow.ts";
