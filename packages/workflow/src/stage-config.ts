import { DEFAULT_CHUNK_BOUNDS, MAX_CHUNK_BYTES } from "@sluice/contract";

/**
 * Per-stage settings of the pipeline, read once at synth time. Each can be set for a deploy through an
 * environment variable (e.g. `SLUICE_MAX_CONCURRENCY=8 npx sst deploy --stage prod`); a bad value fails the
 * deploy with the variable's name.
 *
 * Why there is no heartbeat setting: Step Functions starts a task's heartbeat clock when it sends the message,
 * not when the admin server receives it, so any heartbeat shorter than the deadline would fail chunks that only
 * waited in the queue. Liveness comes from SQS instead: the consumer keeps the message it holds invisible, a dead
 * admin server's message comes back after the visibility timeout (same task token), and a chunk received
 * `maxReceiveCount` times without an answer goes to the chunk dead-letter queue, whose handler fails its task.
 */
export interface StageConfig {
  /** Chunks in flight at once: the Map's MaxConcurrency, and so the bound on messages in the queue. */
  maxConcurrency: number;
  chunkRows: number;
  chunkBytes: number;
  /**
   * How long a chunk may wait for its answer (queue time included) before its task times out: the chunk task's
   * TimeoutSeconds. The admin server may be offline this long without failing an upload.
   */
  uploadDeadlineSeconds: number;
  /**
   * The chunk queue's visibility timeout: how soon a chunk a dead admin server held is delivered again. The
   * consumer sets its own on receive and extends it while it works, so this is the fallback for other readers.
   */
  visibilityTimeoutSeconds: number;
  /** Receives of one chunk message before SQS moves it to the chunk dead-letter queue (and the chunk fails). */
  maxReceiveCount: number;
  /** Post a Slack summary for every successful upload too (failures are always alerted). */
  notifySuccess: boolean;
  /**
   * Origins (`https://admin.example.com`) whose pages may PUT a signed upload form's file straight to the bucket:
   * the bucket's CORS rule (UPLOAD_CORS_RULE). None by default: no CORS rule, browsers cannot upload.
   */
  allowedOrigins: readonly string[];
}

export const DEFAULT_STAGE_CONFIG: Readonly<StageConfig> = Object.freeze({
  maxConcurrency: 4,
  chunkRows: DEFAULT_CHUNK_BOUNDS.rows,
  chunkBytes: DEFAULT_CHUNK_BOUNDS.bytes,
  uploadDeadlineSeconds: 24 * 60 * 60,
  visibilityTimeoutSeconds: 300,
  maxReceiveCount: 5,
  notifySuccess: false,
  allowedOrigins: Object.freeze([]) as readonly string[],
});

/**
 * The bucket's CORS rule for upload forms, for the stage's allowed origins: the stack's and the local emulator's.
 * A browser PUTs the form's file with exactly the headers the URL signs (content-type, if-none-match,
 * x-amz-meta-*), so only those may be requested; content-length is set by the browser itself (a forbidden
 * header for scripts), so it is never in Access-Control-Request-Headers and needs no entry. The page reads the
 * ETag and the version id of what it wrote. No GET: the report link is a plain navigation.
 */
export const UPLOAD_CORS_RULE = Object.freeze({
  allowedMethods: Object.freeze(["PUT"] as const),
  allowedHeaders: Object.freeze(["content-type", "if-none-match", "x-amz-meta-*"]),
  exposedHeaders: Object.freeze(["ETag", "x-amz-version-id"]),
  /** How long a browser may reuse a preflight answer (Chromium caps it at 2 hours). */
  maxAgeSeconds: 3600,
});

const VARIABLES: Record<Exclude<keyof StageConfig, "notifySuccess" | "allowedOrigins">, string> = {
  maxConcurrency: "SLUICE_MAX_CONCURRENCY",
  chunkRows: "SLUICE_CHUNK_ROWS",
  chunkBytes: "SLUICE_CHUNK_BYTES",
  uploadDeadlineSeconds: "SLUICE_UPLOAD_DEADLINE_SECONDS",
  visibilityTimeoutSeconds: "SLUICE_VISIBILITY_TIMEOUT_SECONDS",
  maxReceiveCount: "SLUICE_MAX_RECEIVE_COUNT",
};

/** Settings of earlier versions: a deploy that still sets one fails and says what replaced it. */
const RETIRED: Record<string, string> = {
  SLUICE_HEARTBEAT_SECONDS:
    "chunks no longer have a heartbeat timeout (it ran while they waited in the queue); liveness comes from SQS visibility and SLUICE_MAX_RECEIVE_COUNT",
  SLUICE_CHUNK_TIMEOUT_SECONDS: "use SLUICE_UPLOAD_DEADLINE_SECONDS",
  SLUICE_CHUNK_RETRIES:
    "a chunk is no longer re-sent with a new token; SQS redelivers the same message up to SLUICE_MAX_RECEIVE_COUNT times",
};

/**
 * SQS keeps a message at most 14 days, and a dead-letter queue's retention counts from the message's first
 * enqueue: the chunk queue keeps a message a day past the deadline, the dead-letter queue the longest SQS allows.
 */
export const MAX_RETENTION_SECONDS = 14 * 24 * 60 * 60;
const DAY_SECONDS = 24 * 60 * 60;
/** Longest deadline: the chunk queue must still hold a message a day after it. */
export const MAX_UPLOAD_DEADLINE_SECONDS = MAX_RETENTION_SECONDS - DAY_SECONDS;

export function stageConfig(env: Record<string, string | undefined> = process.env): StageConfig {
  for (const [name, replacement] of Object.entries(RETIRED)) {
    if (env[name] !== undefined && env[name] !== "") {
      throw new Error(`${name} is no longer a setting: ${replacement}`);
    }
  }
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
  const origins = env.SLUICE_ALLOWED_ORIGINS;
  if (origins !== undefined && origins.trim() !== "") {
    config.allowedOrigins = origins.split(",").map((origin) => origin.trim());
  }
  return checkStageConfig(config);
}

/**
 * Whether `origin` is a browser origin exactly as a page sends it in `Origin` (lowercase host, no default port):
 * http(s), a host, an optional port, nothing else (no path, no trailing slash, no wildcard, no user info).
 */
export function isWebOrigin(origin: string): boolean {
  if (!/^https?:\/\/[^/?#@*\s]+$/i.test(origin)) return false;
  try {
    return new URL(origin).origin === origin;
  } catch {
    return false;
  }
}

/** Checks a whole config (also the local runtime's, given in code): throws naming the variable out of range. */
export function checkStageConfig(config: StageConfig): StageConfig {
  const fail = (message: string) => {
    throw new Error(`invalid stage config: ${message}`);
  };
  if (config.maxConcurrency < 1 || config.maxConcurrency > 1000)
    fail("SLUICE_MAX_CONCURRENCY must be 1..1000");
  if (config.chunkRows < 1) fail("SLUICE_CHUNK_ROWS must be at least 1");
  if (config.chunkBytes < 1024 || config.chunkBytes > MAX_CHUNK_BYTES) {
    fail(`SLUICE_CHUNK_BYTES must be 1024..${MAX_CHUNK_BYTES}`);
  }
  if (config.uploadDeadlineSeconds < 60 || config.uploadDeadlineSeconds > MAX_UPLOAD_DEADLINE_SECONDS) {
    fail(`SLUICE_UPLOAD_DEADLINE_SECONDS must be 60..${MAX_UPLOAD_DEADLINE_SECONDS}`);
  }
  // SQS allows 0..43200; under a second nothing could be processed before the message came back.
  if (config.visibilityTimeoutSeconds < 1 || config.visibilityTimeoutSeconds > 43_200)
    fail("SLUICE_VISIBILITY_TIMEOUT_SECONDS must be 1..43200");
  if (config.maxReceiveCount < 1 || config.maxReceiveCount > 1000)
    fail("SLUICE_MAX_RECEIVE_COUNT must be 1..1000");
  const bad = config.allowedOrigins.filter((origin) => !isWebOrigin(origin));
  if (bad.length > 0) {
    fail(
      `SLUICE_ALLOWED_ORIGINS must be comma-separated origins such as https://admin.example.com (scheme, host, optional port; no path or wildcard), got ${bad.map((o) => JSON.stringify(o)).join(", ")}`,
    );
  }
  return config;
}

/** The chunk queue's retention: a day past the deadline, so a waiting chunk never expires before its task does. */
export function chunkRetentionSeconds(config: Pick<StageConfig, "uploadDeadlineSeconds">): number {
  return Math.min(
    MAX_RETENTION_SECONDS,
    Math.max(4 * DAY_SECONDS, config.uploadDeadlineSeconds + DAY_SECONDS),
  );
}
