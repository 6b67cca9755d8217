// A stand-in for convert-worker.ts in worker-lambda's tests: answers { echoed: event }, or ends its thread with
// exit code 3 when the event says { exit: true } (a sandbox whose runtime exited).
import { parentPort } from "node:worker_threads";

parentPort.on("message", ({ id, event }) => {
  if (event?.exit) process.exit(3);
  parentPort.postMessage({ id, output: { echoed: event } });
});
