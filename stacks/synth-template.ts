import { App, getStack } from "sst/constructs";
import { initProject } from "sst/project.js";
import { Pipeline } from "./pipeline-stack.ts";

export interface SynthOptions {
  stage?: string;
  region?: string;
  /** Any 12 digits: synthesis is offline, nothing is looked up in the account. */
  account?: string;
}

/**
 * Synthesizes the Pipeline stack the way `sst deploy` would, offline: no AWS credentials, no deployed stage.
 * SST builds each function with esbuild on the way, so a handler that does not compile fails here too.
 *
 * Offline means SST's test mode (NODE_ENV=test): everything of ours is synthesized; what SST itself adds from
 * the account's SST bootstrap (a sourcemap uploader policy per stack) needs credentials and is left out.
 */
export async function synthPipelineTemplate(options: SynthOptions = {}): Promise<Record<string, unknown>> {
  const stage = options.stage ?? "synth";
  process.env.SST_TELEMETRY_DISABLED = "1";
  process.env.NODE_ENV = "test";
  await initProject({ stage });
  const app = new App({
    mode: "deploy",
    stage,
    name: "sluice",
    region: options.region ?? "us-east-1",
    account: options.account ?? "123456789012",
  });
  app.stack(Pipeline);
  await app.finish();
  const stack = getStack(Pipeline);
  return app.synth().getStackByName(stack.stackName).template as Record<string, unknown>;
}
