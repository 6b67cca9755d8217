/**
 * Per-stage settings of the pipeline, read once at synth time. Each can be set for a deploy through an
 * environment variable (e.g. `SLUICE_MAX_CONCURRENCY=8 npx sst deploy --stage prod`); a bad value fails the
 * deploy with the variable's name.
 */
export interface StageConfig {
  /** Chunks in flight at once: the Map's MaxConcurrency, and so the bound on messages in the queue. */
  maxConcurrency: number;
  chunkRows: number;
  chunkBytes: number;
  /** The admin server must heartbeat a chunk at least this often. */
  heartbeatSeconds: number;
  /** A chunk must be answered within this time, heartbeats or not. */
  chunkTimeoutSeconds: number;
  /** Re-sends of a chunk after a heartbeat or task timeout, before the upload fails. */
  chunkRetries: number;
  /** Receives of one message before SQS moves it to the dead-letter queue. */
  maxReceiveCount: number;
  /** Post a Slack summary for every successful upload too (failures are always alerted). */
  notifySuccess: boolean;
}

export const DEFAULT_STAGE_CONFIG: Readonly<StageConfig> = Object.freeze({
  maxConcurrency: 4,
  chunkRows: 500,
  chunkBytes: 200 * 1024,
  heartbeatSeconds: 300,
  chunkTimeoutSeconds: 3600,
  chunkRetries: 2,
  maxReceiveCount: 5,
  notifySuccess: false,
});

const VARIABLES: Record<Exclude<keyof StageConfig, "notifySuccess">, string> = {
  maxConcurrency: "SLUICE_MAX_CONCURRENCY",
  chunkRows: "SLUICE_CHUNK_ROWS",
  chunkBytes: "SLUICE_CHUNK_BYTES",
  heartbeatSeconds: "SLUICE_HEARTBEAT_SECONDS",
  chunkTimeoutSeconds: "SLUICE_CHUNK_TIMEOUT_SECONDS",
  chunkRetries: "SLUICE_CHUNK_RETRIES",
  maxReceiveCount: "SLUICE_MAX_RECEIVE_COUNT",
};

/** Step Functions caps a state's input at 256 KiB; a chunk shares its message with the envelope and token. */
export const MAX_CHUNK_BYTES = 240 * 1024;

export function stageConfig(env: Record<string, string | undefined> = process.env): StageConfig {
  const config = { ...DEFAULT_STAGE_CONFIG };
  for (const key of Object.keys(VARIABLES) as (keyof typeof VARIABLES)[]) {
    const raw = env[VARIABLES[key]];
    if (raw === undefined || raw === "") continue;
    if (!/^\d+$/.test(raw))
      throw new Error(`${VARIABLES[key]} must be a whole number, got ${JSON.stringify(raw)}`);
    config[key] = Number(raw);
  }
  const notify = env.SLUICE_NOTIFY_SUCCESS;
  if (notify !== undefined && notify !== "") {
    if (notify !== "true" && notify !== "false") {
      throw new Error(`SLUICE_NOTIFY_SUCCESS must be true or false, got ${JSON.stringify(notify)}`);
    }
    config.notifySuccess = notify === "true";
  }
  const fail = (message: string) => {
    throw new Error(`invalid stage config: ${message}`);
  };
  if (config.maxConcurrency < 1 || config.maxConcurrency > 1000)
    fail("SLUICE_MAX_CONCURRENCY must be 1..1000");
  if (config.chunkRows < 1) fail("SLUICE_CHUNK_ROWS must be at least 1");
  if (config.chunkBytes < 1024 || config.chunkBytes > MAX_CHUNK_BYTES) {
    fail(`SLUICE_CHUNK_BYTES must be 1024..${MAX_CHUNK_BYTES}`);
  }
  if (config.heartbeatSeconds < 10) fail("SLUICE_HEARTBEAT_SECONDS must be at least 10");
  if (config.chunkTimeoutSeconds <= config.heartbeatSeconds) {
    fail("SLUICE_CHUNK_TIMEOUT_SECONDS must be longer than SLUICE_HEARTBEAT_SECONDS");
  }
  if (config.chunkRetries > 10) fail("SLUICE_CHUNK_RETRIES must be 0..10");
  if (config.maxReceiveCount < 1 || config.maxReceiveCount > 1000)
    fail("SLUICE_MAX_RECEIVE_COUNT must be 1..1000");
  return config;
}

/** The chunk queue's visibility timeout: longer than the heartbeat, so a live consumer's message never reappears. */
export function visibilityTimeoutSeconds(config: StageConfig): number {
  return Math.min(43_200, config.heartbeatSeconds * 2);
}
