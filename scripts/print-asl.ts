/** `npm run asl`: prints the upload workflow's ASL as plain JSON (placeholder ARNs), the document the local runtime runs. */
import { stageConfig } from "../stacks/stage-config.ts";
import { workflowAsl } from "../stacks/workflow-asl.ts";

process.stdout.write(`${JSON.stringify(workflowAsl(stageConfig()), null, 2)}\n`);
