/**
 * The admin server process: `node --import tsx examples/admin-server/src/main.ts`.
 * Configuration comes from the environment (src/config.ts); SIGTERM/SIGINT stop it gracefully: no new chunks,
 * in-flight chunks finish (or are left for SQS to redeliver after the timeout), HTTP closes, the pool ends.
 */

import { startAdminServer } from "./app.ts";
import { ConfigError, describeConfig, loadConfig } from "./config.ts";
import { log } from "./log.ts";

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(78); // EX_CONFIG
  }
  throw error;
}
log("info", "starting", { config: describeConfig(config) });

const server = await startAdminServer(config).catch((error: unknown) => {
  log("error", "start_failed", { error: String(error) });
  process.exit(1);
});

let signals = 0;
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.on(signal, () => {
    if (++signals > 1) {
      log("warn", "forced_exit", { signal });
      process.exit(130);
    }
    log("info", "shutting_down", { signal });
    const stopTimeoutMs = Number(process.env.SHUTDOWN_TIMEOUT_MS ?? 25_000);
    server.stop(stopTimeoutMs).then(
      () => {
        log("info", "stopped");
        process.exit(0);
      },
      (error: unknown) => {
        log("error", "shutdown_failed", { error: String(error) });
        process.exit(1);
      },
    );
  });
}
