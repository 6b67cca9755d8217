/** What the admin server needs to know of a local runtime (`LocalRuntime` from @sluice/runtime has it). */
export interface LocalRuntimeEndpoints {
  emulator: {
    clientConfig: {
      region: string;
      endpoint: string;
      credentials: { accessKeyId: string; secretAccessKey: string };
    };
  };
  queueUrls: { chunks: string };
  stepFunctionsEndpoint: string;
  bucket: string;
  stateMachineArn: string;
}

/**
 * The environment that points this admin server at a local runtime: the same variables as in AWS, with the
 * emulator's endpoints. `extra` adds or overrides settings (port, concurrency, ...).
 */
export function localRuntimeEnv(
  runtime: LocalRuntimeEndpoints,
  databaseUrl: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  const { region, endpoint, credentials } = runtime.emulator.clientConfig;
  return {
    DATABASE_URL: databaseUrl,
    CHUNK_QUEUE_URL: runtime.queueUrls.chunks,
    AWS_REGION: region,
    AWS_ENDPOINT_URL_SQS: endpoint,
    AWS_ENDPOINT_URL_SFN: runtime.stepFunctionsEndpoint,
    AWS_ENDPOINT_URL_S3: endpoint,
    SLUICE_BUCKET: runtime.bucket,
    STATE_MACHINE_ARN: runtime.stateMachineArn,
    AWS_ACCESS_KEY_ID: credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
    PORT: "0",
    HOST: "127.0.0.1",
    WAIT_TIME_SECONDS: "1",
    ...extra,
  };
}
