/** `npm run asl`: prints the upload workflow's ASL as plain JSON (placeholder ARNs), synthesized by its construct. */
import { stageConfig } from "@sluice/workflow";
import { synthesizeWorkflowAsl } from "@sluice/workflow/cdk";

process.stdout.write(`${JSON.stringify(synthesizeWorkflowAsl(stageConfig()), null, 2)}\n`);
