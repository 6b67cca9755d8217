/**
 * `npm run synth`: prints the Pipeline stack's CloudFormation template as JSON, synthesized offline (placeholder
 * account, stage "synth" unless `--stage NAME`), with the stage settings read from the environment as a deploy
 * would (`SLUICE_MAX_CONCURRENCY=8 npm run synth`).
 */
import { parseArgs } from "node:util";
import { synthPipelineTemplate } from "../stacks/synth-template.ts";

const { values } = parseArgs({ options: { stage: { type: "string" }, region: { type: "string" } } });
// SST and CDK talk on stdout while they build; only the template goes there.
const write = process.stdout.write.bind(process.stdout);
process.stdout.write = ((chunk: unknown, ...rest: unknown[]) =>
  process.stderr.write(chunk as string, ...(rest as []))) as typeof process.stdout.write;
const template = await synthPipelineTemplate({
  ...(values.stage ? { stage: values.stage } : {}),
  ...(values.region ? { region: values.region } : {}),
});
write(`${JSON.stringify(template, null, 2)}\n`);
