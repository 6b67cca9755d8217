import { TENANT_PATTERN } from "@sluice/contract";

/**
 * The admin server's configuration, read once from environment variables at start. A missing or malformed
 * variable fails the start with its name, all problems at once, never later in the middle of an import.
 * The same variables work against AWS (endpoints unset: the SDK's defaults) and the local runtime
 * (`AWS_ENDPOINT_URL_SQS` / `AWS_ENDPOINT_URL_SFN` / `AWS_ENDPOINT_URL_S3` point at the emulator and the loopback Step Functions API).
 */
export interface AdminServerConfig {
  /** PostgreSQL connection string (`postgres://user:pass@host:port/db`). */
  databaseUrl: string;
  /** The chunk queue (stack output `ChunkQueueUrl`). */
  chunkQueueUrl: string;
  region: string;
  /** Set for the local runtime; unset in AWS. */
  sqsEndpoint: string | undefined;
  sfnEndpoint: string | undefined;
  /** Where chunks are fetched from (the emulator's S3 locally; unset: AWS). */
  s3Endpoint: string | undefined;
  /** HTTP port; 0 picks a free one (the chosen port is logged). */
  port: number;
  /** Address the HTTP server binds to. */
  host: string;
  /** Chunks in hand at once; also the pg pool size (one connection per chunk, plus one for HTTP). */
  concurrency: number;
  /** How often a running import heartbeats its task token and extends its message's visibility. */
  heartbeatSeconds: number;
  /** What each heartbeat extends the message's visibility to. */
  visibilityTimeoutSeconds: number;
  /** SQS long-polling wait. */
  waitTimeSeconds: number;
  /** How a timestamp without an offset (`2026-10-20T00:18:16`, what a workbook holds) is read. */
  importTimeZone: string;
  /** Test and demo knob: extra milliseconds a chunk import holds its transaction open. 0 in production. */
  importDelayMs: number;
  /**
   * Test knob: the index of a chunk (of every upload) to refuse for good (`IMPORT_REFUSED`, fails the upload
   * naming it; the redrive test). Unset in production.
   */
  importRefuseChunk: number | undefined;
  /** The upload bucket (stack output `BucketName`): where upload forms send the browser's PUT. */
  bucket: string;
  /** The upload workflow (stack output `StateMachineArn`): status, list and redrive of uploads. */
  stateMachineArn: string;
  /** The largest file an upload form is signed for (its exact size is signed; S3 refuses any other). */
  uploadMaxBytes: number;
  /** This server's tenant: its forms write under `uploads/forms/<tenant>/`; unset: no tenant segment. */
  tenant: string | undefined;
}

/** A single S3 PUT carries at most 5 GiB; a larger file would need a multipart upload, which forms do not sign. */
export const MAX_UPLOAD_BYTES = 5 * 1024 ** 3;
export const DEFAULT_UPLOAD_MAX_BYTES = 100 * 1024 ** 2;

export class ConfigError extends Error {
  readonly code = "CONFIG_INVALID";
  constructor(readonly problems: string[]) {
    super(`invalid admin server configuration:\n  ${problems.join("\n  ")}`);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;

export function loadConfig(env: Env = process.env): AdminServerConfig {
  const problems: string[] = [];
  const value = (name: string): string | undefined => {
    const raw = env[name]?.trim();
    return raw === "" ? undefined : raw;
  };
  const required = (name: string, what: string): string => {
    const raw = value(name);
    if (raw === undefined) {
      problems.push(`${name} is required (${what})`);
      return "";
    }
    return raw;
  };
  const url = (name: string, raw: string | undefined, protocols: string[]): string | undefined => {
    if (raw === undefined || raw === "") return raw;
    try {
      const parsed = new URL(raw);
      if (!protocols.includes(parsed.protocol)) {
        problems.push(`${name} must be a ${protocols.join(" or ")} URL, got ${JSON.stringify(redact(raw))}`);
      }
    } catch {
      problems.push(`${name} must be a URL, got ${JSON.stringify(redact(raw))}`);
    }
    return raw;
  };
  const number = (name: string, fallback: number, min: number, max: number, integer = true): number => {
    const raw = value(name);
    if (raw === undefined) return fallback;
    const parsed = Number(raw);
    if (!Number.isFinite(parsed) || (integer && !Number.isInteger(parsed)) || parsed < min || parsed > max) {
      problems.push(
        `${name} must be ${integer ? "an integer" : "a number"} from ${min} to ${max}, got ${JSON.stringify(raw)}`,
      );
      return fallback;
    }
    return parsed;
  };

  const databaseUrl = url(
    "DATABASE_URL",
    required("DATABASE_URL", "postgres://user:password@host:5432/database"),
    ["postgres:", "postgresql:"],
  );
  const chunkQueueUrl = url("CHUNK_QUEUE_URL", required("CHUNK_QUEUE_URL", "stack output ChunkQueueUrl"), [
    "http:",
    "https:",
  ]);
  const region = required("AWS_REGION", "e.g. ap-northeast-2");
  const sqsEndpoint = url("AWS_ENDPOINT_URL_SQS", value("AWS_ENDPOINT_URL_SQS"), ["http:", "https:"]);
  const sfnEndpoint = url("AWS_ENDPOINT_URL_SFN", value("AWS_ENDPOINT_URL_SFN"), ["http:", "https:"]);
  const s3Endpoint = url("AWS_ENDPOINT_URL_S3", value("AWS_ENDPOINT_URL_S3"), ["http:", "https:"]);
  const port = number("PORT", 3000, 0, 65535);
  const concurrency = number("CONSUMER_CONCURRENCY", 4, 1, 100);
  const heartbeatSeconds = number("HEARTBEAT_SECONDS", 30, 0.1, 3600, false);
  const visibilityTimeoutSeconds = number("VISIBILITY_TIMEOUT_SECONDS", 120, 1, 43_200);
  if (heartbeatSeconds >= visibilityTimeoutSeconds) {
    problems.push(
      `HEARTBEAT_SECONDS (${heartbeatSeconds}) must be less than VISIBILITY_TIMEOUT_SECONDS (${visibilityTimeoutSeconds})`,
    );
  }
  const bucket = required("SLUICE_BUCKET", "stack output BucketName");
  const stateMachineArn = required("STATE_MACHINE_ARN", "stack output StateMachineArn");
  if (
    stateMachineArn &&
    !/^arn:[\w-]+:states:[\w-]+:\d{12}:stateMachine:[\w-]{1,80}$/.test(stateMachineArn)
  ) {
    problems.push(`STATE_MACHINE_ARN must be a state machine ARN, got ${JSON.stringify(stateMachineArn)}`);
  }
  const uploadMaxBytes = number("UPLOAD_MAX_BYTES", DEFAULT_UPLOAD_MAX_BYTES, 1, MAX_UPLOAD_BYTES);
  const tenant = value("SLUICE_TENANT");
  if (tenant !== undefined && !TENANT_PATTERN.test(tenant)) {
    problems.push(`SLUICE_TENANT must be [a-z0-9-], 1 to 40 long, got ${JSON.stringify(tenant)}`);
  }
  const importTimeZone = value("IMPORT_TIME_ZONE") ?? "UTC";
  try {
    new Intl.DateTimeFormat("en", { timeZone: importTimeZone });
  } catch {
    problems.push(`IMPORT_TIME_ZONE must be an IANA time zone, got ${JSON.stringify(importTimeZone)}`);
  }
  const config: AdminServerConfig = {
    databaseUrl: databaseUrl ?? "",
    chunkQueueUrl: chunkQueueUrl ?? "",
    region,
    sqsEndpoint,
    sfnEndpoint,
    s3Endpoint,
    port,
    host: value("HOST") ?? "0.0.0.0",
    concurrency,
    heartbeatSeconds,
    visibilityTimeoutSeconds,
    waitTimeSeconds: number("WAIT_TIME_SECONDS", 20, 0, 20),
    importTimeZone,
    importDelayMs: number("IMPORT_DELAY_MS", 0, 0, 3_600_000),
    importRefuseChunk:
      value("IMPORT_REFUSE_CHUNK") === undefined
        ? undefined
        : number("IMPORT_REFUSE_CHUNK", 0, 0, Number.MAX_SAFE_INTEGER),
    bucket,
    stateMachineArn,
    uploadMaxBytes,
    tenant,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return config;
}

/** The configuration as it may be logged: the database password hidden. */
export function describeConfig(config: AdminServerConfig): Record<string, unknown> {
  return { ...config, databaseUrl: redact(config.databaseUrl) };
}

function redact(raw: string): string {
  try {
    const parsed = new URL(raw);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return raw.replace(/:[^:@/]*@/, ":***@");
  }
}
