import { DEFAULT_CHUNK_BOUNDS, MAX_CHUNK_BYTES, PROCESSED_PREFIX } from "@sluice/contract";

/**
 * Every environment variable the functions read, read once per handler at start-up. A missing or malformed
 * required variable throws here, naming it, so a misconfigured stack fails at cold start and not mid-upload.
 */
export type Env = Record<string, string | undefined>;

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CONFIG_INVALID";
  }
}

function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(`Missing required environment variable ${name}`);
  return value;
}

function optional(env: Env, name: string): string | undefined {
  const value = env[name]?.trim();
  return value ? value : undefined;
}

function integer(name: string, raw: string, min: number, max: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? `of at least ${min}` : `from ${min} to ${max}`;
    throw new ConfigError(
      `Environment variable ${name} must be an integer ${range}, got ${JSON.stringify(raw)}`,
    );
  }
  return value;
}

function positiveInt(
  env: Env,
  name: string,
  fallback: number,
  min = 1,
  max = Number.MAX_SAFE_INTEGER,
): number {
  const raw = optional(env, name);
  return raw === undefined ? fallback : integer(name, raw, min, max);
}

function processedPrefix(env: Env): string {
  return normalizePrefix(optional(env, "PROCESSED_PREFIX") ?? PROCESSED_PREFIX);
}

/** "processed" or "processed/" become "processed/"; an empty prefix stays empty (the bucket root). */
export function normalizePrefix(prefix: string): string {
  const trimmed = prefix.replace(/^\/+/, "");
  return trimmed === "" || trimmed.endsWith("/") ? trimmed : `${trimmed}/`;
}

export interface StartConfig {
  stateMachineArn: string;
}

export function loadStartConfig(env: Env = process.env): StartConfig {
  return { stateMachineArn: required(env, "STATE_MACHINE_ARN") };
}

export interface ConvertConfig {
  bucketName: string;
  processedPrefix: string;
  chunkRows: number;
  chunkBytes: number;
}

export function loadConvertConfig(env: Env = process.env): ConvertConfig {
  return {
    bucketName: required(env, "BUCKET_NAME"),
    processedPrefix: processedPrefix(env),
    chunkRows: positiveInt(env, "CHUNK_ROWS", DEFAULT_CHUNK_BOUNDS.rows),
    chunkBytes: positiveInt(env, "CHUNK_BYTES", DEFAULT_CHUNK_BOUNDS.bytes, 1024, MAX_CHUNK_BYTES),
  };
}

function flag(env: Env, name: string, fallback: boolean): boolean {
  const raw = optional(env, name)?.toLowerCase();
  if (raw === undefined) return fallback;
  if (raw !== "true" && raw !== "false") {
    throw new ConfigError(`Environment variable ${name} must be true or false, got ${JSON.stringify(raw)}`);
  }
  return raw === "true";
}

export interface SummarizeConfig {
  bucketName: string;
  processedPrefix: string;
  /** Post a Slack summary for every successful upload (SLACK_NOTIFY_SUCCESS=true). */
  notifySuccess: boolean;
  /** Named in the success message; required when notifySuccess is on. */
  stage: string | undefined;
  region: string | undefined;
  slackWebhookUrl: string | undefined;
  slackWebhookParameter: string | undefined;
  /** The function's memory (AWS_LAMBDA_FUNCTION_MEMORY_SIZE, set by Lambda), for the cost estimate. */
  summarizeMemoryMb: number | undefined;
}

export function loadSummarizeConfig(env: Env = process.env): SummarizeConfig {
  const notifySuccess = flag(env, "SLACK_NOTIFY_SUCCESS", false);
  const memory = optional(env, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
  return {
    bucketName: required(env, "BUCKET_NAME"),
    processedPrefix: processedPrefix(env),
    notifySuccess,
    stage: notifySuccess ? required(env, "STAGE") : optional(env, "STAGE"),
    region: notifySuccess ? required(env, "AWS_REGION") : optional(env, "AWS_REGION"),
    slackWebhookUrl: optional(env, "SLACK_WEBHOOK_URL"),
    slackWebhookParameter: optional(env, "SLACK_WEBHOOK_PARAMETER"),
    summarizeMemoryMb:
      memory === undefined ? undefined : integer("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory, 128, 10_240),
  };
}

export interface NotifyFailureConfig {
  /** The uploads bucket: failure.json, the Map Run's results and the rejected-rows report are under its prefix. */
  bucketName: string;
  processedPrefix: string;
  stage: string;
  region: string;
  /** A literal webhook URL (local runs, tests); wins over the parameter. */
  slackWebhookUrl: string | undefined;
  /** SSM SecureString parameter holding the webhook URL (SST v2 Config.Secret path). */
  slackWebhookParameter: string | undefined;
}

export function loadNotifyFailureConfig(env: Env = process.env): NotifyFailureConfig {
  return {
    bucketName: required(env, "BUCKET_NAME"),
    processedPrefix: processedPrefix(env),
    stage: required(env, "STAGE"),
    region: required(env, "AWS_REGION"),
    slackWebhookUrl: optional(env, "SLACK_WEBHOOK_URL"),
    slackWebhookParameter: optional(env, "SLACK_WEBHOOK_PARAMETER"),
  };
}

export interface ChunkDeadLetterConfig {
  /** The chunk queue's maxReceiveCount: how many times a dead-lettered chunk was received, named in its cause. */
  maxReceiveCount: number;
  stage: string | undefined;
}

export function loadChunkDeadLetterConfig(env: Env = process.env): ChunkDeadLetterConfig {
  return {
    maxReceiveCount: integer("MAX_RECEIVE_COUNT", required(env, "MAX_RECEIVE_COUNT"), 1, 1000),
    stage: optional(env, "STAGE"),
  };
}
