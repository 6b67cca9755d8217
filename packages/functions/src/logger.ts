import { Logger } from "@aws-lambda-powertools/logger";

export type { Logger };

/** One Powertools logger per function; POWERTOOLS_LOG_LEVEL and friends still apply. */
export function createLogger(serviceName: string, options: { logLevel?: "SILENT" | "DEBUG" | "INFO" } = {}) {
  return new Logger({ serviceName, ...(options.logLevel ? { logLevel: options.logLevel } : {}) });
}

/**
 * Starts a unit of work for one upload: drops the keys of the previous one (a warm container handles many)
 * and appends the upload id to every line that follows.
 */
export function logUpload(logger: Logger, uploadId: string): void {
  logger.resetKeys();
  logger.appendKeys({ uploadId });
}
