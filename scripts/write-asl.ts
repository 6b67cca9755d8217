/**
 * `npm run asl:write`: synthesizes the workflow's ASL with the construct (default stage config) into
 * packages/workflow/src/upload-workflow-asl.generated.ts, the document the local runtime and the CLI load without
 * the CDK (a module rather than a .json file: every bundler the project uses reads it, import attributes or not).
 * packages/workflow/test/workflow-asl.test.ts fails when the file and the construct disagree.
 */
import { writeFileSync } from "node:fs";
import { DEFAULT_STAGE_CONFIG } from "@sluice/workflow";
import { synthesizeWorkflowAsl } from "@sluice/workflow/cdk";

const target = new URL("../packages/workflow/src/upload-workflow-asl.generated.ts", import.meta.url);
const asl = JSON.stringify(synthesizeWorkflowAsl(DEFAULT_STAGE_CONFIG), null, 2);
writeFileSync(
  target,
  `// Written by \`npm run asl:write\` from the construct in upload-workflow.ts; do not edit.\nexport const GENERATED_ASL = ${asl};\n`,
);
process.stdout.write(`wrote ${target.pathname}\n`);
