import { RedriveExecutionCommand, type SFNClient } from "@aws-sdk/client-sfn";
import { SluiceAdminError } from "./errors.ts";
import { checkUploadId, executionArnOf } from "./upload-status.ts";

export interface RedriveDeps {
  sfn: SFNClient;
  stateMachineArn: string;
  now: () => number;
}

/**
 * RedriveExecution: the upload's execution resumes at the step whose failure ended it (a failed Map Run runs
 * only the chunks that did not succeed). Not redrivable (running, succeeded, past 14 days or the redrive
 * limit) is UPLOAD_NOT_REDRIVABLE; no such execution, UPLOAD_NOT_FOUND.
 */
export async function redriveUpload(
  deps: RedriveDeps,
  uploadId: string,
): Promise<{ uploadId: string; redriveDate: string }> {
  checkUploadId(uploadId);
  const executionArn = executionArnOf(deps.stateMachineArn, uploadId);
  try {
    const { redriveDate } = await deps.sfn.send(new RedriveExecutionCommand({ executionArn }));
    return { uploadId, redriveDate: (redriveDate ?? new Date(deps.now())).toISOString() };
  } catch (error) {
    const { name, message } = error as Error;
    if (name === "ExecutionNotRedrivable")
      throw new SluiceAdminError(
        "UPLOAD_NOT_REDRIVABLE",
        `upload ${uploadId} cannot be redriven: ${message}`,
        {
          cause: error,
        },
      );
    if (name === "ExecutionDoesNotExist")
      throw new SluiceAdminError("UPLOAD_NOT_FOUND", `no upload ${JSON.stringify(uploadId)}`, {
        cause: error,
      });
    throw error;
  }
}
